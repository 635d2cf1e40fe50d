package store

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// putKeys writes keys k0000..k(n-1) of table 0 with value v in one batch.
func putKeys(t *testing.T, db *DB, n int, v string) {
	t.Helper()
	if err := db.Update(func(tx *Tx) error {
		for i := range n {
			if _, err := tx.Table(0).Put([]byte(fmt.Sprintf("k%04d", i)), []byte(v), TypeString, 0); err != nil {
				return err
			}
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
}

// TestInPlaceSettings: batches change committed, unflushed nodes in place
// under Everysec and No, and with the commit log; never with NoInPlace, nor
// under Always when each batch waits for its flush (the flush takes every
// node the batch made); whichever way, the data reads back, after a
// reopen too, and the file checks.
func TestInPlaceSettings(t *testing.T) {
	hour := time.Hour
	for _, tc := range []struct {
		name string
		opts Options
		want bool
	}{
		{"everysec", Options{FlushInterval: hour}, true},
		{"no", Options{Durability: No}, true},
		{"always", Options{Durability: Always}, false},
		{"commitlog", Options{Durability: Always, CommitLog: true, FlushInterval: hour}, true},
		{"noinplace", Options{FlushInterval: hour, NoInPlace: true}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			o := tc.opts
			o.NoWarmCache = true
			db, err := Open(dir, &o)
			if err != nil {
				t.Fatal(err)
			}
			for round := range 20 {
				putKeys(t, db, 500, fmt.Sprintf("v%02d", round))
			}
			if got := db.Stats().InPlaceNodes; (got > 0) != tc.want {
				t.Fatalf("InPlaceNodes %d, want changes in place: %v", got, tc.want)
			}
			mustCheck(t, db)
			if err := db.Close(); err != nil {
				t.Fatal(err)
			}
			if db, err = Open(dir, &o); err != nil {
				t.Fatal(err)
			}
			defer db.Close()
			if err := db.View(func(tx *Tx) error {
				for i := range 500 {
					v, ok, err := tx.Table(0).Get([]byte(fmt.Sprintf("k%04d", i)))
					if err != nil || !ok || string(v.Value) != "v19" {
						return fmt.Errorf("k%04d: %q %v %v", i, v.Value, ok, err)
					}
				}
				return nil
			}); err != nil {
				t.Fatal(err)
			}
			mustCheck(t, db)
		})
	}
}

// TestInPlaceGate: a reader arriving while a batch changes nodes in place
// waits for its commit and then sees it; a reader already holding the
// current state keeps the batch from changing its nodes in place; and
// after a reader waited, batches copy for a while.
func TestInPlaceGate(t *testing.T) {
	db, err := Open(t.TempDir(), &Options{FlushInterval: time.Hour, NoWarmCache: true})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	putKeys(t, db, 200, "a") // committed, not flushed: in the flush set
	get := func(tx *Tx) string {
		v, _, err := tx.Table(0).Get([]byte("k0007"))
		if err != nil {
			t.Error(err)
		}
		return string(v.Value)
	}

	// A batch that has changed a node in place, then waits.
	changed, release := make(chan struct{}), make(chan struct{})
	var releaseOnce sync.Once
	defer releaseOnce.Do(func() { close(release) }) // before Close, should the test fail early
	done := make(chan error, 1)
	go func() {
		done <- db.Update(func(tx *Tx) error {
			if _, err := tx.Table(0).Put([]byte("k0007"), []byte("b"), TypeString, 0); err != nil {
				return err
			}
			close(changed)
			<-release
			return nil
		})
	}()
	<-changed
	if db.Stats().InPlaceNodes != 0 {
		t.Fatal("counted before commit") // the count is kept at commit
	}
	seen := make(chan string, 1)
	go func() {
		_ = db.View(func(tx *Tx) error { seen <- get(tx); return nil })
	}()
	select {
	case v := <-seen:
		t.Fatalf("a reader read %q while the batch was changing the current state in place", v)
	case <-time.After(50 * time.Millisecond):
	}
	releaseOnce.Do(func() { close(release) })
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if v := <-seen; v != "b" {
		t.Fatalf("the reader that waited read %q, want the batch's %q", v, "b")
	}
	if db.Stats().InPlaceNodes == 0 {
		t.Fatal("the batch changed nothing in place")
	}
	if db.gateWaits.Load() == 0 {
		t.Fatal("no reader counted as waiting")
	}

	// Right after a wait, batches copy (inPlacePause: the batch that
	// sees the wait starts the pause).
	before := db.Stats().InPlaceNodes
	putKeys(t, db, 200, "c")
	if db.Stats().InPlaceNodes != before {
		t.Fatal("a batch changed nodes in place during the pause after a reader waited")
	}
	time.Sleep(inPlacePause + 10*time.Millisecond)

	// A reader holding the current state: the batch copies, the reader
	// keeps its snapshot.
	held, free := make(chan struct{}), make(chan struct{})
	readerDone := make(chan string, 1)
	go func() {
		_ = db.View(func(tx *Tx) error {
			close(held)
			<-free
			readerDone <- get(tx)
			return nil
		})
	}()
	<-held
	before = db.Stats().InPlaceNodes
	putKeys(t, db, 200, "c") // copies: the current state has a reader
	if db.Stats().InPlaceNodes != before {
		t.Fatal("a batch changed in place the nodes of a state a reader holds")
	}
	putKeys(t, db, 200, "d")
	close(free)
	if v := <-readerDone; v != "c" {
		t.Fatalf("a held snapshot read %q, want %q", v, "c")
	}
	if db.Stats().InPlaceNodes == before {
		// The held state is older than the batch's base: the nodes
		// committed since (round "c") change in place.
		t.Fatal("a batch after a held snapshot's commit changed nothing in place")
	}
	mustCheck(t, db)
}

// TestInPlaceSnapshots runs readers that hold snapshots across many
// commits while batches from several submitters change nodes in place
// (transfers that keep a sum, some failing and rolled back): every
// snapshot must read the same values at its end as at its start, and keep
// the sum. Under -race it also checks that no reader reads a node while
// the writer changes it. Under Always, nodes change in place in the
// batches applied while a flush is in flight.
func TestInPlaceSnapshots(t *testing.T) {
	t.Run("everysec", func(t *testing.T) {
		if inPlaceSnapshots(t, Options{FlushInterval: 20 * time.Millisecond}, 2) == 0 {
			t.Fatal("no node changed in place: the test did not test it")
		}
	})
	t.Run("always", func(t *testing.T) {
		// Changes in place need batches applied during one flush's
		// flight: a matter of timing, so a few tries.
		for try := 0; inPlaceSnapshots(t, Options{Durability: Always}, 16) == 0; try++ {
			if try == 4 {
				t.Fatal("no node changed in place in five tries: the test did not test it")
			}
		}
	})
}

// inPlaceSnapshots runs the test once and returns how many nodes changed
// in place.
func inPlaceSnapshots(t *testing.T, o Options, submitters int) uint64 {
	const accounts = 300
	commits := 100 * submitters
	if long() {
		commits *= 15
	}
	o.NoWarmCache = true
	db, err := Open(t.TempDir(), &o)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	db.ipPause = 0 // no pause after a reader waited: readers meet batches changing nodes in place
	key := func(i int) []byte { return []byte(fmt.Sprintf("acct-%04d", i)) }
	if err := db.Update(func(tx *Tx) error {
		for i := range accounts {
			if _, err := tx.Table(0).Put(key(i), []byte("100"), TypeString, 0); err != nil {
				return err
			}
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	read := func(tx *Tx) ([]string, error) {
		out := make([]string, accounts)
		sum := 0
		for i := range accounts {
			v, ok, err := tx.Table(0).Get(key(i))
			if err != nil || !ok {
				return nil, fmt.Errorf("%s: %v %v", key(i), ok, err)
			}
			out[i] = string(v.Value)
			var n int
			fmt.Sscan(out[i], &n)
			sum += n
		}
		if sum != accounts*100 {
			return nil, fmt.Errorf("balances sum to %d, want %d", sum, accounts*100)
		}
		return out, nil
	}
	var stop atomic.Bool
	var wg sync.WaitGroup
	errc := make(chan error, 8)
	var snapshots atomic.Int64
	for rd := range 3 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := rand.New(rand.NewPCG(uint64(rd), 5))
			for !stop.Load() {
				err := db.View(func(tx *Tx) error {
					first, err := read(tx)
					if err != nil {
						return err
					}
					if rd == 0 {
						time.Sleep(time.Duration(r.IntN(2000)) * time.Microsecond) // across commits
					}
					again, err := read(tx)
					if err != nil {
						return err
					}
					for i := range first {
						if first[i] != again[i] {
							return fmt.Errorf("%s read %q then %q in one snapshot", key(i), first[i], again[i])
						}
					}
					return nil
				})
				if err != nil {
					errc <- fmt.Errorf("reader %d: %w", rd, err)
					return
				}
				snapshots.Add(1)
				time.Sleep(time.Duration(r.IntN(500)) * time.Microsecond)
			}
		}()
	}
	var mu sync.Mutex
	bal := make([]int, accounts)
	for i := range bal {
		bal[i] = 100
	}
	var writers sync.WaitGroup
	for wr := range submitters {
		writers.Add(1)
		go func() {
			defer writers.Done()
			r := rand.New(rand.NewPCG(7, uint64(wr)))
			for c := 0; c < commits/submitters && len(errc) == 0; c++ {
				ps := make([]*Pending, 1+r.IntN(8))
				for j := range ps {
					a, b, amt := r.IntN(accounts), r.IntN(accounts), r.IntN(50)
					fail := r.IntN(6) == 0
					ps[j] = NewPending(func(tx *Tx) error {
						for _, x := range [][2]int{{a, -amt}, {b, amt}} {
							v, _, err := tx.Table(0).Get(key(x[0]))
							if err != nil {
								return err
							}
							var n int
							fmt.Sscan(string(v.Value), &n)
							if _, err := tx.Table(0).Put(key(x[0]), []byte(fmt.Sprint(n+x[1])), TypeString, 0); err != nil {
								return err
							}
						}
						if fail {
							return errBkFail // rolled back: its changes in place are undone
						}
						return nil
					})
					if !fail {
						mu.Lock()
						bal[a] -= amt
						bal[b] += amt
						mu.Unlock()
					}
				}
				db.SubmitAll(ps...)
				for _, p := range ps {
					if err := p.Wait(); err != nil && !errors.Is(err, errBkFail) {
						errc <- err
						return
					}
				}
			}
		}()
	}
	writers.Wait()
	stop.Store(true)
	wg.Wait()
	close(errc)
	for err := range errc {
		t.Fatal(err)
	}
	if err := db.View(func(tx *Tx) error {
		got, err := read(tx)
		if err != nil {
			return err
		}
		for i, g := range got {
			if want := fmt.Sprint(bal[i]); g != want {
				return fmt.Errorf("%s: %q, want %q", key(i), g, want)
			}
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	st := db.Stats()
	t.Logf("%d snapshots, %d nodes changed in place, %d reader waits", snapshots.Load(), st.InPlaceNodes, db.gateWaits.Load())
	mustCheck(t, db)
	return st.InPlaceNodes
}
