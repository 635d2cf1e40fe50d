package store

import (
	"fmt"
	"math/rand/v2"
	"testing"
)

// TestCheckStaleFreeBitOfPending: a free-space metadata page keeps its
// free bit (allocMeta does not dirty its bitmap chunk); once a later flush
// replaces that metadata, the page is pending while the bit on disk still
// says free. Load clears pending pages' bits, so the page is never handed
// out twice, and Check must agree. Random batches of puts or deletes with
// flushes now and then, Check after each flush: seed 13 reaches that
// state (its third round) and failed before Check allowed for it.
func TestCheckStaleFreeBitOfPending(t *testing.T) {
	for seed := uint64(1); seed <= 16; seed++ {
		r := rand.New(rand.NewPCG(seed, 1))
		db, err := Open(t.TempDir(), &Options{Durability: Everysec, NoWarmCache: true, FlushInterval: 1 << 40})
		if err != nil {
			t.Fatal(err)
		}
		for round := 0; round < 12; round++ {
			n, del := 1+r.IntN(1200), r.IntN(3) == 0
			err := db.Update(func(tx *Tx) error {
				for i := 0; i < n; i++ {
					k := []byte(fmt.Sprintf("k%d", r.IntN(3000)))
					var err error
					if del {
						_, err = tx.Table(0).Delete(k)
					} else {
						err = putString(tx, 0, k, make([]byte, 40))
					}
					if err != nil {
						return err
					}
				}
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
			if r.IntN(2) == 0 {
				if err := db.Flush(); err != nil {
					t.Fatal(err)
				}
				if _, err := db.Check(); err != nil {
					t.Fatalf("seed %d, round %d: %v", seed, round, err)
				}
			}
		}
		if err := db.Close(); err != nil {
			t.Fatal(err)
		}
	}
}
