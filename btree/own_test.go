package btree

import (
	"encoding/binary"
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/digby-db/digby/page"
)

// TestOwnDeadBounded checks compact's bound on a node's arenas: after
// any put, the bytes of base and own that no entry uses stay under two
// pages (dead bytes are counted each quarter page of own's growth and the
// node compacted past a quarter; between counts overwrites may kill at
// most every live byte), across chains of clones that overwrite the same
// keys with values of random sizes.
func TestOwnDeadBounded(t *testing.T) {
	const ps = 4096
	for seed := uint64(1); seed <= 4; seed++ {
		r := rand.New(rand.NewPCG(seed, 9))
		p := newMemPager(ps)
		tr := &Tree{P: p}
		for round := 0; round < 30; round++ {
			for j := 0; j < 200; j++ {
				k := []byte(fmt.Sprintf("key-%04d", r.IntN(400)))
				v := make([]byte, r.IntN(ps/4))
				if _, _, err := tr.Put(k, Value{Data: v, Version: 1}); err != nil {
					t.Fatal(err)
				}
				for _, n := range p.dirty {
					if dead := n.deadBytes(); dead > 2*ps {
						t.Fatalf("seed %d: node %d holds %d dead bytes (base %d, own %d)", seed, n.ID, dead, len(n.base), len(n.own))
					}
				}
			}
			p.commit(t)
		}
	}
}

// TestSequentialLoadNotCompacted checks that a sequential load never
// copies a leaf's live bytes before the leaf splits: every leaf of a
// load in one transaction still has the empty base it was made with.
// It also checks that split pieces do not share own: each piece's own
// holds exactly the bytes its entries use plus room to grow.
func TestSequentialLoadNotCompacted(t *testing.T) {
	p, tr := seqLoaded(t, 20000)
	v := make([]byte, 100)
	leaves := 0
	owns := map[*byte]uint64{}
	for _, n := range p.dirty {
		if !n.Leaf {
			continue
		}
		leaves++
		if len(n.base) != 0 {
			t.Fatalf("leaf %d was compacted (base of %d bytes)", n.ID, len(n.base))
		}
		if cap(n.own) == 0 {
			continue
		}
		first := &n.own[:1][0]
		if other, ok := owns[first]; ok {
			t.Fatalf("leaves %d and %d share own", other, n.ID)
		}
		owns[first] = n.ID
	}
	if leaves < 100 {
		t.Fatalf("%d leaves: the load did not split", leaves)
	}
	p.commit(t)
	for i := 0; i < 20000; i++ {
		var k [16]byte
		binary.BigEndian.PutUint64(k[8:], uint64(i))
		got, ok, err := tr.Get(k[:])
		if err != nil || !ok || len(got.Data) != len(v) {
			t.Fatalf("key %d: %v %v %d bytes", i, ok, err, len(got.Data))
		}
	}
}

// TestFilled checks which leaves are Filled: those a sequential load left
// full, not its last leaf, not leaves split in halves by random inserts,
// and never a clone.
func TestFilled(t *testing.T) {
	p, tr := seqLoaded(t, 5000)
	v := make([]byte, 100)
	filled, leaves := 0, 0
	for _, n := range p.dirty {
		if n.Leaf {
			leaves++
			if n.Filled() {
				filled++
			}
		}
	}
	if filled != leaves-1 {
		t.Fatalf("sequential load: %d of %d leaves Filled, want all but the last", filled, leaves)
	}
	p.commit(t)
	// A random load: halves, so (almost) nothing is Filled; clones of
	// the sequential leaves are not.
	r := rand.New(rand.NewPCG(5, 5))
	for i := 0; i < 5000; i++ {
		var k [16]byte
		binary.BigEndian.PutUint64(k[:], r.Uint64())
		if _, _, err := tr.Put(k[:], Value{Data: v, Version: 1}); err != nil {
			t.Fatal(err)
		}
	}
	var k0 [16]byte
	if _, _, err := tr.Put(k0[:], Value{Data: v, Version: 2}); err != nil {
		t.Fatal(err)
	}
	filled, leaves = 0, 0
	for _, n := range p.dirty {
		if n.Leaf {
			leaves++
			if n.Filled() {
				filled++
			}
		}
	}
	if filled > leaves/10 {
		t.Fatalf("random load: %d of %d leaves Filled", filled, leaves)
	}
	// A tree without MarkFilled (an expiry index) marks nothing.
	p2 := newMemPager(4096)
	plain := &Tree{P: p2}
	for i := 0; i < 5000; i++ {
		var k [16]byte
		binary.BigEndian.PutUint64(k[8:], uint64(i))
		if _, _, err := plain.Put(k[:], Value{Data: v, Version: 1}); err != nil {
			t.Fatal(err)
		}
	}
	for _, n := range p2.dirty {
		if n.Filled() {
			t.Fatalf("leaf %d Filled in a tree without MarkFilled", n.ID)
		}
	}
}

// seqLoaded is a tree (MarkFilled) of n sequential 16-byte keys with
// 100-byte values, loaded in one transaction (its nodes still dirty).
func seqLoaded(t *testing.T, n int) (*memPager, *Tree) {
	p := newMemPager(4096)
	tr := &Tree{P: p, MarkFilled: true}
	v := make([]byte, 100)
	for i := 0; i < n; i++ {
		var k [16]byte
		binary.BigEndian.PutUint64(k[8:], uint64(i))
		if _, _, err := tr.Put(k[:], Value{Data: v, Version: 1}); err != nil {
			t.Fatal(err)
		}
	}
	return p, tr
}

// TestEncodeOverrun: a leaf a few bytes too large for its page, the excess
// falling inside its last key, is an error, not a torn page sealed as
// valid (found by a reviewing helper: copy cut the key short).
func TestEncodeOverrun(t *testing.T) {
	n := &Node{ID: 5, Txn: 1, Leaf: true}
	n.insertLeaf(0, []byte("a"), Value{Data: make([]byte, 4096-page.HeaderSize-leafFixed-4-1-20)})
	n.insertLeaf(1, []byte("bbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"), Value{})
	if err := n.Encode(make([]byte, 4096), page.PlainCodec()); err == nil {
		t.Fatalf("a node of %d bytes encoded into a 4096-byte page without error", n.Size())
	}
}

// TestUpdateCompacts: Update (an EXPIRE) writes a value's record again
// each time, and compacts as a put does, so 1,000 of them on one 1,000-byte
// value leave its leaf within the dead-byte bound (found by a reviewing
// helper: before, about 1 MB).
func TestUpdateCompacts(t *testing.T) {
	p := newMemPager(4096)
	tr := &Tree{P: p}
	for i := 0; i < 3; i++ {
		if _, _, err := tr.Put([]byte{'k', byte(i)}, Value{Data: make([]byte, 1000), Version: 1}); err != nil {
			t.Fatal(err)
		}
	}
	for j := 0; j < 1000; j++ {
		if _, err := tr.Update([]byte{'k', 1}, func(v *Value) { v.ExpireAt = int64(j + 1) }); err != nil {
			t.Fatal(err)
		}
	}
	for _, n := range p.dirty {
		if dead := n.deadBytes(); dead > 2*4096 {
			t.Fatalf("leaf %d holds %d dead bytes", n.ID, dead)
		}
	}
	if v, ok, err := tr.Get([]byte{'k', 1}); err != nil || !ok || v.ExpireAt != 1000 || len(v.Data) != 1000 {
		t.Fatalf("k1 after the updates: %v %v %d %d", ok, err, v.ExpireAt, len(v.Data))
	}
}

// TestInsertGrowsOwnOnce: an insert into a node whose own has no room
// (a fresh node, or a clone sharing a full own) reallocates own once for
// the whole entry, header, value and key: a 1 KiB value is not copied
// again by a growth its header caused first.
func TestInsertGrowsOwnOnce(t *testing.T) {
	for _, v := range []Value{
		{Data: make([]byte, 1024), Version: 1},
		{Data: make([]byte, 1024), Version: 1, ExpireAt: 5},
		{Ovf: page.Ref{ID: 9, Txn: 3, Pages: 2}, Len: 9000, Version: 1},
	} {
		const runs = 50
		nodes := make([]*Node, runs+1)
		for i := range nodes {
			full := make([]byte, 100)
			nodes[i] = &Node{Leaf: true, ents: make([]ent, 0, 4), own: full[:100:100]}
		}
		i := 0
		allocs := testing.AllocsPerRun(runs, func() {
			nodes[i].insertLeaf(0, []byte("key:000123"), v)
			i++
		})
		if allocs != 1 {
			t.Errorf("value of %d bytes (expiry %d, overflow %v): %v allocations an insert, want 1", len(v.Data), v.ExpireAt, !v.Ovf.IsZero(), allocs)
		}
		n := nodes[0]
		if k, got := n.Key(0), n.Val(0); string(k) != "key:000123" || got.Len != max(v.Len, uint64(len(v.Data))) || got.ExpireAt != v.ExpireAt || got.Ovf != v.Ovf {
			t.Errorf("entry read back as %q %+v", k, got)
		}
	}
}
