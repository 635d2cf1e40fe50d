package store

import (
	"fmt"
	"testing"
	"time"
)

// TestMetamorphic runs one random workload (the model test's: puts of every
// size, range writes, deletes, expiries, table swaps and clears, failing
// and panicking submissions, flushes and reopens) under different options
// and expects the same final contents, versions included: page size,
// durability mode, a cache of a few pages (every read a miss, through the
// file mapping) or a large one, a dirty cap that forces a flush after
// nearly every batch, a 1 ms flush interval, encryption, no cache warming,
// pages placed lowest-first (no file slack) or with much slack, values
// stored as given rather than compressed in their leaves.
// Each run is also verified against the model and checked (Check) on the
// way; the digests compare the runs with each other.
func TestMetamorphic(t *testing.T) {
	seeds, ops := 3, 1200
	if long() {
		seeds, ops = 20, 6000
	}
	aes, _ := testKey(2, true)
	configs := []struct {
		name string
		opts Options
	}{
		{"base", Options{}},
		{"ps16k-always", Options{PageSize: 16384, Durability: Always}},
		{"ps64k-no", Options{PageSize: 65536, Durability: No}},
		{"tinycache-noslack", Options{CacheSize: 8 * 4096, NoWarmCache: true, FileSlack: -1}},
		{"slack60", Options{FileSlack: 60}},
		{"noinplace", Options{NoInPlace: true}},
		{"nocompression", Options{NoCompression: true}},
		{"tinydirty-1ms", Options{DirtyCap: 4096, FlushInterval: time.Millisecond}},
		{"aes256-always-tinycache", Options{EncryptionKey: aes, Durability: Always, CacheSize: 16 * 4096}},
	}
	for seed := uint64(1); seed <= uint64(seeds); seed++ {
		t.Run(fmt.Sprintf("seed%d", seed), func(t *testing.T) {
			var first uint64
			for i, c := range configs {
				opts := c.opts
				d := runModelWith(t, &opts, 4096, seed, ops)
				if i == 0 {
					first = d
				} else if d != first {
					t.Fatalf("%s: contents differ from %s's", c.name, configs[0].name)
				}
			}
		})
	}
}
