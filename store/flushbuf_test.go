package store

import "testing"

// TestKeepFlushBuf: a flush's page array is kept up to 16 MiB whatever was
// used of it, and up to twice the dirty cap while a flush fills a quarter.
func TestKeepFlushBuf(t *testing.T) {
	const mb = 1 << 20
	for _, c := range []struct {
		n, c int
		want bool
	}{
		{0, 16 * mb, true},          // small: always
		{45 * mb, 48 * mb, true},    // a busy writer's
		{12 * mb, 48 * mb, true},    // a quarter
		{11 * mb, 48 * mb, false},   // an idle writer's flush: let go
		{129 * mb, 129 * mb, false}, // past twice the 64 MiB cap
		{128 * mb, 128 * mb, true},  // at it
	} {
		if got := keepFlushBuf(c.n, c.c, 64*mb); got != c.want {
			t.Errorf("keepFlushBuf(%d, %d): %v, want %v", c.n, c.c, got, c.want)
		}
	}
}
