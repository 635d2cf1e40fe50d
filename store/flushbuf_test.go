package store

import (
	"bytes"
	"fmt"
	"runtime"
	"testing"
	"time"
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
// memory, faulted in page by page).
func TestFlushBufHeadroom(t *testing.T) {
	db, err := Open(t.TempDir(), &Options{Durability: Everysec, FlushInterval: time.Hour, NoWarmCache: true})
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
	arrays := map[*byte]bool{}
	for r, m := 0, 9000; r < 10; r, m = r+1, m*106/100 {
		put(0, m) // about m/30 leaves, 6% more each round
		if err := db.control(func() error {
			if cap(db.flushBuf.buf) > 0 {
				arrays[&db.flushBuf.buf[:1][0]] = true
			}
			return nil
		}); err != nil {
			t.Fatal(err)
		}
	}
	if len(arrays) > 3 {
		t.Fatalf("10 flushes growing 6%% each used %d page arrays, want at most 3", len(arrays))
	}
}

// TestPageArray: an array holds what is asked, is writable whole, and on
// Linux lives in a mapping of its own (released by unmapping); a database
// closed after flushes holds none.
func TestPageArray(t *testing.T) {
	for _, n := range []int{4096, 3 << 20, 10<<20 + 4096} {
		a := newPageArray(n)
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
