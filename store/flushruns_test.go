package store

import (
	"math/rand"
	"slices"
	"testing"
)

// seq returns the n page ids from, from+1, ...
func seq(from uint64, n int) []uint64 {
	ids := make([]uint64, n)
	for i := range ids {
		ids[i] = from + uint64(i)
	}
	return ids
}

// TestRunEnds checks how a flush cuts its sorted page ids into writes
// (runEnds): the edge cases by hand, then random sets against the rules.
func TestRunEnds(t *testing.T) {
	const ps = 4096
	perRun := maxWrite / ps // pages in a run of exactly maxWrite bytes
	cases := []struct {
		name string
		ids  []uint64
		ps   int
		want []int
	}{
		{"none", nil, ps, nil},
		{"one page", []uint64{7}, ps, []int{1}},
		{"all contiguous", seq(10, 5), ps, []int{5}},
		{"every page separate", []uint64{2, 4, 6, 100}, ps, []int{1, 2, 3, 4}},
		{"exactly maxWrite", seq(3, perRun), ps, []int{perRun}},
		{"one past maxWrite", seq(3, perRun+1), ps, []int{perRun, perRun + 1}},
		{"twice maxWrite", seq(3, 2*perRun), ps, []int{perRun, 2 * perRun}},
		{"gap at the cut", append(seq(3, perRun), seq(uint64(4+perRun), 2)...), ps, []int{perRun, perRun + 2}},
		{"gap then contiguous", append([]uint64{1}, seq(5, 3)...), ps, []int{1, 4}},
		{"largest pages", seq(0, 40), 65536, []int{16, 32, 40}},
		{"pages past maxWrite", seq(0, 3), 2 * maxWrite, []int{1, 2, 3}},
	}
	for _, c := range cases {
		if got := runEnds(c.ids, c.ps, maxWrite); !slices.Equal(got, c.want) {
			t.Errorf("%s: runEnds = %v, want %v", c.name, got, c.want)
		}
	}

	rng := rand.New(rand.NewSource(1))
	for iter := 0; iter < 500; iter++ {
		var ids []uint64
		id := uint64(rng.Intn(10))
		for n := rng.Intn(2000); len(ids) < n; id++ {
			if rng.Intn(8) == 0 {
				id += uint64(1 + rng.Intn(5)) // a gap
			}
			ids = append(ids, id)
		}
		ps := 4096 << rng.Intn(5)
		checkRunEnds(t, ids, ps, runEnds(ids, ps, maxWrite))
	}
}

// checkRunEnds fails t unless ends cuts ids into runs that cover them in
// order, each of consecutive pages and at most maxWrite bytes (or one
// page), each as long as those rules let it be.
func checkRunEnds(t *testing.T, ids []uint64, ps int, ends []int) {
	t.Helper()
	if len(ids) == 0 {
		if len(ends) != 0 {
			t.Fatalf("no pages, runs ending at %v", ends)
		}
		return
	}
	if len(ends) == 0 || ends[len(ends)-1] != len(ids) {
		t.Fatalf("%d pages, runs ending at %v: not all covered", len(ids), ends)
	}
	lo := 0
	for r, hi := range ends {
		if hi <= lo {
			t.Fatalf("run %d is [%d,%d): empty or out of order", r, lo, hi)
		}
		if hi-lo > 1 && (hi-lo)*ps > maxWrite {
			t.Fatalf("run %d is %d pages of %d bytes, past maxWrite", r, hi-lo, ps)
		}
		for i := lo + 1; i < hi; i++ {
			if ids[i] != ids[i-1]+1 {
				t.Fatalf("run %d holds pages %d and %d, not consecutive", r, ids[i-1], ids[i])
			}
		}
		if hi < len(ids) && ids[hi] == ids[hi-1]+1 && (hi-lo+1)*ps <= maxWrite {
			t.Fatalf("run %d ends before page %d, which it could hold", r, ids[hi])
		}
		lo = hi
	}
}
