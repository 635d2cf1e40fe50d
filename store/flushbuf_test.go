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

// TestFlushWindowBounded: a flush passes its pages through one window of
// at most two halves of flushHalf bytes, whatever its size, and the next
// flush reuses it: flushes of about 600 to 9,000 leaves (2 to 36 MB of
// pages, all but the first larger than the window) make one array.
func TestFlushWindowBounded(t *testing.T) {
	counts := &arrayCounts{}
	// NoCompression: the flushes must be as large as the keys' values make them.
	db := openTemp(t, &Options{Durability: Everysec, FlushInterval: time.Hour, NoWarmCache: true, DirtyCap: 1 << 30, arrays: counts, NoCompression: true})
	val := bytes.Repeat([]byte("v"), 100)
	key := func(i int) []byte { return []byte(fmt.Sprintf("key-%07d", i)) }
	for _, m := range []int{20000, 100000, 300000} {
		w0 := db.Stats().BytesWritten
		updateRange(t, db, 0, m, 1, 5000, func(tx *Tx, i int) error { return putString(tx, 0, key(i), val) })
		if err := db.Flush(); err != nil {
			t.Fatal(err)
		}
		written := db.Stats().BytesWritten - w0
		var window int
		if err := db.control(func() error { window = cap(db.flushBuf.buf); return nil }); err != nil {
			t.Fatal(err)
		}
		t.Logf("%d keys: the flush wrote %d MB through a window of %d MB", m, written>>20, window>>20)
		if m == 300000 && written < 4*flushHalf {
			t.Fatalf("the largest flush wrote %d bytes: not larger than the window", written)
		}
		if window > 2*flushHalf+2<<20 {
			t.Fatalf("a window of %d bytes after a flush of %d: more than two halves of %d", window, written, flushHalf)
		}
	}
	if n := counts.made.Load(); n > 2 {
		t.Fatalf("%d page arrays made for three flushes, want at most 2 (a small one, then the whole window)", n)
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
