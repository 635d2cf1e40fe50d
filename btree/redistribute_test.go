package btree

import (
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/digby-db/digby/page"
)

// TestShareFill: random inserts leave leaves about 80% full, where
// splitting alone leaves them about two thirds full (sharing with a
// sibling first, redistribute.go); the tree stays in order and every key
// is found. The walk checks the keys of every page ascend (a branch's key
// 0 included) and each separator against its child's keys.
func TestShareFill(t *testing.T) {
	const n = 20000
	p := newMemPager(4096)
	tr := &Tree{P: p}
	r := rand.New(rand.NewPCG(3, 4))
	val := make([]byte, 100)
	for i, k := range r.Perm(n) {
		if _, _, err := tr.Put([]byte(fmt.Sprintf("key:%012d", k)), Value{Data: val, Version: uint64(i)}); err != nil {
			t.Fatal(err)
		}
		if i%100 == 99 {
			p.commit(t)
		}
	}
	p.commit(t)
	// Delete the smallest quarter, then insert keys below every other:
	// they all go to the first child at each level, whose separator
	// (key 0, only a lower bound) is now above them, and that child
	// shares entries to its right.
	for k := 0; k < n/4; k++ {
		if _, _, err := tr.Delete([]byte(fmt.Sprintf("key:%012d", k))); err != nil {
			t.Fatal(err)
		}
	}
	for k := n/4 - 1; k >= 0; k-- {
		if _, _, err := tr.Put([]byte(fmt.Sprintf("key:%012d", k)), Value{Data: val}); err != nil {
			t.Fatal(err)
		}
		if k%100 == 99 {
			p.commit(t)
		}
	}
	p.commit(t)
	var leaves, bytes int
	var walk func(ref page.Ref, lo []byte)
	walk = func(ref page.Ref, lo []byte) {
		nd, err := p.Node(ref)
		if err != nil {
			t.Fatal(err)
		}
		if lo != nil && string(nd.Key(0)) < string(lo) {
			t.Fatalf("page %d starts at %q, below its separator %q", nd.ID, nd.Key(0), lo)
		}
		for i := 1; i < nd.Len(); i++ {
			if string(nd.Key(i-1)) >= string(nd.Key(i)) {
				t.Fatalf("page %d: keys out of order at entry %d", nd.ID, i)
			}
		}
		if nd.Leaf {
			leaves++
			bytes += nd.Size()
			return
		}
		for i := 0; i < nd.Len(); i++ {
			sep := nd.Key(i)
			if i == 0 {
				sep = lo // key 0 is only a lower bound
			}
			walk(nd.Kid(i), sep)
		}
	}
	walk(tr.Root, nil)
	fill := float64(bytes) / float64(leaves*4096)
	t.Logf("%d keys in %d leaves, %.0f%% full", n, leaves, fill*100)
	if fill < 0.75 {
		t.Fatalf("leaves %.0f%% full after random inserts, want at least 75%%", fill*100)
	}
	for k := 0; k < n; k++ {
		if _, ok, err := tr.Get([]byte(fmt.Sprintf("key:%012d", k))); err != nil || !ok {
			t.Fatalf("key %d: found %v, %v", k, ok, err)
		}
	}
}

// TestShareFirstChild: a branch's key 0 is only a lower bound and may lie
// above keys its first child holds (keys inserted below every separator go
// there without changing it). When that child shares its largest entries to
// the right, they may sort below key 0: the separators must stay in order.
func TestShareFirstChild(t *testing.T) {
	p := newMemPager(4096)
	tr := &Tree{P: p}
	r := rand.New(rand.NewPCG(5, 6))
	val := make([]byte, 100)
	put := func(k string) {
		t.Helper()
		if _, _, err := tr.Put([]byte(k), Value{Data: val}); err != nil {
			t.Fatal(err)
		}
	}
	for k := 0; k < 300; k++ {
		put(fmt.Sprintf("k%04d", k))
	}
	p.commit(t)
	for _, k := range r.Perm(300)[:225] { // leaves a quarter full: room to share
		if _, _, err := tr.Delete([]byte(fmt.Sprintf("k%04d", k))); err != nil {
			t.Fatal(err)
		}
	}
	p.commit(t)
	var walk func(ref page.Ref)
	walk = func(ref page.Ref) {
		nd, err := p.Node(ref)
		if err != nil {
			t.Fatal(err)
		}
		for i := 1; i < nd.Len(); i++ {
			if string(nd.Key(i-1)) >= string(nd.Key(i)) {
				t.Fatalf("page %d: keys out of order at entry %d: %q, %q", nd.ID, i, nd.Key(i-1), nd.Key(i))
			}
		}
		if !nd.Leaf {
			for i := 0; i < nd.Len(); i++ {
				walk(nd.Kid(i))
			}
		}
	}
	for _, k := range r.Perm(200) { // all below key 0
		put(fmt.Sprintf("a%04d", k))
		p.commit(t)
		walk(tr.Root)
	}
}
