package store

import (
	"bytes"
	"fmt"
	"os"
	"runtime"
	"testing"
	"time"

	"github.com/digby-db/digby/page"
)

// TestKeepFlushBuf: a flush's page array is kept up to 16 MiB whatever was
// used of it, and up to twice the dirty cap while a flush fills a quarter.
func TestKeepFlushBuf(t *testing.T) {
	const mb = 1 << 20
	for _, c := range []struct {
		n, c int
		want bool
	}{
		{0, 16 * mb, true},          // small: always
		{45 * mb, 48 * mb, true},    // a busy writer's
		{12 * mb, 48 * mb, true},    // a quarter
		{11 * mb, 48 * mb, false},   // an idle writer's flush: let go
		{129 * mb, 129 * mb, false}, // past twice the 64 MiB cap
		{128 * mb, 128 * mb, true},  // at it
	} {
		if got := keepFlushBuf(c.n, c.c, 64*mb); got != c.want {
			t.Errorf("keepFlushBuf(%d, %d): %v, want %v", c.n, c.c, got, c.want)
		}
	}
}

// TestFlushBufHeadroom: flushes that grow a little each time reuse one
// page array for a while: a new array has room for flushes half as large
// again, not just for the flush that needed it (each new array is fresh
// memory, faulted in as it is first written).
func TestFlushBufHeadroom(t *testing.T) {
	counts := &arrayCounts{}
	db, err := Open(t.TempDir(), &Options{Durability: Everysec, FlushInterval: time.Hour, NoWarmCache: true, arrays: counts})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	val := bytes.Repeat([]byte("v"), 100)
	key := func(i int) []byte { return []byte(fmt.Sprintf("key-%07d", i)) }
	put := func(from, to int) {
		t.Helper()
		updateRange(t, db, from, to, 1, to-from, func(tx *Tx, i int) error { return putString(tx, 0, key(i), val) })
		if err := db.Flush(); err != nil {
			t.Fatal(err)
		}
	}
	for i := 0; i < 40000; i += 1000 { // small flushes: a small array
		put(i, i+1000)
	}
	// Flushes of 8 MB and more, past the 2 MiB a mapping is rounded to.
	// Counted: flushes that found the kept array too small (not those
	// after an idle step's small flush let a large array go).
	before := counts.grown.Load()
	for r, m := 0, 60000; r < 10; r, m = r+1, m*112/100 {
		put(0, m) // about m/30 leaves, 12% more each round
	}
	if n := counts.grown.Load() - before; n > 3 {
		t.Fatalf("10 flushes growing 12%% each replaced the page array %d times, want at most 3", n)
	}
	if n := counts.mapped.Load(); runtime.GOOS == "linux" && n > 1 {
		t.Fatalf("%d page arrays mapped after the flushes, want at most the one kept", n)
	}
}

// TestPageArray: an array holds what is asked, is writable whole, and on
// Linux lives in a mapping of its own (released by unmapping); a database
// closed after flushes holds none.
func TestPageArray(t *testing.T) {
	for _, n := range []int{4096, 3 << 20, 10<<20 + 4096} {
		a := newPageArray(n, nil)
		if len(a.buf) != 0 || cap(a.buf) < n {
			t.Fatalf("newPageArray(%d): len %d cap %d", n, len(a.buf), cap(a.buf))
		}
		if runtime.GOOS == "linux" && !a.mapped {
			t.Fatalf("newPageArray(%d) is not a mapping", n)
		}
		b := a.buf[:cap(a.buf)]
		for i := 0; i < len(b); i += 4096 {
			b[i] = byte(i)
		}
		a.release()
		if a.buf != nil || a.mapped {
			t.Fatal("release left the array")
		}
	}
	db, err := Open(t.TempDir(), &Options{Durability: Everysec, FlushInterval: time.Hour, NoWarmCache: true})
	if err != nil {
		t.Fatal(err)
	}
	updateRange(t, db, 0, 5000, 1, 5000, func(tx *Tx, i int) error {
		return putString(tx, 0, []byte(fmt.Sprintf("key-%07d", i)), []byte("v"))
	})
	if err := db.Flush(); err != nil {
		t.Fatal(err)
	}
	if err := db.control(func() error {
		if cap(db.flushBuf.buf) == 0 {
			return fmt.Errorf("no page array kept after a flush")
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	if db.flushBuf.buf != nil {
		t.Fatal("Close kept the page array")
	}
}

// TestPageArrayFailedOpen: an Open whose commit log replay flushed pages
// and then failed (here its sync) keeps no page array: nothing would
// ever release it.
func TestPageArrayFailedOpen(t *testing.T) {
	db, err := Open(t.TempDir(), logOpts(nil))
	if err != nil {
		t.Fatal(err)
	}
	updateRange(t, db, 0, 3000, 1, 100, func(tx *Tx, i int) error {
		return putString(tx, 0, []byte(fmt.Sprintf("key-%07d", i)), []byte("v"))
	})
	dir := snapshotFiles(t, db) // the log holds what no flush wrote
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	opts := logOpts(nil)
	counts := &arrayCounts{}
	opts.arrays = counts
	opts.OpenFile = func(path string) (page.Backend, error) {
		f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o644)
		if err != nil || path != DataPath(dir) {
			return f, err
		}
		fb := &faultBackend{File: f, kind: "fsync", after: 1}
		fb.armed.Store(true)
		return fb, nil
	}
	if c, err := Open(dir, opts); err == nil {
		c.Close()
		t.Fatal("Open succeeded though its replay's sync failed")
	}
	if counts.made.Load() == 0 {
		t.Fatal("the replay made no page array: the test tests nothing")
	}
	if n := counts.mapped.Load(); n != 0 {
		t.Fatalf("a failed Open left %d page arrays mapped", n)
	}
}
