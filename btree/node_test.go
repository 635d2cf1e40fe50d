package btree

import (
	"bytes"
	"encoding/binary"
	"testing"
	"unsafe"

	"github.com/digby-db/digby/page"
)

// TestDecodeLeafInto: decoding leaves one after another into one node
// (a new one where its entry array is too small) gives what Decode gives,
// also right after a decode into it that failed part-way through (the
// node left behind may be passed again), and a branch page is never
// decoded into it.
func TestDecodeLeafInto(t *testing.T) {
	mp, _ := committedTree(t, 3000)
	type opened struct {
		buf []byte
		h   page.Header
	}
	var leaves, branches []opened
	for id, raw := range mp.pages {
		b, h, err := page.PlainCodec().Open(bytes.Clone(raw), id, 0, 0, mp.ps)
		if err != nil {
			t.Fatal(err)
		}
		if h.Type == page.TypeLeaf {
			leaves = append(leaves, opened{b, h})
		} else {
			branches = append(branches, opened{b, h})
		}
	}
	if len(leaves) < 3 || len(branches) == 0 {
		t.Fatalf("%d leaves, %d branches: too few for the test", len(leaves), len(branches))
	}
	same := func(a, b *Node) bool {
		if a.ID != b.ID || a.Txn != b.Txn || a.Leaf != b.Leaf || a.Len() != b.Len() {
			return false
		}
		for i := 0; i < a.Len(); i++ {
			if !bytes.Equal(a.Key(i), b.Key(i)) || !bytes.Equal(a.Val(i).Data, b.Val(i).Data) {
				return false
			}
		}
		return true
	}
	var into *Node
	failed := 0
	for _, l := range leaves {
		fits := into != nil && int(l.h.Count) <= cap(into.ents)
		if fits {
			// The same leaf with its middle entry's key length running
			// past the page: the decode into into fails part-way.
			good, _ := Decode(l.buf, l.h)
			off := page.HeaderSize
			for i := 0; i < good.Len()/2; i++ {
				off += good.entrySize(i)
			}
			bad := bytes.Clone(l.buf)
			binary.LittleEndian.PutUint16(bad[off:], 0xffff)
			if _, err := DecodeLeafInto(into, bad, l.h); err == nil {
				t.Fatalf("leaf %d with a damaged entry decoded", l.h.ID)
			}
			failed++
		}
		n, err := DecodeLeafInto(into, l.buf, l.h)
		if err != nil {
			t.Fatal(err)
		}
		want, _ := Decode(l.buf, l.h)
		if fits != (n == into) {
			t.Fatalf("leaf %d: decoded into the node passed %v, its entries fit it %v", l.h.ID, n == into, fits)
		}
		if !same(n, want) {
			t.Fatalf("leaf %d decoded into a reused node differs from Decode's", l.h.ID)
		}
		into = n
	}
	if failed == 0 {
		t.Fatal("no decode failed part-way: the test did not run its case")
	}
	b := branches[0]
	n, err := DecodeLeafInto(into, b.buf, b.h)
	if err != nil || n == into || n.Leaf {
		t.Fatalf("branch page %d: %v, decoded into the leaf node %v", b.h.ID, err, n == into)
	}
}

// TestDecodeCopy: a node DecodeCopy makes holds what Decode's holds, keeps
// nothing of the buffer it was decoded from (overwritten afterwards), and
// is not changed by an insert into a clone of it; its entries and bytes
// are one block.
func TestDecodeCopy(t *testing.T) {
	mp, _ := committedTree(t, 3000)
	for id, raw := range mp.pages {
		b, h, err := page.PlainCodec().Open(bytes.Clone(raw), id, 0, 0, mp.ps)
		if err != nil {
			t.Fatal(err)
		}
		want, err := Decode(bytes.Clone(b), h)
		if err != nil {
			t.Fatal(err)
		}
		n, err := DecodeCopy(b, h)
		if err != nil {
			t.Fatal(err)
		}
		clear(b)
		if !oneBlock(n) {
			t.Fatalf("page %d: copy's entries and bytes are not one block", id)
		}
		if n.ID != want.ID || n.Txn != want.Txn || n.Leaf != want.Leaf || n.Len() != want.Len() {
			t.Fatalf("page %d: copy is %d/%d/%v/%d entries, want %d/%d/%v/%d", id, n.ID, n.Txn, n.Leaf, n.Len(), want.ID, want.Txn, want.Leaf, want.Len())
		}
		for i := 0; i < n.Len(); i++ {
			if !bytes.Equal(n.Key(i), want.Key(i)) || (n.Leaf && !bytes.Equal(n.Val(i).Data, want.Val(i).Data)) {
				t.Fatalf("page %d entry %d differs from Decode's", id, i)
			}
		}
		if n.Leaf {
			c := n.Clone()
			k := append(bytes.Clone(n.Key(0)), 0) // sorts right after key 0
			c.insertLeaf(1, k, Value{Type: 1, Data: []byte("new")})
			if n.Len() != want.Len() || (n.Len() > 1 && !bytes.Equal(n.Key(1), want.Key(1))) {
				t.Fatalf("page %d: an insert into a clone changed the copy", id)
			}
		}
	}
}

// oneBlock reports whether n's bytes (base) follow its entries in memory,
// as entsAndBytes lays out a node meant for the cache.
func oneBlock(n *Node) bool {
	if len(n.ents) == 0 || len(n.base) == 0 {
		return true
	}
	end := uintptr(unsafe.Pointer(unsafe.SliceData(n.ents))) + uintptr(len(n.ents))*unsafe.Sizeof(ent{})
	return uintptr(unsafe.Pointer(unsafe.SliceData(n.base))) == end
}
