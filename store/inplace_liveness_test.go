package store

import (
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/digby-db/digby/page"
)

// inPlaceOpen opens a store where batches change nodes in place (or not,
// with noInPlace) and commits 200 keys that stay in the flush set.
func inPlaceOpen(t *testing.T, noInPlace bool) *DB {
	t.Helper()
	db, err := Open(t.TempDir(), &Options{FlushInterval: time.Hour, NoWarmCache: true, NoInPlace: noInPlace})
	if err != nil {
		t.Fatal(err)
	}
	putKeys(t, db, 200, "a")
	return db
}

// TestInPlaceViewInsideWrite: a write function that calls DB.View
// (against View's contract) after its batch changed a node in place would
// wait for its own commit, with the writer's role held: every later read,
// write and Close would hang (found by a review: the server's INFO inside
// EXEC did it). The View fails with ErrViewInWrite instead; without
// changes in place it reads the newest committed state, as before.
func TestInPlaceViewInsideWrite(t *testing.T) {
	for _, noInPlace := range []bool{true, false} {
		t.Run(fmt.Sprintf("noinplace=%v", noInPlace), func(t *testing.T) {
			db := inPlaceOpen(t, noInPlace)
			done := make(chan error, 1)
			go func() {
				done <- db.Update(func(tx *Tx) error {
					if _, err := tx.Table(0).Put([]byte("k0007"), []byte("b"), TypeString, 0); err != nil {
						return err
					}
					return db.View(func(r *Tx) error {
						_, err := r.Tables()
						return err
					})
				})
			}()
			select {
			case err := <-done:
				if noInPlace && err != nil {
					t.Fatal(err)
				}
				if !noInPlace && !errors.Is(err, ErrViewInWrite) {
					t.Fatalf("View inside a write function changing nodes in place: %v, want ErrViewInWrite", err)
				}
				// The store goes on: the failed submission rolled back.
				if err := db.View(func(tx *Tx) error { _, err := tx.Tables(); return err }); err != nil {
					t.Fatal(err)
				}
				putKeys(t, db, 10, "c")
				db.Close()
			case <-time.After(10 * time.Second):
				// db is left open: its writer is stuck for good.
				t.Fatalf("a View inside a write function hangs (in-place nodes %d, gate set: %v)",
					db.inPlaceNodes.Load(), db.gate.Load() != nil)
			}
		})
	}
}

// TestInPlacePanicTears: a panic in apply outside the write functions'
// own recover, after the batch changed a node in place (injected as in
// TestPanicWhileLeadingFailsStore: a bad entry that makes commit panic; in
// the field any bug in commit), fails the store (applyGuarded). The
// current state holds the batch's changes never committed, so readers
// after it get the store's error; before the fix (found by a review) the
// gate stayed shut and they waited forever.
func TestInPlacePanicTears(t *testing.T) {
	db := inPlaceOpen(t, false)
	err := db.Update(func(tx *Tx) error {
		if _, err := tx.Table(0).Put([]byte("k0007"), []byte("b"), TypeString, 0); err != nil {
			return err
		}
		if tx.w.ip != ipOn {
			return fmt.Errorf("the batch did not enter in-place mode (ip %d)", tx.w.ip)
		}
		tx.w.superseded = append(tx.w.superseded, nil) // commit panics on it
		return nil
	})
	if err == nil || !strings.Contains(err.Error(), "panic in the writer") {
		t.Fatalf("batch: %v, want the store failed naming the panic", err)
	}
	res := make(chan error, 1)
	go func() {
		res <- db.View(func(tx *Tx) error {
			_, _, err := tx.Table(0).Get([]byte("k0007"))
			return err
		})
	}()
	select {
	case err := <-res:
		if !errors.Is(err, ErrFailed) {
			t.Fatalf("reader after the panic: %v, want ErrFailed", err)
		}
		db.Close()
	case <-time.After(3 * time.Second):
		t.Fatalf("a reader after a writer panic in in-place mode hangs (gate set: %v, torn: %v, cur refs %d)",
			db.gate.Load() != nil, db.torn.Load(), db.cur.Load().refs.Load())
	}
}

// TestInPlaceReaderWaitsOneSubmission: a reader that starts waiting for a
// batch changing nodes in place ends the batch's transaction after the
// submission running: it reads that submission's write while the batch's
// next submission is still running (in a transaction of its own, which
// copies: the pause after a wait).
func TestInPlaceReaderWaitsOneSubmission(t *testing.T) {
	db := inPlaceOpen(t, false)
	defer db.Close()
	changed, release1, second, release2 := make(chan struct{}), make(chan struct{}), make(chan struct{}), make(chan struct{})
	var once1, once2 sync.Once
	defer once2.Do(func() { close(release2) })
	defer once1.Do(func() { close(release1) })
	ps := []*Pending{
		NewPending(func(tx *Tx) error {
			if _, err := tx.Table(0).Put([]byte("k0007"), []byte("b"), TypeString, 0); err != nil {
				return err
			}
			close(changed)
			<-release1
			return nil
		}),
		NewPending(func(tx *Tx) error {
			close(second)
			<-release2
			_, err := tx.Table(0).Put([]byte("k0008"), []byte("c"), TypeString, 0)
			return err
		}),
	}
	go db.SubmitAll(ps...)
	<-changed
	seen := make(chan string, 1)
	go func() {
		_ = db.View(func(tx *Tx) error {
			v, _, err := tx.Table(0).Get([]byte("k0007"))
			if err != nil {
				t.Error(err)
			}
			seen <- string(v.Value)
			return nil
		})
	}()
	for db.gateWaits.Load() == 0 {
		time.Sleep(time.Millisecond)
	}
	once1.Do(func() { close(release1) })
	<-second
	select {
	case v := <-seen:
		if v != "b" {
			t.Fatalf("the reader read %q, want the first submission's %q", v, "b")
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the reader waited for the batch's next submission too")
	}
	once2.Do(func() { close(release2) })
	for _, p := range ps {
		if err := p.Wait(); err != nil {
			t.Fatal(err)
		}
	}
	mustCheck(t, db)
}

// TestInPlaceCommitFailureTears: a commit that fails after changes in
// place (here the catalog's update reads a page past the file's end) fails
// the store, and readers get the failure: neither the changes never
// committed nor a wait for a publish that will not come.
func TestInPlaceCommitFailureTears(t *testing.T) {
	db := inPlaceOpen(t, false)
	defer db.Close()
	err := db.Update(func(tx *Tx) error {
		if _, err := tx.Table(0).Put([]byte("k0007"), []byte("b"), TypeString, 0); err != nil {
			return err
		}
		if tx.w.ip != ipOn {
			return fmt.Errorf("the batch did not enter in-place mode (ip %d)", tx.w.ip)
		}
		tx.catalog.Root = page.Ref{ID: 1 << 40, Txn: tx.w.txn - 1, Pages: 1} // commit's catalog read fails
		return nil
	})
	if !errors.Is(err, ErrFailed) {
		t.Fatalf("batch: %v, want the store failed", err)
	}
	res := make(chan error, 1)
	go func() {
		res <- db.View(func(tx *Tx) error {
			v, _, err := tx.Table(0).Get([]byte("k0007"))
			if err == nil {
				return fmt.Errorf("a reader read %q after the failed commit", v.Value)
			}
			return err
		})
	}()
	select {
	case err := <-res:
		if !errors.Is(err, ErrFailed) {
			t.Fatalf("reader after the failed commit: %v, want ErrFailed", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("a reader after a failed commit in in-place mode hangs")
	}
}

// TestInPlaceHeavyNoWait: a heavy submission (Pending.Heavy) is applied
// without changes in place: the transaction that changed a node in place
// before it commits first, and a reader arriving while the heavy one runs
// reads the state before it at once instead of waiting for it; a batch
// that starts with a heavy submission copies throughout.
func TestInPlaceHeavyNoWait(t *testing.T) {
	db := inPlaceOpen(t, false)
	defer db.Close()
	started, release := make(chan struct{}), make(chan struct{})
	var once sync.Once
	defer once.Do(func() { close(release) })
	var firstIP, heavyIP int
	heavy := NewPending(func(tx *Tx) error {
		if _, err := tx.Table(0).Put([]byte("k0008"), []byte("c"), TypeString, 0); err != nil {
			return err
		}
		heavyIP = tx.w.ip
		close(started)
		<-release
		return nil
	})
	heavy.Heavy()
	ps := []*Pending{
		NewPending(func(tx *Tx) error {
			_, err := tx.Table(0).Put([]byte("k0007"), []byte("b"), TypeString, 0)
			firstIP = tx.w.ip
			return err
		}),
		heavy,
	}
	go db.SubmitAll(ps...)
	<-started
	if firstIP != ipOn {
		t.Fatalf("the first submission did not change its leaf in place (ip %d): the test proves nothing", firstIP)
	}
	if heavyIP == ipOn {
		t.Fatal("the heavy submission ran in a transaction changing nodes in place")
	}
	seen := make(chan [2]string, 1)
	go func() {
		_ = db.View(func(tx *Tx) error {
			a, _, err := tx.Table(0).Get([]byte("k0007"))
			if err != nil {
				t.Error(err)
			}
			b, _, err := tx.Table(0).Get([]byte("k0008"))
			if err != nil {
				t.Error(err)
			}
			seen <- [2]string{string(a.Value), string(b.Value)}
			return nil
		})
	}()
	select {
	case v := <-seen:
		if v != [2]string{"b", "a"} {
			t.Fatalf("the reader read %q, want the state before the heavy submission [b a]", v)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the reader waited for the heavy submission")
	}
	once.Do(func() { close(release) })
	for _, p := range ps {
		if err := p.Wait(); err != nil {
			t.Fatal(err)
		}
	}

	// A batch whose first submission is heavy copies throughout.
	var ips []int
	h := NewPending(func(tx *Tx) error {
		_, err := tx.Table(0).Put([]byte("k0009"), []byte("d"), TypeString, 0)
		ips = append(ips, tx.w.ip)
		return err
	})
	h.Heavy()
	after := NewPending(func(tx *Tx) error {
		_, err := tx.Table(0).Put([]byte("k0010"), []byte("e"), TypeString, 0)
		ips = append(ips, tx.w.ip)
		return err
	})
	db.SubmitAll(h, after)
	if err := after.Wait(); err != nil {
		t.Fatal(err)
	}
	if len(ips) != 2 || ips[0] == ipOn || ips[1] == ipOn {
		t.Fatalf("in-place modes %v, want none on", ips)
	}

	// UpdateHeavy is Update submitted heavy: the same write changes its
	// leaf in place through Update, and copies through UpdateHeavy.
	for _, heavy := range []bool{false, true} {
		update := db.Update
		if heavy {
			update = db.UpdateHeavy
		}
		var ip int
		if err := update(func(tx *Tx) error {
			_, err := tx.Table(0).Put([]byte("k0011"), []byte("f"), TypeString, 0)
			ip = tx.w.ip
			return err
		}); err != nil {
			t.Fatal(err)
		}
		if (ip == ipOn) == heavy {
			t.Fatalf("heavy %v: in-place mode %d", heavy, ip)
		}
	}
	mustCheck(t, db)
}
