package commands

import (
	"fmt"
	"testing"

	"github.com/digby-db/digby/store"
)

// BenchmarkLoadOrder measures what hash-ordered table keys cost a sequential
// load (keys written in their natural order become random inserts), against
// the same keys stored as they are. See docs/server.md.
func BenchmarkLoadOrder(b *testing.B) {
	for _, hashed := range []bool{false, true} {
		b.Run(fmt.Sprintf("hashed=%v", hashed), func(b *testing.B) {
			db, err := store.Open(b.TempDir(), &store.Options{Durability: store.Everysec})
			if err != nil {
				b.Fatal(err)
			}
			defer db.Close()
			val := make([]byte, 64)
			const batch = 1000
			b.ResetTimer()
			for i := 0; i < b.N; i += batch {
				err := db.Update(func(tx *store.Tx) error {
					t := tx.Table(0)
					for j := i; j < i+batch && j < b.N; j++ {
						k := []byte(fmt.Sprintf("key:%012d", j))
						if hashed {
							k = storedKey(k)
						}
						if _, err := t.Put(k, val, store.TypeString, 0); err != nil {
							return err
						}
					}
					return nil
				})
				if err != nil {
					b.Fatal(err)
				}
			}
			if err := db.Flush(); err != nil {
				b.Fatal(err)
			}
			b.StopTimer()
			b.ReportMetric(float64(db.Stats().FileSize)/float64(b.N), "file-bytes/key")
		})
	}
}
