package store

import "testing"

// TestDirtyCapDefault: DirtyCap 0 stands for 256 MiB (a 64 MiB cap forced
// flushes twice a second under random writes to a large tree,
// docs/benchmarks-server.md, stop 28); a cap given is kept.
func TestDirtyCapDefault(t *testing.T) {
	for _, tc := range []struct{ set, want int64 }{{0, 256 << 20}, {1 << 20, 1 << 20}} {
		db := openTemp(t, &Options{DirtyCap: tc.set, NoWarmCache: true})
		if got := db.Stats().DirtyCap; got != tc.want {
			t.Fatalf("DirtyCap %d: in effect %d, want %d", tc.set, got, tc.want)
		}
	}
}
