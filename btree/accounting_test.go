package btree

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/digby-db/digby/page"
)

// checkAccounting checks that usedBytes counts what the arenas hold for
// every form a node takes: as written (own), compacted (pack), decoded.
func checkAccounting(t *testing.T, n *Node, ps int, form string) {
	t.Helper()
	used := n.usedBytes(false)
	want := n.Size() - page.HeaderSize
	if !n.Leaf {
		want -= branchFixed * n.Len()
	}
	if used != want {
		t.Fatalf("%s node %d (leaf %v): usedBytes %d, entries' page bytes %d", form, n.ID, n.Leaf, used, want)
	}
	if d := n.deadBytes(); d < 0 {
		t.Fatalf("%s node %d: deadBytes %d", form, n.ID, d)
	}
	if own := n.usedBytes(true); own > len(n.own) {
		t.Fatalf("%s node %d: usedBytes(own) %d > len(own) %d", form, n.ID, own, len(n.own))
	}
	c := n.Compacted()
	if len(c.base) != used || cap(c.base) != used || len(c.own) != 0 {
		t.Fatalf("%s node %d: Compacted base %d/%d, used %d", form, n.ID, len(c.base), cap(c.base), used)
	}
	if c.MemSize() != n.CompactedSize() {
		t.Fatalf("%s node %d: Compacted MemSize %d, CompactedSize %d", form, n.ID, c.MemSize(), n.CompactedSize())
	}
	if c.deadBytes() != 0 {
		t.Fatalf("%s node %d: Compacted holds %d dead bytes", form, n.ID, c.deadBytes())
	}
	buf := make([]byte, ps)
	if err := n.Encode(buf, page.PlainCodec()); err != nil {
		t.Fatal(err)
	}
	d, err := openDecode(buf, n.Ref(), ps)
	if err != nil {
		t.Fatal(err)
	}
	wantDead := page.HeaderSize // a leaf's entries are all arena bytes
	if !n.Leaf {
		wantDead += branchFixed * n.Len() // a branch's child refs are not
	}
	if d.usedBytes(false) != used || d.deadBytes() != wantDead {
		t.Fatalf("%s node %d decoded: used %d (want %d), dead %d (want %d)", form, n.ID, d.usedBytes(false), used, d.deadBytes(), wantDead)
	}
}

// TestAccounting: under random puts, expiry changes and deletes, with nodes
// kept across commits in every form, usedBytes counts exactly the arena
// bytes a leaf's entries use (its encoded size less the header), dead bytes
// are never negative, and a compacted copy holds no dead byte.
func TestAccounting(t *testing.T) {
	for _, ps := range []int{4096, 16384} {
		for seed := uint64(1); seed <= 6; seed++ {
			t.Run(fmt.Sprintf("ps%d/seed%d", ps, seed), func(t *testing.T) {
				r := rand.New(rand.NewPCG(seed, 77))
				p := newKeepPager(ps, r)
				tr := &Tree{P: p}
				for op := 0; op < 5000; op++ {
					k := fmt.Appendf(nil, "key:%06d", r.IntN(2000))
					switch x := r.IntN(10); {
					case x < 6:
						v := Value{Version: uint64(op), Data: bytes.Repeat([]byte{1}, r.IntN(60))}
						if r.IntN(40) == 0 {
							v.Data = make([]byte, ps)
						}
						if r.IntN(3) == 0 {
							v.ExpireAt = 5
						}
						if _, _, err := tr.Put(k, v); err != nil {
							t.Fatal(err)
						}
					case x < 8:
						if _, err := tr.Update(k, func(v *Value) { v.ExpireAt = int64(r.IntN(2)) }); err != nil {
							t.Fatal(err)
						}
					default:
						if _, _, err := tr.Delete(k); err != nil {
							t.Fatal(err)
						}
					}
					if r.IntN(40) == 0 {
						for _, n := range p.dirty {
							checkAccounting(t, n, ps, "dirty")
						}
						for _, n := range p.kept {
							checkAccounting(t, n, ps, "kept")
						}
						p.commit(t)
					}
				}
			})
		}
	}
}
