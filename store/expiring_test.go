package store

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/digby-db/digby/page"
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
// twelve tables, up to twelve a submission and up to four submissions a
// transaction (past the count where a transaction indexes its table
// states, tableStates), some failing and rolled back alone:
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
		type op struct {
			kind, table, other uint32
			key                []byte
			at                 int64
		}
		for step := range 300 {
			// One to four submissions in one SubmitAll (one transaction,
			// a savepoint each), some failing: a failing one's changes,
			// table states included, are rolled back alone.
			var ps []*Pending
			var failing []bool
			for range 1 + r.IntN(4) {
				ops := make([]op, 1+r.IntN(tables))
				for i := range ops {
					ops[i] = op{kind: r.Uint32N(20), table: r.Uint32N(tables), other: r.Uint32N(tables), key: fmt.Appendf(nil, "k%d", r.IntN(40))}
					if ops[i].kind < 12 && r.IntN(3) > 0 { // a put or expiry change with an expiry
						ops[i].at = 1000 + r.Int64N(1000)
					}
				}
				fail := r.IntN(6) == 0
				failing = append(failing, fail)
				ps = append(ps, NewPending(func(tx *Tx) error {
					for _, o := range ops {
						tb := tx.Table(o.table)
						var err error
						switch {
						case o.kind < 8:
							_, err = tb.Put(o.key, []byte("v"), TypeString, o.at)
						case o.kind < 12:
							_, err = tb.SetExpire(o.key, o.at)
						case o.kind < 16:
							_, err = tb.Delete(o.key)
						case o.kind < 18:
							_, err = tb.ExpireDue(1500, 5)
						case o.kind < 19:
							err = tx.ClearTable(o.table)
						default:
							err = tx.SwapTables(o.table, o.other)
						}
						if err != nil {
							return err
						}
					}
					if fail {
						return errAbort
					}
					return nil
				}))
			}
			db.SubmitAll(ps...)
			for i, p := range ps {
				if err := p.Wait(); err != nil && !(failing[i] && errors.Is(err, errAbort)) {
					t.Fatalf("seed %d step %d: %v", seed, step, err)
				}
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

// TestHasExpiringCorruptCatalog: a damaged catalog page does not fail Open
// (the count behind HasExpiring is taken from it there); HasExpiring then
// answers true, so that the expiry cycle runs and meets the damage, and
// Check reports it naming the page.
func TestHasExpiringCorruptCatalog(t *testing.T) {
	dir := t.TempDir()
	db, err := Open(dir, &Options{Durability: Everysec, PageSize: corruptPS, NoWarmCache: true})
	if err != nil {
		t.Fatal(err)
	}
	if err := db.Update(func(tx *Tx) error {
		_, err := tx.Table(0).Put([]byte("k"), []byte("v"), TypeString, 0)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	if err := db.Flush(); err != nil {
		t.Fatal(err)
	}
	catalog := db.cur.Load().catalog.ID
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	flipByte(t, DataPath(dir), int64(catalog)*corruptPS+int64(page.HeaderSize)+1)
	db, err = Open(dir, &Options{Durability: Everysec, PageSize: corruptPS, NoWarmCache: true})
	if err != nil {
		t.Fatalf("open with a damaged catalog page %d: %v", catalog, err)
	}
	defer db.Close()
	if !db.HasExpiring() {
		t.Error("HasExpiring false with an unreadable catalog")
	}
	if _, err := db.Check(); !errors.Is(err, page.ErrCorrupt) || !namesPage(err, false, catalog) {
		t.Errorf("Check: %v, want corruption naming page %d", err, catalog)
	}
}
