package store

import (
	"os"
	"sync/atomic"
	"testing"
	"time"

	"github.com/digby-db/digby/page"
)

// syncGate holds the Syncs of the files it wraps, once armed, until
// released.
type syncGate struct {
	armed   atomic.Bool
	entered chan struct{} // a sync is waiting at the gate
	release chan struct{}
}

// gatedSync is a file whose Sync waits at its gate.
type gatedSync struct {
	*os.File
	g *syncGate
}

func (f gatedSync) Sync() error {
	if f.g.armed.Load() {
		select {
		case f.g.entered <- struct{}{}:
		default:
		}
		<-f.g.release
	}
	return f.File.Sync()
}

// TestDurableAnswersWithoutWriter: a batch waiting for its durability
// (Always's flush, or the commit log's round) is answered by the
// goroutine whose sync made it durable, even while another holds the
// writer's role: before, only the role's holder answered it, once it got
// to the flush's or round's end.
func TestDurableAnswersWithoutWriter(t *testing.T) {
	for _, log := range []bool{false, true} {
		name := "flush"
		if log {
			name = "log"
		}
		t.Run(name, func(t *testing.T) {
			g := &syncGate{entered: make(chan struct{}, 1), release: make(chan struct{})}
			opts := &Options{Durability: Always, FlushInterval: time.Hour, NoWarmCache: true}
			if log {
				opts = logOpts(nil)
			}
			opts.OpenFile = wrapFiles(log, func(f *os.File) page.Backend { return gatedSync{f, g} })
			db, err := Open(t.TempDir(), opts)
			if err != nil {
				t.Fatal(err)
			}
			defer db.Close()
			g.armed.Store(true)
			p := db.Submit(func(tx *Tx) error { return putString(tx, 0, []byte("k"), []byte("v")) })
			select {
			case <-g.entered:
			case <-time.After(10 * time.Second):
				t.Fatal("the batch's sync never started")
			}
			var answered bool
			err = db.control(func() error {
				close(g.release) // the sync returns while this holds the role
				select {
				case <-p.Done():
					answered = true
				case <-time.After(5 * time.Second):
				}
				return nil
			})
			g.armed.Store(false)
			if err != nil {
				t.Fatal(err)
			}
			if !answered {
				t.Fatal("the batch was not answered while the writer's role was held")
			}
			if err := p.Wait(); err != nil {
				t.Fatal(err)
			}
			verify(t, db, model{0: {"k": {val: []byte("v")}}})
			mustCheck(t, db)
		})
	}
}
