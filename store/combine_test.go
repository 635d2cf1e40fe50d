package store

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"strconv"
	"sync"
	"testing"
	"time"
)

// TestSubmitAllOrder: goroutines submitting runs of writes at once (a
// leader applying others' submissions, the writer goroutine leading on)
// see each of their submissions applied once, in the order made: each
// submission checks that its goroutine's counter holds its predecessor's
// number before writing its own.
func TestSubmitAllOrder(t *testing.T) {
	db, err := Open(t.TempDir(), &Options{Durability: Everysec})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	const workers, per = 8, 1500
	var wg sync.WaitGroup
	errs := make(chan error, workers)
	for g := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			key := []byte("counter:" + strconv.Itoa(g))
			r := rand.New(rand.NewPCG(uint64(g), 1))
			for i := 1; i <= per; {
				run := make([]*Pending, 0, 20)
				for n := 1 + r.IntN(20); n > 0 && i <= per; n, i = n-1, i+1 {
					want := []byte(strconv.Itoa(i - 1))
					val := []byte(strconv.Itoa(i))
					run = append(run, NewPending(func(tx *Tx) error {
						t, ok, err := tx.Table(0).Get(key)
						if err != nil {
							return err
						}
						if got := []byte("0"); ok {
							got = t.Value
							if !bytes.Equal(got, want) {
								return fmt.Errorf("%s: applied after %s, want after %s", val, got, want)
							}
						} else if string(want) != "0" {
							return fmt.Errorf("%s: applied first, want after %s", val, want)
						}
						return putString(tx, 0, key, val)
					}))
				}
				db.SubmitAll(run...)
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
	if err := db.View(func(tx *Tx) error {
		for g := range workers {
			v, ok, err := tx.Table(0).Get([]byte("counter:" + strconv.Itoa(g)))
			if err != nil || !ok || string(v.Value) != strconv.Itoa(per) {
				return fmt.Errorf("counter %d: %q %v %v", g, v.Value, ok, err)
			}
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if _, err := db.Check(); err != nil {
		t.Fatal(err)
	}
}

// TestFlushesUnderSubmissions: while submissions come faster than they
// are applied (so the writer goroutine leads batch after batch), timed
// flushes still start and end: it handles a flush's end and its ticks
// between the batches it leads.
func TestFlushesUnderSubmissions(t *testing.T) {
	db, err := Open(t.TempDir(), &Options{Durability: Everysec, FlushInterval: 10 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			// Runs of 50, each submitted before the one before is
			// waited for: the list of waiting submissions never empties.
			var last *Pending
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				run := make([]*Pending, 50)
				for j := range run {
					key := []byte(fmt.Sprintf("k%d:%d", g, (i*50+j)%5000))
					run[j] = NewPending(func(tx *Tx) error {
						if j == 0 {
							// Batches slow enough for the next runs to
							// come in while one is applied.
							time.Sleep(50 * time.Microsecond)
						}
						return putString(tx, 0, key, key)
					})
				}
				db.SubmitAll(run...)
				if last != nil {
					if err := last.Wait(); err != nil {
						t.Error(err)
						return
					}
				}
				last = run[len(run)-1]
			}
		}()
	}
	before := db.flushes.Load()
	deadline := time.Now().Add(30 * time.Second) // a liveness bound, not a speed one
	for db.flushes.Load() < before+5 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	close(stop)
	wg.Wait()
	if n := db.flushes.Load() - before; n < 5 {
		t.Fatalf("%d flushes in 30 s of continuous submissions, want 5", n)
	}
}
