package store

import "testing"

// TestWorthPopulating: a long scan maps the whole file at once only for a
// file within the cache bound and a table that fills half of it or more.
func TestWorthPopulating(t *testing.T) {
	const mb = 1 << 20
	for _, c := range []struct {
		size, limit int64
		count       uint64
		perLeaf     int
		want        bool
	}{
		{200 * mb, 256 * mb, 1_000_000, 25, true},  // 40,000 of 51,200 pages
		{200 * mb, 256 * mb, 500_000, 25, false},   // 20,000 pages: under half
		{300 * mb, 256 * mb, 2_000_000, 25, false}, // past the cache bound
		{200 * mb, 256 * mb, 1_000_000, 0, false},  // no leaf seen
		{4 * mb, 256 * mb, 12_800, 25, true},       // 512 of 1,024 pages
		{4 * mb, 256 * mb, 12_799, 25, false},      // one entry short
	} {
		if got := worthPopulating(c.size, c.limit, 4096, c.count, c.perLeaf); got != c.want {
			t.Errorf("size %d, limit %d, %d entries at %d a leaf: %v, want %v", c.size, c.limit, c.count, c.perLeaf, got, c.want)
		}
	}
}
