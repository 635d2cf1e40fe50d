package store

import (
	"bytes"
	"encoding/binary"
	"testing"
)

// TestSequentialLoadNotCached checks that the leaves a sequential load
// leaves full are written but not kept in the page cache (btree's
// Filled), and that every key reads back through the file afterwards,
// where the misses fill the cache.
func TestSequentialLoadNotCached(t *testing.T) {
	db, err := Open(t.TempDir(), &Options{Durability: Always, NoWarmCache: true})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	const n = 60_000
	key := func(i int) []byte { return binary.BigEndian.AppendUint64(make([]byte, 8, 16), uint64(i)) }
	val := func(i int) []byte { return bytes.Repeat([]byte{byte(i)}, 100) }
	updateRange(t, db, 0, n, 1, 1000, func(tx *Tx, i int) error { return putString(tx, 0, key(i), val(i)) })
	data := int64(n * (16 + 100))
	st := db.Stats()
	if st.CacheBytes > data/10 {
		t.Fatalf("after a sequential load of %d bytes the cache holds %d bytes", data, st.CacheBytes)
	}
	misses := st.CacheMisses
	if err := db.View(func(tx *Tx) error {
		for i := 0; i < n; i++ {
			tp, ok, err := tx.Table(0).Get(key(i))
			if err != nil || !ok || !bytes.Equal(tp.Value, val(i)) {
				t.Fatalf("key %d: %v %v", i, ok, err)
			}
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	st = db.Stats()
	if st.CacheMisses-misses < n/40 {
		t.Fatalf("reading every key back missed the cache %d times: the leaves were cached", st.CacheMisses-misses)
	}
	if st.CacheBytes < data/2 {
		t.Fatalf("reading every key back left %d bytes in the cache", st.CacheBytes)
	}
	mustCheck(t, db)
}
