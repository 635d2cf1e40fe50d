package store

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/digby-db/digby/page"
)

// faultBackend wraps the data file and, once armed, fails the Nth write
// (or sync) and every one after it, as a full or failing disk does.
type faultBackend struct {
	*os.File
	kind  string // enospc, eio, short, torn, fsync
	after int64
	armed atomic.Bool
	count atomic.Int64
	hits  atomic.Int64
}

func (b *faultBackend) trip() bool {
	return b.armed.Load() && b.count.Add(1) >= b.after && b.hits.Add(1) > 0
}

func (b *faultBackend) WriteAt(p []byte, off int64) (int, error) {
	if b.kind == "fsync" || !b.trip() {
		return b.File.WriteAt(p, off)
	}
	switch b.kind {
	case "enospc":
		return 0, &os.PathError{Op: "write", Path: b.Name(), Err: syscall.ENOSPC}
	case "eio":
		return 0, &os.PathError{Op: "write", Path: b.Name(), Err: syscall.EIO}
	case "short":
		n, _ := b.File.WriteAt(p[:len(p)/2], off)
		return n, nil
	default: // torn
		n, _ := b.File.WriteAt(p[:len(p)/2+1], off)
		return n, &os.PathError{Op: "write", Path: b.Name(), Err: syscall.EIO}
	}
}

func (b *faultBackend) Sync() error {
	if b.kind == "fsync" && b.trip() {
		return &os.PathError{Op: "sync", Path: b.Name(), Err: syscall.EIO}
	}
	return b.File.Sync()
}

// causeOK reports whether err names (and wraps) the injected cause.
func causeOK(kind string, err error) bool {
	switch kind {
	case "enospc":
		return errors.Is(err, syscall.ENOSPC) && strings.Contains(err.Error(), "no space left")
	case "eio", "torn":
		return errors.Is(err, syscall.EIO) && strings.Contains(err.Error(), "input/output error")
	case "short":
		return errors.Is(err, io.ErrShortWrite)
	default:
		return errors.Is(err, syscall.EIO) && strings.Contains(err.Error(), "fsync")
	}
}

func TestFaultInjection(t *testing.T) {
	for _, mode := range []Durability{Always, Everysec} {
		for _, kind := range []string{"enospc", "eio", "short", "torn", "fsync"} {
			for _, after := range []int64{1, 2, 3} {
				t.Run(fmt.Sprintf("%v/%s/%d", mode, kind, after), func(t *testing.T) {
					runFault(t, mode, kind, after)
				})
			}
		}
	}
}

// openFault opens a store in dir whose data file is a faultBackend of
// kind, failing from its after-th write (or sync) once armed.
func openFault(t *testing.T, dir string, mode Durability, kind string, after int64) (*DB, *faultBackend) {
	t.Helper()
	var fb *faultBackend
	// NoCompression: the tests count a flush's writes of pages their
	// values fill.
	opts := &Options{Durability: mode, FlushInterval: time.Hour, NoCompression: true, OpenFile: func(path string) (page.Backend, error) {
		f, err := os.OpenFile(path, os.O_RDWR, 0)
		if err != nil {
			return nil, err
		}
		fb = &faultBackend{File: f, kind: kind, after: after}
		return fb, nil
	}}
	db, err := Open(dir, opts)
	if err != nil {
		t.Fatal(err)
	}
	return db, fb
}

func runFault(t *testing.T, mode Durability, kind string, after int64) {
	dir := t.TempDir()
	db, fb := openFault(t, dir, mode, kind, after)
	var err error
	// Table 0 is written before the fault and never again.
	base := model{}
	if err := db.Update(func(tx *Tx) error {
		for i := 0; i < 300; i++ {
			k := fmt.Sprintf("base-%04d", i)
			v := bytes.Repeat([]byte{byte(i)}, 20+i%50)
			if i%40 == 0 {
				v = bytes.Repeat([]byte{byte(i)}, 9000)
			}
			if _, err := tx.Table(0).Put([]byte(k), v, TypeString, 0); err != nil {
				return err
			}
			base.table(0)[k] = modelVal{val: v}
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if err := db.Flush(); err != nil {
		t.Fatal(err)
	}
	fb.armed.Store(true)
	// Batches of concurrent submissions to table 1 until the fault fires.
	// Submissions are queued in order and the writer applies them in that
	// order, in commits of its own choosing: states[j] is table 1 after the
	// first j submissions; acked is the last one known durable.
	states := []map[string]modelVal{{}}
	acked := 0
	var failErr error
	for b := 1; b <= 20 && failErr == nil; b++ {
		var wg sync.WaitGroup
		errs := make([]error, 8)
		for s := 0; s < 8; s++ {
			next := map[string]modelVal{}
			for k, v := range states[len(states)-1] {
				next[k] = v
			}
			keys := map[string][]byte{}
			for j := 0; j < 3; j++ {
				v := bytes.Repeat([]byte{byte(b + s + j)}, 10+j*30)
				if (s+j)%5 == 0 {
					v = bytes.Repeat([]byte{byte(b)}, 6000)
				}
				k := fmt.Sprintf("b%02d-s%d-k%d", b, s, j)
				keys[k] = v
				next[k] = modelVal{val: v}
			}
			p := db.Submit(func(tx *Tx) error {
				for k, v := range keys {
					if _, err := tx.Table(1).Put([]byte(k), v, TypeString, 0); err != nil {
						return err
					}
				}
				return nil
			})
			wg.Add(1)
			go func() { defer wg.Done(); errs[s] = p.Wait() }()
			states = append(states, next)
		}
		wg.Wait()
		var batchErr error
		for _, err := range errs {
			if err != nil {
				batchErr = err
			}
		}
		if mode == Always && batchErr != nil {
			// The submissions acknowledged before the fault are durable;
			// every submitter from the failed commit on hears of the
			// fault, with its cause.
			first := -1
			for s, err := range errs {
				if err != nil && first < 0 {
					first = s
				}
				if first >= 0 && (err == nil || !errors.Is(err, ErrFailed) || !causeOK(kind, err)) {
					t.Fatalf("batch %d submission %d: got %v, want ErrFailed naming the %s fault", b, s, err, kind)
				}
			}
			acked = len(states) - 1 - (8 - first)
			failErr = batchErr
			break
		}
		if batchErr != nil {
			// Everysec acknowledges on commit; a fault inside the commit
			// (an overflow write) still fails the batch.
			if !errors.Is(batchErr, ErrFailed) || !causeOK(kind, batchErr) {
				t.Fatalf("batch %d: %v", b, batchErr)
			}
			failErr = batchErr
			break
		}
		if mode != Always {
			if err := db.Flush(); err != nil {
				if !errors.Is(err, ErrFailed) || !causeOK(kind, err) {
					t.Fatalf("flush after batch %d: got %v, want ErrFailed naming the %s fault", b, err, kind)
				}
				failErr = err
				break
			}
		}
		acked = len(states) - 1
	}
	if failErr == nil {
		t.Fatalf("the %s fault after %d never fired", kind, after)
	}
	if err := db.Failed(); err == nil || !errors.Is(err, ErrFailed) || !causeOK(kind, err) {
		t.Fatalf("Failed() = %v after the fault", err)
	}
	// Later writes are refused without running.
	ran := false
	err = db.Update(func(tx *Tx) error { ran = true; return nil })
	if !errors.Is(err, ErrFailed) || ran {
		t.Fatalf("write after the fault: err %v, ran %v", err, ran)
	}
	if err := db.Flush(); !errors.Is(err, ErrFailed) {
		t.Fatalf("flush after the fault: %v", err)
	}
	// Reads go on: table 0 is intact, table 1 scans without error.
	fb.armed.Store(false) // reads never touch the fault; keep the file sane for Close
	if err := db.View(func(tx *Tx) error {
		c := tx.Table(1).Cursor()
		for ok := c.First(); ok; ok = c.Next() {
			_ = c.Tuple()
		}
		return c.Err()
	}); err != nil {
		t.Fatalf("read after the fault: %v", err)
	}
	readErr, wrong := readAgainst(db, base)
	if readErr != nil {
		t.Fatalf("read after the fault: %v", readErr)
	}
	// readAgainst also compares table 1 with the base model (empty): only
	// table 0, written before the fault, must match.
	if wrong != nil && strings.HasPrefix(wrong.Error(), "table 0") {
		t.Fatalf("read after the fault: %v", wrong)
	}
	if err := db.Close(); err == nil {
		t.Fatal("Close of a failed store returned no error")
	}
	// Reopen with a healthy file: a committed state at or after the last
	// acknowledged durable batch, and sound.
	db, err = Open(dir, &Options{Durability: Always})
	if err != nil {
		t.Fatalf("reopen after the fault: %v", err)
	}
	defer db.Close()
	got := map[string]modelVal{}
	if err := db.View(func(tx *Tx) error {
		c := tx.Table(1).Cursor()
		for ok := c.First(); ok; ok = c.Next() {
			tu := c.Tuple()
			got[string(tu.Key)] = modelVal{val: bytes.Clone(tu.Value)}
		}
		return c.Err()
	}); err != nil {
		t.Fatal(err)
	}
	match := -1
	for j := acked; j < len(states); j++ {
		if sameTable(got, states[j]) {
			match = j
		}
	}
	if match < 0 {
		t.Fatalf("after reopen table 1 holds %d keys, matching no state after submission %d (acknowledged) to %d", len(got), acked, len(states)-1)
	}
	t.Logf("fault fired by submission %d; acknowledged %d; reopened after %d", len(states)-1, acked, match)
	m := base.clone()
	m[1] = states[match]
	verify(t, db, m)
	mustCheck(t, db)
	if err := db.Update(func(tx *Tx) error {
		_, err := tx.Table(2).Put([]byte("again"), []byte("ok"), TypeString, 0)
		return err
	}); err != nil {
		t.Fatalf("write after reopen: %v", err)
	}
	mustCheck(t, db)
}

func sameTable(a, b map[string]modelVal) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if w, ok := b[k]; !ok || !bytes.Equal(v.val, w.val) {
			return false
		}
	}
	return true
}
