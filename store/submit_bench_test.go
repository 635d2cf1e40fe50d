package store

import (
	"encoding/binary"
	"fmt"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"testing"
)

// BenchmarkSubmitRandomPut: 50 goroutines each submitting single random
// puts (the server's SET path without the network).
func BenchmarkSubmitRandomPut(b *testing.B) { benchSubmitRandomPut(b, nil) }

// BenchmarkSubmitRandomPutAES256: the same, encrypted with AES-256-GCM.
func BenchmarkSubmitRandomPutAES256(b *testing.B) { benchSubmitRandomPut(b, encKey256) }

func benchSubmitRandomPut(b *testing.B, key []byte) {
	db, err := Open(b.TempDir(), &Options{Durability: Everysec, EncryptionKey: key})
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	val := make([]byte, 3)
	var wg sync.WaitGroup
	per := b.N/50 + 1
	b.ResetTimer()
	for g := 0; g < 50; g++ {
		wg.Add(1)
		go func(g int) {
			defer wg.Done()
			r := rand.New(rand.NewPCG(uint64(g), 1))
			for i := 0; i < per; i++ {
				k := []byte(fmt.Sprintf("key:%012d", r.IntN(1_000_000)))
				if err := db.Update(func(tx *Tx) error {
					_, err := tx.Table(0).Put(k, val, TypeString, 0)
					return err
				}); err != nil {
					b.Error(err)
					return
				}
			}
		}(g)
	}
	wg.Wait()
	st := db.Stats()
	b.ReportMetric(float64(b.N)/float64(st.TxID), "puts/commit")
	b.ReportMetric(float64(st.BytesWritten)/float64(b.N), "B-written/put")
}

// loadRandom makes a database of n random 16-byte keys with 100-byte
// values (encrypted with key if set, cache bounded by cache if not 0).
func loadRandom(b *testing.B, n int, key []byte, cache int64) (*DB, [][]byte) {
	db, err := Open(b.TempDir(), &Options{Durability: No, EncryptionKey: key, CacheSize: cache})
	if err != nil {
		b.Fatal(err)
	}
	r := rand.New(rand.NewPCG(1, 1))
	keys := make([][]byte, n)
	for i := range keys {
		keys[i] = []byte(fmt.Sprintf("%016x", r.Uint64()))
	}
	val := make([]byte, 100)
	updateRange(b, db, 0, n, 1, 1000, func(tx *Tx, i int) error { return putString(tx, 0, keys[i], val) })
	if err := db.Flush(); err != nil {
		b.Fatal(err)
	}
	return db, keys
}

// BenchmarkGet: one read transaction per point get, 200k keys (cached).
func BenchmarkGet(b *testing.B) { benchGet(b, nil, 0) }

// BenchmarkGetAES256: the same, encrypted (the cache holds decrypted pages).
func BenchmarkGetAES256(b *testing.B) { benchGet(b, encKey256, 0) }

// BenchmarkGetUncached: point gets with a 1 MiB page cache, so that most
// read a page from the file (the OS cache) and verify or decrypt it.
func BenchmarkGetUncached(b *testing.B) { benchGet(b, nil, 1<<20) }

// BenchmarkGetUncachedAES256: the same, encrypted.
func BenchmarkGetUncachedAES256(b *testing.B) { benchGet(b, encKey256, 1<<20) }

func benchGet(b *testing.B, key []byte, cache int64) {
	db, keys := loadRandom(b, 200_000, key, cache)
	defer db.Close()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if err := getInView(db, keys[i%len(keys)]); err != nil {
			b.Fatal(err)
		}
	}
}

// getInView reads k from table 0 in its own read transaction; a missing
// key is an error.
func getInView(db *DB, k []byte) error {
	return db.View(func(tx *Tx) error {
		_, ok, err := tx.Table(0).Get(k)
		if err == nil && !ok {
			err = fmt.Errorf("key %s missing", k)
		}
		return err
	})
}

// BenchmarkGetParallel: point gets as BenchmarkGet, from GOMAXPROCS
// goroutines at once (what they share shows up here).
func BenchmarkGetParallel(b *testing.B) {
	db, keys := loadRandom(b, 200_000, nil, 0)
	defer db.Close()
	var seed atomic.Uint64
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		r := rand.New(rand.NewPCG(seed.Add(1), 2))
		for pb.Next() {
			if err := getInView(db, keys[r.IntN(len(keys))]); err != nil {
				b.Error(err)
				return
			}
		}
	})
}

// BenchmarkScan: full cursor scans of 200k keys; ns/op is per key.
func BenchmarkScan(b *testing.B) { benchScan(b, nil, 0) }

// BenchmarkScanUncachedAES256: scans with a 1 MiB cache, encrypted.
func BenchmarkScanUncachedAES256(b *testing.B) { benchScan(b, encKey256, 1<<20) }

// BenchmarkScanUncached: scans with a 1 MiB cache, plain.
func BenchmarkScanUncached(b *testing.B) { benchScan(b, nil, 1<<20) }

func benchScan(b *testing.B, key []byte, cache int64) {
	db, keys := loadRandom(b, 200_000, key, cache)
	defer db.Close()
	b.ResetTimer()
	n := 0
	for n < b.N {
		db.View(func(tx *Tx) error {
			c := tx.Table(0).Cursor()
			for ok := c.First(); ok && n < b.N; ok = c.Next() {
				_ = c.Tuple()
				n++
			}
			return c.Err()
		})
	}
	_ = keys
}

// BenchmarkScanCold: full scans of 200k keys with Cursor, each after a
// reopen with cache warming off (every leaf read from the file, verified,
// decoded and cached by the scan), reading keys and values as the engine
// comparison does (KeyValue); ns/op is per key.
func BenchmarkScanCold(b *testing.B) { benchScanCold(b, (*Table).Cursor) }

// BenchmarkScanColdLent: the same with ScanCursor (leaves verified and
// decoded in the file's mapping, not copied or cached).
func BenchmarkScanColdLent(b *testing.B) { benchScanCold(b, (*Table).ScanCursor) }

func benchScanCold(b *testing.B, cursor func(*Table) *Cursor) {
	db, _ := loadRandom(b, 200_000, nil, 0)
	dir := db.Dir()
	if err := db.Close(); err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	n := 0
	for n < b.N {
		b.StopTimer()
		db, err := Open(dir, &Options{NoWarmCache: true})
		if err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
		err = db.View(func(tx *Tx) error {
			c := cursor(tx.Table(0))
			for ok := c.First(); ok && n < b.N; ok = c.Next() {
				c.KeyValue()
				n++
			}
			return c.Err()
		})
		b.StopTimer()
		if err != nil {
			b.Fatal(err)
		}
		db.Close()
		b.StartTimer()
	}
}

// BenchmarkBatchPutHashed: the writer's side of a SET -P 16 batch from 50
// clients, without submission: 800 random puts per transaction into a
// table of 1M keys shaped like the server's (8-byte hash, then the key),
// 3-byte values. ns/op is per put.
func BenchmarkBatchPutHashed(b *testing.B) { benchBatchHashed(b, false, 800) }

// BenchmarkBatchIncrHashed: the same with a get of each key before its put,
// as INCR does (the put starts from the get's path). ns/op is per get+put.
func BenchmarkBatchIncrHashed(b *testing.B) { benchBatchHashed(b, true, 800) }

// BenchmarkCommitPutHashed: the same puts, k to a transaction, one
// transaction at a time (Update): with small k, what a commit costs
// beyond its puts (the hand-off to the writer, savepoints, the catalog,
// publishing, releasing), as SET -P 1 from 50 clients makes commits of
// a few. The table is loaded first in transactions of 5,000 puts, so a
// map kept from those big savepoints and flushes would show here. ns/op
// is per put.
func BenchmarkCommitPutHashed(b *testing.B) {
	for _, k := range []int{1, 16} {
		b.Run(fmt.Sprint(k), func(b *testing.B) { benchBatchHashed(b, false, k) })
	}
}

func benchBatchHashed(b *testing.B, read bool, per int) {
	db, err := Open(b.TempDir(), &Options{Durability: Everysec, NoWarmCache: true})
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	const space = 1_000_000
	key := func(i int) []byte {
		k := make([]byte, 8, 24)
		r := rand.New(rand.NewPCG(uint64(i), 7))
		for j := range k {
			k[j] = byte(r.Uint32())
		}
		return fmt.Appendf(k, "key:%012d", i)
	}
	keys := make([][]byte, space)
	for i := range keys {
		keys[i] = key(i)
	}
	val := make([]byte, 3)
	updateRange(b, db, 0, space, 1, 5000, func(tx *Tx, i int) error { return putString(tx, 0, keys[i], val) })
	r := rand.New(rand.NewPCG(3, 3))
	b.ReportAllocs()
	b.ResetTimer()
	for done := 0; done < b.N; done += per {
		if err := db.Update(func(tx *Tx) error {
			for i := done; i < min(done+per, b.N); i++ {
				k := keys[r.IntN(space)]
				if read {
					if _, _, err := tx.Table(0).Get(k); err != nil {
						return err
					}
				}
				if err := putString(tx, 0, k, val); err != nil {
					return err
				}
			}
			return nil
		}); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkBatchPutSeq: the tree work of a sequential load (the engine
// benchmark's SeqPut without its syncs): 16-byte big-endian keys, 100-byte
// values, 1,000 puts a transaction. ns/op is per put.
func BenchmarkBatchPutSeq(b *testing.B) {
	db, err := Open(b.TempDir(), &Options{Durability: Everysec, NoWarmCache: true})
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	val := make([]byte, 100)
	b.ReportAllocs()
	b.ResetTimer()
	for done := 0; done < b.N; done += 1000 {
		if err := db.Update(func(tx *Tx) error {
			for i := done; i < min(done+1000, b.N); i++ {
				var k [16]byte
				binary.BigEndian.PutUint64(k[8:], uint64(i))
				if err := putString(tx, 0, k[:], val); err != nil {
					return err
				}
			}
			return nil
		}); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkSubmitPutHashed: BenchmarkBatchPutHashed's puts submitted as the
// server submits them, one Pending a put, 800 a SubmitAll, with and without
// the key hint that lets the writer prefetch the next submissions' leaves
// (prefetchAhead): the two sub-benchmarks differ only in the hints. ns/op
// is per put.
func BenchmarkSubmitPutHashed(b *testing.B) {
	for _, hinted := range []bool{false, true} {
		name := "unhinted"
		if hinted {
			name = "hinted"
		}
		b.Run(name, func(b *testing.B) { benchSubmitHashed(b, hinted) })
	}
}

func benchSubmitHashed(b *testing.B, hinted bool) {
	db, err := Open(b.TempDir(), &Options{Durability: Everysec, NoWarmCache: true})
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	const space, per = 1_000_000, 800
	keys := make([][]byte, space)
	for i := range keys {
		r := rand.New(rand.NewPCG(uint64(i), 7))
		k := binary.BigEndian.AppendUint64(make([]byte, 0, 24), r.Uint64())
		keys[i] = fmt.Appendf(k, "key:%012d", i)
	}
	val := make([]byte, 3)
	updateRange(b, db, 0, space, 1, 5000, func(tx *Tx, i int) error { return putString(tx, 0, keys[i], val) })
	r := rand.New(rand.NewPCG(3, 3))
	run := make([]*Pending, 0, per)
	b.ReportAllocs()
	b.ResetTimer()
	for done := 0; done < b.N; done += per {
		run = run[:0]
		for range min(per, b.N-done) {
			k := keys[r.IntN(space)]
			p := NewPending(func(tx *Tx) error { return putString(tx, 0, k, val) })
			if hinted {
				p.Hint(0, k)
			}
			run = append(run, p)
		}
		db.SubmitAll(run...)
		for _, p := range run {
			if err := p.Wait(); err != nil {
				b.Fatal(err)
			}
		}
	}
}
