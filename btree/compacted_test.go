package btree

import (
	"bytes"
	"fmt"
	"testing"

	"github.com/digby-db/digby/page"
)

// TestCompacted checks that a node's compacted copy encodes to the same page
// and holds less memory, for leaves and branches that went through many
// in-place changes (replaced values pile up in their arenas).
func TestCompacted(t *testing.T) {
	p := newMemPager(4096)
	tr := &Tree{P: p}
	for i := 0; i < 3000; i++ {
		if _, _, err := tr.Put([]byte(fmt.Sprintf("key-%05d", i*7%3000)), Value{Data: []byte("v"), Version: 1}); err != nil {
			t.Fatal(err)
		}
	}
	p.commit(t)
	for round := 0; round < 4; round++ {
		for i := 0; i < 3000; i += 3 {
			v := bytes.Repeat([]byte{byte(round)}, 1+(i+round*13)%40)
			if _, _, err := tr.Put([]byte(fmt.Sprintf("key-%05d", i)), Value{Data: v, Version: uint64(round + 2), ExpireAt: int64(round * i)}); err != nil {
				t.Fatal(err)
			}
		}
	}
	leaves, branches, saved := 0, 0, int64(0)
	for _, n := range p.dirty {
		c := n.Compacted()
		want, got := make([]byte, 4096), make([]byte, 4096)
		if err := n.Encode(want, page.PlainCodec()); err != nil {
			t.Fatal(err)
		}
		if err := c.Encode(got, page.PlainCodec()); err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(want, got) {
			t.Fatalf("node %d: compacted copy encodes differently", n.ID)
		}
		if !oneBlock(c) {
			t.Fatalf("node %d: compacted copy's entries and bytes are not one block", n.ID)
		}
		if c.MemSize() != n.CompactedSize() {
			t.Fatalf("node %d: compacted copy holds %d bytes, CompactedSize says %d", n.ID, c.MemSize(), n.CompactedSize())
		}
		if c.MemSize() > n.MemSize() {
			t.Fatalf("node %d: compacted copy holds %d bytes, the node %d", n.ID, c.MemSize(), n.MemSize())
		}
		saved += n.MemSize() - c.MemSize()
		if n.Leaf {
			leaves++
		} else {
			branches++
		}
	}
	if leaves == 0 || branches == 0 || saved == 0 {
		t.Fatalf("%d leaves, %d branches, %d bytes saved: the test exercises nothing", leaves, branches, saved)
	}
	// The copy is a node like any other: the tree reads and changes it.
	for id, n := range p.dirty {
		p.dirty[id] = n.Compacted()
	}
	for i := 0; i < 3000; i += 2 {
		if _, _, err := tr.Put([]byte(fmt.Sprintf("key-%05d", i)), Value{Data: []byte("after"), Version: 9}); err != nil {
			t.Fatal(err)
		}
	}
	for i := 0; i < 3000; i++ {
		v, ok, err := tr.Get([]byte(fmt.Sprintf("key-%05d", i)))
		if err != nil || !ok {
			t.Fatalf("key %d: %v %v", i, ok, err)
		}
		want := "v"
		switch {
		case i%2 == 0:
			want = "after"
		case i%3 == 0:
			want = string(bytes.Repeat([]byte{3}, 1+(i+3*13)%40))
		}
		if string(v.Data) != want {
			t.Fatalf("key %d = %q, want %q", i, v.Data, want)
		}
	}
}
