package store

import (
	"errors"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// TestPendingChannelOnDemand: a submission answered through Then (as an
// event loop learns of it) never makes its channel; Done and Wait still
// work before and after the answer, and a channel asked for after the
// answer is closed already.
func TestPendingChannelOnDemand(t *testing.T) {
	db := openTemp(t, &Options{Durability: Everysec})
	boom := errors.New("boom")

	// Answered through Then: no channel, the result readable after.
	p := NewPending(func(tx *Tx) error { return putString(tx, 0, []byte("a"), []byte("1")) })
	q := NewPending(func(*Tx) error { return boom })
	answered := make(chan struct{}, 2)
	p.Then(func() { answered <- struct{}{} })
	q.Then(func() { answered <- struct{}{} })
	db.SubmitLead(p, q)
	for range 2 {
		select {
		case <-answered:
		case <-time.After(10 * time.Second):
			t.Fatal("a submission is never answered")
		}
	}
	p.mu.Lock()
	q.mu.Lock()
	made := p.done != nil || q.done != nil
	q.mu.Unlock()
	p.mu.Unlock()
	if made {
		t.Fatal("a submission answered through Then made its channel")
	}
	if err := p.Wait(); err != nil {
		t.Fatalf("p: %v", err)
	}
	if err := q.Wait(); !errors.Is(err, boom) {
		t.Fatalf("q: %v, want boom", err)
	}
	select {
	case <-q.Done(): // made after the answer: closed at once
	default:
		t.Fatal("Done after the answer is not closed")
	}

	// Waited on before the answer: the channel is made and closed by it.
	block := make(chan struct{})
	r := NewPending(func(*Tx) error { <-block; return nil })
	db.SubmitAsync(r)
	done := r.Done()
	select {
	case <-done:
		t.Fatal("Done closed before the answer")
	case <-time.After(20 * time.Millisecond):
	}
	close(block)
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("Done never closed")
	}
	if err := r.Wait(); err != nil {
		t.Fatal(err)
	}
}

// panicAfterAnswer (from a review) makes the next flush the writer starts panic
// (take's make with a negative capacity) and submits a write through
// Then only (no channel made), then checks that Then ran once: the
// batch is answered, then the panic's recover (applyGuarded) and, in
// Always mode, Close's flush of db.waiters find it answered already.
func panicAfterAnswer(t *testing.T, o Options, wantPanic bool) {
	db, err := Open(t.TempDir(), &o)
	if err != nil {
		t.Fatal(err)
	}
	if err := db.control(func() error {
		db.flushSet.live = -1 << 30 // the next take panics; dirtyBytes < 0: no back-pressure
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

func TestPendingAnsweredOnceEverysec(t *testing.T) {
	panicAfterAnswer(t, Options{Durability: Everysec, FlushInterval: time.Hour, NoWarmCache: true}, false)
}

func TestPendingAnsweredOnceAlways(t *testing.T) {
	panicAfterAnswer(t, Options{Durability: Always, FlushInterval: time.Hour, NoWarmCache: true}, true)
}
