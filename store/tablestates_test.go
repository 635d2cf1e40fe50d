package store

import (
	"maps"
	"math/rand/v2"
	"testing"
)

// TestTableStatesModel runs random sets, look-ups, savepoint-style copies
// (and copies back) and resets on a tableStates and a map side by side,
// across the size where it starts indexing: every look-up agrees, its
// entries are the map's, each table once, and a reset keeps no array
// past its bound.
func TestTableStatesModel(t *testing.T) {
	for seed := range uint64(20) {
		r := rand.New(rand.NewPCG(seed, 11))
		var ts, saved tableStates
		m, savedM := map[uint32]tableState{}, map[uint32]tableState{}
		tables := uint32(2) << (seed % 6) // 2 to 64 table numbers
		for range 3000 {
			switch op := r.IntN(20); {
			case op < 12:
				n := r.Uint32N(tables)
				s := tableState{count: r.Uint64(), expires: uint64(op)}
				ts.set(n, s)
				m[n] = s
			case op < 15:
				saved.copyFrom(&ts)
				savedM = maps.Clone(m)
			case op < 18:
				ts.copyFrom(&saved)
				m = maps.Clone(savedM)
			case op < 19:
				keep := r.IntN(2 * tableStatesIndexed)
				ts.reset(keep)
				if cap(ts.ents) > keep {
					t.Fatalf("seed %d: reset(%d) kept an array of %d", seed, keep, cap(ts.ents))
				}
				m = map[uint32]tableState{}
			default:
				saved.reset(4)
				savedM = map[uint32]tableState{}
			}
			n := r.Uint32N(2 * tables)
			got, ok := ts.get(n)
			if want, wok := m[n]; ok != wok || got != want {
				t.Fatalf("seed %d: get(%d) = %v, %v; want %v, %v", seed, n, got, ok, want, wok)
			}
		}
		if len(ts.ents) != len(m) {
			t.Fatalf("seed %d: %d entries, want %d", seed, len(ts.ents), len(m))
		}
		for _, e := range ts.ents {
			if want, ok := m[e.n]; !ok || want != e.s {
				t.Fatalf("seed %d: entry %d = %v, want %v (held: %v)", seed, e.n, e.s, want, ok)
			}
		}
	}
}
