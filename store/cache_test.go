package store

import (
	"fmt"
	"math/rand/v2"
	"sync"
	"testing"
)

// TestCacheForgetsSuperseded overwrites random keys over many flushes with a
// cache that could hold every version: once no reader needs a superseded
// page, its node leaves the cache, so the cache holds at most the pages
// reachable from the newest state (not one dead version per overwrite).
func TestCacheForgetsSuperseded(t *testing.T) {
	db := openTemp(t, &Options{CacheSize: 1 << 30})
	const n = 20000
	key := func(i int) []byte { return []byte(fmt.Sprintf("key-%08d", i)) }
	updateRange(t, db, 0, n, 1, 2000, func(tx *Tx, i int) error {
		return putString(tx, 0, key(i*7919%n), []byte("first"))
	})
	rng := rand.New(rand.NewPCG(1, 2))
	for round := 0; round < 20; round++ {
		updateRange(t, db, 0, 500, 1, 100, func(tx *Tx, i int) error {
			return putString(tx, 0, key(rng.IntN(n)), []byte(fmt.Sprintf("round-%d", round)))
		})
		if err := db.Flush(); err != nil {
			t.Fatal(err)
		}
	}
	rep, err := db.Check()
	if err != nil {
		t.Fatal(err)
	}
	entries := db.cache.Stats().Entries
	t.Logf("cache entries %d, reachable pages %d, file pages %d", entries, rep.Reachable, rep.Pages)
	if uint64(entries) > rep.Reachable {
		t.Fatalf("cache holds %d pages, only %d are reachable", entries, rep.Reachable)
	}
}

// TestCacheForgetsSupersededConcurrent: the same with flushes running beside
// the writer (Always mode, many submitters): a page freed while its flush
// is in flight is not cached when that flush lands.
func TestCacheForgetsSupersededConcurrent(t *testing.T) {
	db := openTemp(t, &Options{CacheSize: 1 << 30, Durability: Always})
	const n = 20000
	key := func(i int) []byte { return []byte(fmt.Sprintf("key-%08d", i)) }
	updateRange(t, db, 0, n, 1, 2000, func(tx *Tx, i int) error {
		return putString(tx, 0, key(i*7919%n), []byte("first"))
	})
	var wg sync.WaitGroup
	for g := 0; g < 16; g++ {
		wg.Add(1)
		go func(g int) {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(uint64(g), 5))
			for i := 0; i < 300; i++ {
				if err := db.Update(func(tx *Tx) error {
					return putString(tx, 0, key(rng.IntN(n)), []byte(fmt.Sprintf("g%d-%d", g, i)))
				}); err != nil {
					t.Error(err)
					return
				}
			}
		}(g)
	}
	wg.Wait()
	rep, err := db.Check()
	if err != nil {
		t.Fatal(err)
	}
	if entries := db.cache.Stats().Entries; uint64(entries) > rep.Reachable {
		t.Fatalf("cache holds %d pages, only %d are reachable", entries, rep.Reachable)
	}
}
