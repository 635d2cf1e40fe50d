package store

import (
	"fmt"
	"runtime"
	"testing"
	"time"

	"github.com/digby-db/digby/page"
)

// TestPrefetch: after Prefetch of a key, reading it misses nothing, with a
// cache far smaller than the data; Prefetch of an absent key or of an
// unknown table is harmless.
func TestPrefetch(t *testing.T) {
	dir := t.TempDir()
	db, err := Open(dir, &Options{NoWarmCache: true})
	if err != nil {
		t.Fatal(err)
	}
	const n = 20000
	key := func(i int) []byte { return []byte(fmt.Sprintf("key-%08d", i*7919%n)) }
	updateRange(t, db, 0, n, 1, 2000, func(tx *Tx, i int) error { return putString(tx, 0, key(i), make([]byte, 100)) })
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	db, err = Open(dir, &Options{NoWarmCache: true, CacheSize: 1 << 20}) // 64 KiB a shard; the data is ~3 MB
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	for _, i := range []int{5, 777, 12345, 19999} {
		db.Prefetch(0, key(i))
		before := db.Stats().CacheMisses
		got := getOne(t, db, string(key(i)))
		if len(got) != 100 {
			t.Fatalf("key %d: %d bytes", i, len(got))
		}
		if m := db.Stats().CacheMisses - before; m != 0 {
			t.Fatalf("key %d: %d cache misses after Prefetch", i, m)
		}
	}
	// Several keys in one call.
	several := [][]byte{key(1), key(9000), key(15000)}
	db.Prefetch(0, several...)
	before := db.Stats().CacheMisses
	for _, k := range several {
		getOne(t, db, string(k))
	}
	if m := db.Stats().CacheMisses - before; m != 0 {
		t.Fatalf("%d cache misses after a Prefetch of the keys read", m)
	}
	db.Prefetch(0, []byte("absent"))
	db.Prefetch(0)
	db.Prefetch(9, key(1))
	mustCheck(t, db)
}

// TestCachePressure: the pressure signal is on when more than one lookup in
// 20 missed since the last judgement (and at least 100 did), off otherwise.
func TestCachePressure(t *testing.T) {
	var p pressure
	for _, c := range []struct {
		hits, misses uint64 // since the previous step
		want         bool
	}{
		{1000, 0, false},
		{1000, 99, false}, // too few misses to judge
		{1000, 100, true},
		{10000, 100, false}, // one in 101
		{100, 5000, true},
		{0, 0, false},
	} {
		st := page.CacheStats{Hits: p.hits.Load() + c.hits, Misses: p.misses.Load() + c.misses}
		p.update(st)
		if got := p.high.Load(); got != c.want {
			t.Fatalf("%d hits, %d misses: pressure %v, want %v", c.hits, c.misses, got, c.want)
		}
	}
	// The counters reset (CONFIG RESETSTAT): what they hold now is the
	// window, not a difference that wraps around.
	p.update(page.CacheStats{Hits: 1 << 20, Misses: 1000})
	p.update(page.CacheStats{Hits: 5000, Misses: 5})
	if p.high.Load() {
		t.Fatal("pressure after a reset of the counters with 5 misses in 5005 lookups")
	}
	p.update(page.CacheStats{Hits: 100, Misses: 500})
	if !p.high.Load() {
		t.Fatal("no pressure with 495 misses in 595 lookups")
	}
}

// TestPrefetchAfterEviction: a key read once (its path remembered in the
// branches), then its leaf dropped from the cache: Prefetch puts the leaf
// back in the cache, where the writer looks, rather than following the
// remembered node the collector has not freed yet (a cursor on the key
// holds it).
func TestPrefetchAfterEviction(t *testing.T) {
	db := openTemp(t, &Options{NoWarmCache: true})
	const n = 20000
	updateRange(t, db, 0, n, 1, 2000, func(tx *Tx, i int) error {
		return putString(tx, 0, []byte(fmt.Sprintf("key-%08d", i)), make([]byte, 100))
	})
	if err := db.Flush(); err != nil {
		t.Fatal(err)
	}
	k := []byte("key-00012345")
	db.View(func(tx *Tx) error {
		c := tx.Table(0).Cursor()
		if !c.Seek(k) || string(c.Key()) != string(k) {
			t.Fatalf("seek: %v", c.Err())
		}
		leaf := c.c.Leaf()
		db.cache.RemoveAll([]uint64{leaf.ID})
		db.Prefetch(0, k)
		if _, ok := db.cache.Peek(leaf.ID); !ok {
			t.Fatalf("leaf %d not cached again by Prefetch", leaf.ID)
		}
		runtime.KeepAlive(c)
		return nil
	})
}

// TestPrefetchWaitsForNoWriter: Prefetch returns at once, having read
// nothing, while the writer changes the newest state's nodes in place; a
// View there would wait for the batch and pause changes in place.
func TestPrefetchWaitsForNoWriter(t *testing.T) {
	db := openTemp(t, &Options{Durability: Everysec, FlushInterval: time.Hour, NoWarmCache: true}) // no timed flush: the leaf stays unflushed, changeable in place
	if err := db.Update(func(tx *Tx) error { return putString(tx, 0, []byte("k"), []byte("v")) }); err != nil {
		t.Fatal(err)
	}
	whileInPlace(t, db, func() { db.Prefetch(0, []byte("k")) })
}
