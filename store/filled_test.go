package store

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"testing"
	"time"
)

// TestSequentialLoadNotCached checks that the leaves a sequential load
// leaves full are written but not kept in the page cache (btree's
// Filled), and that every key reads back through the file afterwards,
// where the misses fill the cache.
func TestSequentialLoadNotCached(t *testing.T) {
	// NoCompression: the repeated values must fill the leaves as sized.
	db, err := Open(t.TempDir(), &Options{Durability: Always, NoWarmCache: true, NoCompression: true})
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

// TestExpiryIndexLeavesCached: refreshing keys' expiry moves their
// expiry-index entries to the index's end and deletes the old ones; the
// index grows at its end like a sequential load, but its leaves are read
// again, so they stay cached after a flush (the index does not mark
// Filled leaves): a round of refreshes after a flush misses the cache
// nowhere (a reviewing helper measured 226 misses a round when it did).
func TestExpiryIndexLeavesCached(t *testing.T) {
	db, err := Open(t.TempDir(), &Options{Durability: Always, NoWarmCache: true})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	const n = 20_000
	at := time.Now().UnixMilli() + 600_000
	key := func(i int) []byte { return fmt.Appendf(nil, "%08x:session:%d", uint32(uint64(i)*2654435761), i) }
	val := make([]byte, 100)
	refresh := func() {
		updateRange(t, db, 0, n, 1, 500, func(tx *Tx, i int) error {
			at++
			_, err := tx.Table(0).Put(key(i), val, TypeString, at)
			return err
		})
	}
	refresh()
	refresh()
	if err := db.Flush(); err != nil {
		t.Fatal(err)
	}
	before := db.Stats().CacheMisses
	refresh()
	if m := db.Stats().CacheMisses - before; m != 0 {
		t.Fatalf("refreshing %d keys' expiry after a flush missed the cache %d times", n, m)
	}
}
