package store

import "testing"

// TestRuntimeSettings: SetDurability and SetCacheSize refuse what they
// cannot honour, and a smaller cache bound evicts at once.
func TestRuntimeSettings(t *testing.T) {
	db, err := Open(t.TempDir(), &Options{NoWarmCache: true})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if err := db.SetDurability(Durability(7)); err == nil {
		t.Fatal("SetDurability(7) accepted")
	}
	for _, n := range []int64{0, -1} {
		if err := db.SetCacheSize(n); err == nil {
			t.Fatalf("SetCacheSize(%d) accepted", n)
		}
	}
	updateRange(t, db, 0, 20000, 1, 5000, func(tx *Tx, i int) error {
		return putString(tx, 0, []byte{byte(i >> 8), byte(i), 'k'}, make([]byte, 50))
	})
	if err := db.Flush(); err != nil { // flushed pages enter the cache
		t.Fatal(err)
	}
	if b := db.Stats().CacheBytes; b < 64<<10 {
		t.Fatalf("only %d bytes cached; the test needs more than the new bound", b)
	}
	if err := db.SetCacheSize(64 << 10); err != nil {
		t.Fatal(err)
	}
	if st := db.Stats(); st.CacheSize != 64<<10 || st.CacheBytes > 64<<10 {
		t.Fatalf("after SetCacheSize(64 KiB): bound %d, %d bytes cached", st.CacheSize, st.CacheBytes)
	}
	if err := db.SetDurability(Always); err != nil {
		t.Fatal(err)
	}
	mustCheck(t, db)
}
