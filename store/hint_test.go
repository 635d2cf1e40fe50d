package store

import (
	"fmt"
	"math/rand/v2"
	"sync"
	"testing"
)

// TestHintsChangeNothing: writers submitting puts and deletes with every
// kind of hint (the key written, another key, another table, a key too
// long for a tree, none; more keys, HintMore, of those kinds and empty)
// leave the tables exactly as a model has them and the file consistent:
// the writer only prefetches what hints name (prefetchAhead), so a wrong
// hint costs time, never a wrong result.
// Workers own disjoint keys, so each one's model is exact whatever the
// order batches form in; large batches exercise the prefetch windows.
func TestHintsChangeNothing(t *testing.T) {
	db, err := Open(t.TempDir(), &Options{Durability: Everysec})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	const workers, rounds, tables = 6, 60, 3
	models := make([]map[string]string, workers)
	var wg sync.WaitGroup
	errs := make(chan error, workers)
	for g := range workers {
		models[g] = map[string]string{}
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := rand.New(rand.NewPCG(uint64(g), 7))
			model := models[g]
			for range rounds {
				run := make([]*Pending, 0, 64)
				for range 1 + r.IntN(64) {
					table := uint32(r.IntN(tables))
					key := []byte(fmt.Sprintf("w%d:%06d", g, r.IntN(4000)))
					mk := fmt.Sprint(table, "/", string(key))
					var p *Pending
					if r.IntN(5) == 0 {
						delete(model, mk)
						p = NewPending(func(tx *Tx) error {
							_, err := tx.Table(table).Delete(key)
							return err
						})
					} else {
						val := fmt.Sprintf("%d-%x", r.IntN(1000), make([]byte, r.IntN(120)))
						model[mk] = val
						p = NewPending(func(tx *Tx) error { return putString(tx, table, key, []byte(val)) })
					}
					switch r.IntN(5) {
					case 0:
						p.Hint(table, key)
					case 1:
						p.Hint(table, []byte(fmt.Sprintf("w%d:%06d", r.IntN(workers), r.IntN(4000))))
					case 2:
						p.Hint(table+1, key)
					case 3:
						p.Hint(table, make([]byte, 5000))
					}
					if r.IntN(3) == 0 { // more keys: others', too long, none, empty
						p.HintMore([][]byte{
							[]byte(fmt.Sprintf("w%d:%06d", r.IntN(workers), r.IntN(4000))),
							make([]byte, 5000), nil, {},
						})
					}
					run = append(run, p)
				}
				db.SubmitAll(run...)
				if r.IntN(10) == 0 {
					if err := db.Flush(); err != nil { // leaves in the cache, not only unflushed
						errs <- err
						return
					}
				}
				for _, p := range run {
					if err := p.Wait(); err != nil {
						errs <- fmt.Errorf("worker %d: %w", g, err)
						return
					}
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	err = db.View(func(tx *Tx) error {
		for g, model := range models {
			for mk, want := range model {
				var table uint32
				var key string
				if _, err := fmt.Sscanf(mk, "%d/%s", &table, &key); err != nil {
					return err
				}
				tu, ok, err := tx.Table(table).Get([]byte(key))
				if err != nil || !ok || string(tu.Value) != want {
					return fmt.Errorf("worker %d: table %d key %s = %q %v %v, want %q", g, table, key, tu.Value, ok, err, want)
				}
			}
		}
		n := 0
		for _, model := range models {
			n += len(model)
		}
		total := 0
		for table := range uint32(tables) {
			total += int(tx.Table(table).Count())
		}
		if total != n {
			return fmt.Errorf("the tables hold %d keys, the models %d", total, n)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.Check(); err != nil {
		t.Fatal(err)
	}
	// The hints reached leaves (a renamed Peek would silently stop them),
	// and nothing in prefetchAhead panicked.
	if db.prefetched.Load() == 0 {
		t.Fatal("no hinted key's leaf was prefetched")
	}
	if n := db.prefetchPanics.Load(); n != 0 {
		t.Fatalf("prefetchAhead recovered from %d panics", n)
	}
}
