package store

import (
	"fmt"
	"math/rand/v2"
	"testing"
	"time"
)

// expiringSum is the entries of every table's expiry index, read through a
// snapshot: what DB.expiring must equal.
func expiringSum(t *testing.T, db *DB, tables uint32) int64 {
	t.Helper()
	var sum int64
	if err := db.View(func(tx *Tx) error {
		for n := range tables {
			sum += int64(tx.Table(n).Expires())
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	return sum
}

// TestHasExpiringModel runs random puts with and without an expiry,
// expiry changes, deletes, due-key expiry, table clears and swaps over
// twelve tables, up to twelve in one transaction (past the count where a
// transaction indexes its table states, tableStates), some rolled back:
// after every commit the count behind HasExpiring equals the tables'
// Expires summed through a snapshot, every 50 steps Check finds each
// table's catalog counts equal to its trees, and after a reopen (the
// count is taken from the catalog) and after a commit log's replay the
// count still equals the sum.
func TestHasExpiringModel(t *testing.T) {
	const tables = 12
	for seed := range uint64(8) {
		r := rand.New(rand.NewPCG(seed, 5))
		opts := &Options{Durability: Everysec, NoWarmCache: true}
		if seed%2 == 1 {
			opts = logOpts(nil)
		}
		dir := t.TempDir()
		db, err := Open(dir, opts)
		if err != nil {
			t.Fatal(err)
		}
		check := func(when string) {
			t.Helper()
			want := expiringSum(t, db, tables)
			if got := db.expiring.Load(); got != want || db.HasExpiring() != (want > 0) {
				t.Fatalf("seed %d, %s: expiring %d (HasExpiring %v), tables' Expires sum to %d", seed, when, got, db.HasExpiring(), want)
			}
		}
		for step := range 300 {
			failing := r.IntN(10) == 0
			err := db.Update(func(tx *Tx) error {
				for range 1 + r.IntN(tables) {
					tb := tx.Table(r.Uint32N(tables))
					key := fmt.Appendf(nil, "k%d", r.IntN(40))
					var err error
					switch op := r.IntN(20); {
					case op < 8:
						at := int64(0)
						if r.IntN(2) == 0 {
							at = 1000 + r.Int64N(1000)
						}
						_, err = tb.Put(key, []byte("v"), TypeString, at)
					case op < 12:
						_, err = tb.SetExpire(key, r.Int64N(2000))
					case op < 16:
						_, err = tb.Delete(key)
					case op < 18:
						_, err = tb.ExpireDue(1500, 5)
					case op < 19:
						err = tx.ClearTable(tb.Number())
					default:
						err = tx.SwapTables(tb.Number(), r.Uint32N(tables))
					}
					if err != nil {
						return err
					}
				}
				if failing {
					return errTestRollback
				}
				return nil
			})
			if err != nil && !(failing && err == errTestRollback) {
				t.Fatalf("seed %d step %d: %v", seed, step, err)
			}
			check(fmt.Sprintf("step %d", step))
			if step%50 == 49 {
				if _, err := db.Check(); err != nil {
					t.Fatalf("seed %d step %d: %v", seed, step, err)
				}
			}
		}
		want := expiringSum(t, db, tables)
		if seed%2 == 1 {
			// The log holds the commits since the last flush: a crash here
			// replays them at open, on top of the count the catalog gives.
			dir = snapshotFiles(t, db)
		}
		if err := db.Close(); err != nil {
			t.Fatal(err)
		}
		if db, err = Open(dir, opts); err != nil {
			t.Fatal(err)
		}
		if got := db.expiring.Load(); got != want {
			t.Fatalf("seed %d: after reopen expiring %d, want %d", seed, got, want)
		}
		check("reopened")
		db.Close()
	}
}

// errTestRollback makes a write function fail, so that its transaction
// rolls back.
var errTestRollback = fmt.Errorf("test rollback")

// TestHasExpiringWaitsForNoWriter: HasExpiring answers while the writer
// changes the newest state's nodes in place (when a View would wait for
// that batch to commit, and its wait would pause changes in place).
func TestHasExpiringWaitsForNoWriter(t *testing.T) {
	db := openTemp(t, &Options{Durability: Everysec, FlushInterval: time.Hour, NoWarmCache: true}) // no timed flush: the leaf stays unflushed, changeable in place
	if err := db.Update(func(tx *Tx) error {
		_, err := tx.Table(0).Put([]byte("k"), []byte("v"), TypeString, time.Now().Add(time.Hour).UnixMilli())
		return err
	}); err != nil {
		t.Fatal(err)
	}
	whileInPlace(t, db, func() {
		if !db.HasExpiring() {
			t.Error("HasExpiring false with a key that expires")
		}
	})
}

// whileInPlace runs fn while a batch of db's writer holds changes in
// place open (the gate that makes readers of the newest state wait), and
// fails the test if fn waits for that batch or counts as a reader that
// waited (which would pause changes in place).
func whileInPlace(t *testing.T, db *DB, fn func()) {
	t.Helper()
	inside, release := make(chan bool), make(chan struct{})
	p := NewPending(func(tx *Tx) error {
		err := putString(tx, 0, []byte("whileInPlace"), []byte("v"))
		inside <- tx.w.ip == ipOn
		<-release
		return err
	})
	go db.SubmitAll(p) // the submitter may lead the batch itself
	if !<-inside {
		close(release)
		t.Fatal("the batch did not change nodes in place")
	}
	waits := db.gateWaits.Load()
	done := make(chan struct{})
	go func() {
		defer close(done)
		fn()
	}()
	select {
	case <-done:
		if w := db.gateWaits.Load(); w != waits {
			t.Errorf("%d readers waited at the gate", w-waits)
		}
	case <-time.After(10 * time.Second):
		t.Error("waited for the batch changing nodes in place")
	}
	close(release)
	if err := p.Wait(); err != nil {
		t.Fatal(err)
	}
	<-done
}
