package store

import (
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// reviewPanicAfterAck makes the next flush the writer starts panic
// (take's make with a negative capacity) and submits a write through
// Then only (no channel made), then checks that Then ran once: the
// batch is answered, then the panic's recover (applyGuarded) and, in
// Always mode, Close's flush of db.waiters find it answered already.
func reviewPanicAfterAck(t *testing.T, o Options, wantPanic bool) {
	db, err := Open(t.TempDir(), &o)
	if err != nil {
		t.Fatal(err)
	}
	if err := db.control(func() error {
		db.flushSet.live = -1 << 40 // the next take panics; dirtyBytes < 0: no back-pressure
		db.lastFlush.Store(0)       // Everysec: the batch kicks a flush
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	var thens atomic.Int32
	answered := make(chan struct{}, 4)
	p := NewPending(func(tx *Tx) error { return putString(tx, 0, []byte("k"), []byte("v")) })
	p.Then(func() { thens.Add(1); answered <- struct{}{} })
	db.SubmitLead(p)
	select {
	case <-answered:
	case <-time.After(10 * time.Second):
		t.Fatal("never answered")
	}
	err = p.Wait()
	db.Close()
	if n := thens.Load(); n != 1 {
		t.Fatalf("Then ran %d times", n)
	}
	failed := db.Failed()
	if failed == nil || !strings.Contains(failed.Error(), "panic in the writer") {
		t.Fatalf("store: %v, want failed by the panic", failed)
	}
	if wantPanic && (err == nil || !strings.Contains(err.Error(), "panic in the writer")) {
		t.Fatalf("Wait = %v, want the panic", err)
	}
	if !wantPanic && err != nil {
		t.Fatalf("Wait = %v, want nil (answered at commit, before the panic)", err)
	}
	if p.done != nil {
		t.Fatal("a channel was made for a submission only answered through Then")
	}
}

func TestReviewPanicAfterAckEverysec(t *testing.T) {
	reviewPanicAfterAck(t, Options{Durability: Everysec, FlushInterval: time.Hour, NoWarmCache: true}, false)
}

func TestReviewPanicAfterAckAlways(t *testing.T) {
	reviewPanicAfterAck(t, Options{Durability: Always, FlushInterval: time.Hour, NoWarmCache: true}, true)
}
