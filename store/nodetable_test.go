package store

import (
	"iter"
	"math/rand/v2"
	"testing"

	"github.com/digby-db/digby/btree"
)

// TestNodeTableModel runs random sets and deletes on a nodeTable and a
// map side by side: every look-up, the count, and the iteration (in id
// order) agree, and chunks left empty are dropped, so the table holds at
// most one chunk a nodeChunkLen ids in use.
func TestNodeTableModel(t *testing.T) {
	for seed := range uint64(20) {
		r := rand.New(rand.NewPCG(seed, 7))
		var tb nodeTable
		m := map[uint64]*btree.Node{}
		span := uint64(1) << (4 + seed%16) // ids from 16 to 512k
		for range 5000 {
			id := r.Uint64N(span)
			switch r.IntN(3) {
			case 0, 1:
				n := &btree.Node{}
				n.ID = id
				tb.set(id, n)
				m[id] = n
			default:
				tb.del(id)
				delete(m, id)
			}
			probe := r.Uint64N(2 * span)
			got, ok := tb.get(probe)
			if want, wok := m[probe]; ok != wok || got != want {
				t.Fatalf("seed %d: get(%d) = %p, %v; want %p, %v", seed, probe, got, ok, want, wok)
			}
		}
		if tb.len() != len(m) {
			t.Fatalf("seed %d: len %d, want %d", seed, tb.len(), len(m))
		}
		used := map[uint64]bool{}
		last, seen := uint64(0), 0
		for id, n := range tb.all() {
			if seen > 0 && id <= last {
				t.Fatalf("seed %d: all yields %d after %d", seed, id, last)
			}
			if m[id] != n {
				t.Fatalf("seed %d: all yields %p for %d, want %p", seed, n, id, m[id])
			}
			last = id
			seen++
			used[id/nodeChunkLen] = true
		}
		if seen != len(m) {
			t.Fatalf("seed %d: all yields %d nodes, want %d", seed, seen, len(m))
		}
		chunks := 0
		for _, ch := range tb.chunks {
			if ch != nil {
				chunks++
			}
		}
		if chunks != len(used) {
			t.Fatalf("seed %d: %d chunks held for %d in use", seed, chunks, len(used))
		}
		for id := range m {
			tb.del(id)
		}
		for _, ch := range tb.chunks {
			if ch != nil {
				t.Fatalf("seed %d: a chunk is left after every node was deleted", seed)
			}
		}
		if tb.len() != 0 {
			t.Fatalf("seed %d: len %d after every node was deleted", seed, tb.len())
		}
	}
}

// all yields the table's nodes by page id, in id order (for tests: the
// writer's bookkeeping checks walk the set). The table must not change
// during the iteration.
func (t *nodeTable) all() iter.Seq2[uint64, *btree.Node] {
	return func(yield func(uint64, *btree.Node) bool) {
		for c, ch := range t.chunks {
			if ch == nil {
				continue
			}
			for i, n := range ch.nodes {
				if n != nil && !yield(uint64(c)*nodeChunkLen+uint64(i), n) {
					return
				}
			}
		}
	}
}
