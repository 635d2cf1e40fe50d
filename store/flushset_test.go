package store

import (
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/digby-db/digby/btree"
)

// TestFlushListModel runs random adds, drops and takes against a map
// and checks the list's invariants after each: the listed nodes are the
// members, each once and at the place it holds, live counts them, and
// the list stays within twice the members and the slack however many
// nodes leave it.
func TestFlushListModel(t *testing.T) {
	for seed := range uint64(20) {
		r := rand.New(rand.NewPCG(seed, 1))
		var l flushList
		model := map[*btree.Node]bool{}
		var all []*btree.Node
		for step := range 20_000 {
			switch k := r.IntN(100); {
			case k < 50 || len(all) == 0:
				n := &btree.Node{ID: uint64(step)}
				all = append(all, n)
				if !l.add(n) {
					t.Fatalf("seed %d step %d: add of a new node reported it present", seed, step)
				}
				model[n] = true
				if l.add(n) {
					t.Fatalf("seed %d step %d: second add of a node reported it absent", seed, step)
				}
			case k < 98:
				n := all[r.IntN(len(all))]
				if got := l.drop(n); got != model[n] {
					t.Fatalf("seed %d step %d: drop = %v, member %v", seed, step, got, model[n])
				}
				delete(model, n)
			default:
				got := l.take()
				var want []*btree.Node
				for n := range model {
					want = append(want, n)
				}
				byID := func(a, b *btree.Node) int { return int(a.ID) - int(b.ID) }
				slices.SortFunc(got, byID)
				slices.SortFunc(want, byID)
				if !slices.Equal(got, want) {
					t.Fatalf("seed %d step %d: take gave %d nodes, want %d", seed, step, len(got), len(want))
				}
				for _, n := range got {
					if n.Pos != 0 {
						t.Fatalf("seed %d step %d: node %d taken with its place", seed, step, n.ID)
					}
				}
				clear(model)
			}
			checkFlushList(t, &l, model)
		}
	}
}

func checkFlushList(t *testing.T, l *flushList, model map[*btree.Node]bool) {
	t.Helper()
	seen := map[*btree.Node]bool{}
	for i, n := range l.nodes {
		if n == nil {
			continue
		}
		if seen[n] {
			t.Fatalf("node %d listed twice", n.ID)
		}
		if int(n.Pos) != i+1 {
			t.Fatalf("node %d at index %d holds place %d", n.ID, i, n.Pos)
		}
		seen[n] = true
	}
	if len(seen) != len(model) || l.live != len(model) {
		t.Fatalf("%d marked in the list, live %d, want %d", len(seen), l.live, len(model))
	}
	for n := range model {
		if !seen[n] {
			t.Fatalf("member %d not listed", n.ID)
		}
	}
	if len(l.nodes) > 2*l.live+flushListSlack {
		t.Fatalf("list of %d for %d members", len(l.nodes), l.live)
	}
}

// TestFlushListBounded: the same few nodes committed and freed again and
// again with no flush (a durability mode that flushes on the dirty cap
// alone) keep the list bounded.
func TestFlushListBounded(t *testing.T) {
	var l flushList
	for i := range 10 * flushListSlack {
		n := &btree.Node{ID: uint64(i)}
		l.add(n)
		if i%4 != 0 {
			l.drop(n)
		}
	}
	if len(l.nodes) > 2*l.live+flushListSlack {
		t.Fatalf("list of %d for %d members", len(l.nodes), l.live)
	}
}
