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
