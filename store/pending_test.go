package store

import (
	"errors"
	"testing"
	"time"
)

// TestPendingChannelOnDemand: a submission answered through Then (as an
// event loop learns of it) never makes its channel; Done and Wait still
// work before and after the answer, and a channel asked for after the
// answer is closed already.
func TestPendingChannelOnDemand(t *testing.T) {
	db, err := Open(t.TempDir(), &Options{Durability: Everysec})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
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
	made := p.done != nil || q.done != nil
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
