package btree

import (
	"bytes"
	"encoding/binary"
	"math/rand/v2"
	"testing"

	"github.com/digby-db/digby/page"
)

// TestSepKey: the separator of two leaves is the smallest of the shortest
// keys above the left one's last key and at most the right one's first.
func TestSepKey(t *testing.T) {
	leaf := func(keys ...string) *Node {
		n := &Node{Leaf: true}
		for i, k := range keys {
			n.insertLeaf(i, []byte(k), Value{Data: []byte("v")})
		}
		return n
	}
	for _, c := range []struct{ l, r, want string }{
		{"apple", "banana", "b"},
		{"abc", "abd", "abd"},
		{"abc", "abcd", "abcd"},
		{"ab", "abzzz", "abz"},
		{"", "a", "a"},
		{"a\xff", "b\x00", "b"},
		{"a", "c", "b"}, // just above the left key, not a prefix of the right
		{"ax", "cy", "b"},
	} {
		if got := sepKey(leaf("0", c.l), leaf(c.r, "zzzz")); string(got) != c.want {
			t.Errorf("sepKey(%q, %q) = %q, want %q", c.l, c.r, got, c.want)
		}
	}
	br := &Node{}
	br.insertKid(0, []byte("key0"), page.Ref{ID: 2, Txn: 1, Pages: 1})
	if got := sepKey(leaf("a"), br); string(got) != "key0" {
		t.Errorf("sepKey with a branch = %q, want the branch's key 0", got)
	}
}

// TestSeparatorsBound: after random inserts (splits and shares) and
// deletes, every branch's separators bound its children's keys exactly as
// full keys would (keys of child i in [sep i, sep i+1)), and with random
// 16-byte keys they are a few bytes long, not 16.
func TestSeparatorsBound(t *testing.T) {
	p := newMemPager(4096)
	tr := &Tree{P: p}
	r := rand.New(rand.NewPCG(8, 8))
	var keys [][]byte
	for i := 0; i < 30000; i++ {
		k := binary.BigEndian.AppendUint64(binary.BigEndian.AppendUint64(nil, r.Uint64()), r.Uint64())
		keys = append(keys, k)
		if _, _, err := tr.Put(k, Value{Data: make([]byte, 20), Version: 1}); err != nil {
			t.Fatal(err)
		}
		if i%5000 == 4999 {
			p.commit(t)
		}
	}
	for _, k := range keys[:10000] {
		if _, _, err := tr.Delete(k); err != nil {
			t.Fatal(err)
		}
	}
	p.commit(t)
	seps, sepBytes := 0, 0
	var walk func(ref page.Ref, lo, hi []byte)
	walk = func(ref page.Ref, lo, hi []byte) {
		n, err := p.Node(ref)
		if err != nil {
			t.Fatal(err)
		}
		if n.Leaf {
			for i := 0; i < n.Len(); i++ {
				k := n.Key(i)
				if (lo != nil && bytes.Compare(k, lo) < 0) || (hi != nil && bytes.Compare(k, hi) >= 0) {
					t.Fatalf("leaf %d key %x outside [%x, %x)", n.ID, k, lo, hi)
				}
			}
			return
		}
		for i := 0; i < n.Len(); i++ {
			clo, chi := lo, hi
			if i > 0 {
				clo = n.Key(i)
				seps++
				sepBytes += len(clo)
			}
			if i+1 < n.Len() {
				chi = n.Key(i + 1)
			}
			walk(n.Kid(i), clo, chi)
		}
	}
	walk(tr.Root, nil, nil)
	for _, k := range keys[10000:] {
		if _, ok, err := tr.Get(k); err != nil || !ok {
			t.Fatalf("key %x: %v %v", k, ok, err)
		}
	}
	if seps == 0 || sepBytes > 5*seps {
		t.Fatalf("%d separators of %d bytes in all: not truncated", seps, sepBytes)
	}
}
