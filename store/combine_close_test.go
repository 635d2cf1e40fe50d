package store

import (
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"
)

// TestPanicWhileLeadingFailsStore: a panic in apply outside the write
// function's own recover (here commit meeting a nil node the write put in
// its list of superseded nodes; in the field any bug in commit, logCommit,
// kickFlush...) must not unwind a
// leading submitter with the writer's role held: when the caller
// recovers it (commands' safeRun around EXEC's Update does), later
// submissions, Flush and Close would wait forever. The store fails
// instead, naming the panic, and answers that batch and later writes
// with that error.
func TestPanicWhileLeadingFailsStore(t *testing.T) {
	db, err := Open(t.TempDir(), &Options{Durability: Everysec, NoWarmCache: true})
	if err != nil {
		t.Fatal(err)
	}
	put := func(tx *Tx) error {
		if err := putString(tx, 0, []byte("k"), []byte("v")); err != nil {
			return err
		}
		tx.w.superseded = append(tx.w.superseded, nil) // commit panics on it
		return nil
	}
	func() {
		defer func() {
			if r := recover(); r != nil {
				t.Errorf("the panic reached the leading submitter: %v", r)
			}
		}()
		if err := db.Update(put); err == nil || !strings.Contains(err.Error(), "panic in the writer") {
			t.Errorf("the batch that panicked: %v, want the store failed naming the panic", err)
		}
	}()
	res := make(chan error, 1)
	go func() { res <- db.Update(put) }()
	select {
	case err := <-res:
		if err == nil || !strings.Contains(err.Error(), "panic in the writer") {
			t.Fatalf("write after a panic while leading: %v, want the store failed naming the panic", err)
		}
	case <-time.After(10 * time.Second):
		db.cmu.Lock()
		leading := db.leading
		db.cmu.Unlock()
		locked := !db.wmu.TryLock()
		t.Fatalf("Update after a panic while leading hangs (wmu held: %v, leading: %v)", locked, leading)
	}
	cerr := make(chan error, 1)
	go func() { cerr <- db.Close() }()
	select {
	case <-cerr:
	case <-time.After(10 * time.Second):
		t.Fatal("Close after a panic while leading hangs")
	}
}

// TestCloseUnderSubmissions: submitters keep submitting (leading,
// waiting) while Close runs: every submission is answered (applied or
// ErrClosed), nothing hangs.
func TestCloseUnderSubmissions(t *testing.T) {
	for _, cfg := range submitModes() {
		t.Run(cfg.name, func(t *testing.T) {
			for round := 0; round < 5; round++ {
				o := cfg.o
				db, err := Open(t.TempDir(), &o)
				if err != nil {
					t.Fatal(err)
				}
				var wg sync.WaitGroup
				var mu sync.Mutex
				var pend []*Pending
				for g := range 6 {
					wg.Add(1)
					go func() {
						defer wg.Done()
						last := 0
						for i := 0; ; i++ {
							run := make([]*Pending, 1+i%7)
							for j := range run {
								key := []byte(fmt.Sprintf("k%d:%d", g, (i*7+j)%3000))
								n := i*7 + j
								run[j] = NewPending(func(tx *Tx) error {
									if j == 3 {
										panic("boom")
									}
									// order within the goroutine
									if n < last {
										return fmt.Errorf("out of order: %d after %d", n, last)
									}
									last = n
									return putString(tx, 0, key, make([]byte, 200))
								})
							}
							db.SubmitAll(run...)
							mu.Lock()
							pend = append(pend, run...)
							mu.Unlock()
							if i%3 == 0 {
								p := run[len(run)-1]
								<-p.Done()
								if errors.Is(p.err, ErrClosed) {
									return
								}
								if p.err != nil && strings.HasPrefix(p.err.Error(), "out of order") {
									t.Error(p.err)
								}
							}
						}
					}()
				}
				time.Sleep(time.Duration(5+round*7) * time.Millisecond)
				cerr := make(chan error, 1)
				go func() { cerr <- db.Close() }()
				select {
				case err := <-cerr:
					if err != nil {
						t.Fatal(err)
					}
				case <-time.After(20 * time.Second):
					t.Fatal("Close hangs")
				}
				wg.Wait()
				mu.Lock()
				for _, p := range pend {
					select {
					case <-p.Done():
						if p.err != nil && strings.HasPrefix(p.err.Error(), "out of order") {
							t.Fatal(p.err)
						}
					case <-time.After(5 * time.Second):
						t.Fatal("a submission is never answered")
					}
				}
				mu.Unlock()
			}
		})
	}
}
