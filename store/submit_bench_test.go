package store

import (
	"fmt"
	"math/rand/v2"
	"sync"
	"testing"
)

// BenchmarkSubmitRandomPut: 50 goroutines each submitting single random
// puts (the server's SET path without the network).
func BenchmarkSubmitRandomPut(b *testing.B) {
	db, err := Open(b.TempDir(), &Options{Durability: Everysec})
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

func loadRandom(b *testing.B, n int) (*DB, [][]byte) {
	db, err := Open(b.TempDir(), &Options{Durability: No})
	if err != nil {
		b.Fatal(err)
	}
	r := rand.New(rand.NewPCG(1, 1))
	keys := make([][]byte, n)
	for i := range keys {
		keys[i] = []byte(fmt.Sprintf("%016x", r.Uint64()))
	}
	val := make([]byte, 100)
	for i := 0; i < n; i += 1000 {
		if err := db.Update(func(tx *Tx) error {
			for _, k := range keys[i:min(i+1000, n)] {
				if _, err := tx.Table(0).Put(k, val, TypeString, 0); err != nil {
					return err
				}
			}
			return nil
		}); err != nil {
			b.Fatal(err)
		}
	}
	if err := db.Flush(); err != nil {
		b.Fatal(err)
	}
	return db, keys
}

// BenchmarkGet: one read transaction per point get, 200k keys (cached).
func BenchmarkGet(b *testing.B) {
	db, keys := loadRandom(b, 200_000)
	defer db.Close()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		k := keys[i%len(keys)]
		if err := db.View(func(tx *Tx) error {
			_, ok, err := tx.Table(0).Get(k)
			if !ok {
				return fmt.Errorf("key %s missing", k)
			}
			return err
		}); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkScan: full cursor scans of 200k keys; ns/op is per key.
func BenchmarkScan(b *testing.B) {
	db, keys := loadRandom(b, 200_000)
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

// BenchmarkScanCold: full scans of 200k keys, each after a reopen (every
// leaf read, verified and decoded once); ns/op is per key.
func BenchmarkScanCold(b *testing.B) {
	db, _ := loadRandom(b, 200_000)
	dir := db.Dir()
	if err := db.Close(); err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	n := 0
	for n < b.N {
		b.StopTimer()
		db, err := Open(dir, nil)
		if err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
		err = db.View(func(tx *Tx) error {
			c := tx.Table(0).Cursor()
			for ok := c.First(); ok && n < b.N; ok = c.Next() {
				_ = c.Tuple()
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
