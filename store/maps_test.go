package store

import "testing"

// TestEmptied: a map that held at most keep entries comes back empty and
// the same (its room reused); one that held more comes back as a new,
// empty map, so that later reuse does not pay its peak size.
func TestEmptied(t *testing.T) {
	small := map[int]int{1: 1, 2: 2}
	if got := emptied(small, 2); len(got) != 0 || len(small) != 0 {
		t.Fatalf("a map within keep: %v, want the same map emptied", got)
	} else if got[3] = 3; small[3] != 3 {
		t.Fatal("a map within keep: a new map came back, want the same")
	}
	big := map[int]int{1: 1, 2: 2, 3: 3}
	got := emptied(big, 2)
	if len(got) != 0 {
		t.Fatalf("a map past keep: %v, want an empty map", got)
	}
	if got[4] = 4; big[4] == 4 {
		t.Fatal("a map past keep came back itself, want a new map")
	}
	if got := emptied[int, int](nil, 2); got == nil {
		t.Fatal("nil: want a map to use")
	}
}
