package store

import (
	"bytes"
	"errors"
	"fmt"
	"math/rand/v2"
	"runtime"
	"testing"

	"github.com/digby-db/digby/page"
)

// loadScanKeys fills table 0 of a new store in dir with n keys
// ("key-000000" = 40-byte values naming the key) and closes it.
func loadScanKeys(t *testing.T, dir string, opts *Options, n int) {
	t.Helper()
	db, err := Open(dir, opts)
	if err != nil {
		t.Fatal(err)
	}
	updateRange(t, db, 0, n, 1, 1000, func(tx *Tx, i int) error {
		k := fmt.Sprintf("key-%06d", i)
		return putString(tx, 0, []byte(k), []byte(fmt.Sprintf("%-40s", k)))
	})
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
}

// openScanKeys loads n keys (loadScanKeys) into a new store and opens it
// again without cache warming, so that scans read the file.
func openScanKeys(t *testing.T, n int) *DB {
	t.Helper()
	dir := t.TempDir()
	loadScanKeys(t, dir, nil, n)
	db, err := Open(dir, &Options{NoWarmCache: true})
	if err != nil {
		t.Fatal(err)
	}
	return db
}

// scanAll reads every key and value of table 0 with the cursor c makes,
// checking order and values.
func scanAll(t *testing.T, tx *Tx, c *Cursor, n int) {
	t.Helper()
	i := 0
	for ok := c.First(); ok; ok = c.Next() {
		k, v := c.KeyValue()
		want := fmt.Sprintf("key-%06d", i)
		if string(k) != want || string(bytes.TrimRight(v, " ")) != want {
			t.Fatalf("key %d: %q = %q", i, k, v)
		}
		i++
	}
	if err := c.Err(); err != nil {
		t.Fatal(err)
	}
	if i != n {
		t.Fatalf("scan saw %d of %d keys", i, n)
	}
}

// TestScanCursorCachesNothing: after a reopen, a ScanCursor pass reads
// every leaf from the file and caches none of them (a Cursor pass caches
// them all); both see the same keys and values. Encrypted, ScanCursor is
// Cursor: it takes no lock and does not pause warming.
func TestScanCursorCachesNothing(t *testing.T) {
	for _, key := range [][]byte{nil, encKey256} {
		dir := t.TempDir()
		opts := &Options{EncryptionKey: key, NoWarmCache: true}
		const n = 20_000
		loadScanKeys(t, dir, opts, n)
		cached := func(scan bool) int64 {
			db, err := Open(dir, opts)
			if err != nil {
				t.Fatal(err)
			}
			defer db.Close()
			before := db.Stats().CacheBytes
			db.View(func(tx *Tx) error {
				c := tx.Table(0).Cursor()
				if scan {
					c = tx.Table(0).ScanCursor()
					// Lending holds the close lock and pauses warming;
					// an encrypted file has nothing to lend.
					if want := key == nil; tx.lending != want || (db.scanners.Load() == 1) != want {
						t.Fatalf("encrypted %v: lending %v, scanners %d", key != nil, tx.lending, db.scanners.Load())
					}
				}
				scanAll(t, tx, c, n)
				return nil
			})
			return db.Stats().CacheBytes - before
		}
		full, lent := cached(false), cached(true)
		if key == nil && (full < 20*4096 || lent > full/20) {
			t.Fatalf("cache grew by %d bytes with Cursor, %d with ScanCursor", full, lent)
		}
		if key != nil && lent < full/2 {
			t.Fatalf("encrypted: cache grew by %d bytes with Cursor, %d with ScanCursor (should fall back)", full, lent)
		}
	}
}

// TestScanCursorUnflushedAndWrite: ScanCursor sees commits not yet
// flushed (in memory) and, in a write transaction, the transaction's own
// writes.
func TestScanCursorUnflushedAndWrite(t *testing.T) {
	dir := t.TempDir()
	loadScanKeys(t, dir, nil, 5000)
	db, err := Open(dir, &Options{Durability: No, NoWarmCache: true})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	updateRange(t, db, 5000, 6000, 1, 1000, func(tx *Tx, i int) error {
		k := fmt.Sprintf("key-%06d", i)
		return putString(tx, 0, []byte(k), []byte(k))
	})
	db.View(func(tx *Tx) error { scanAll(t, tx, tx.Table(0).ScanCursor(), 6000); return nil })
	err = db.Update(func(tx *Tx) error {
		k := fmt.Sprintf("key-%06d", 6000)
		if err := putString(tx, 0, []byte(k), []byte(k)); err != nil {
			return err
		}
		scanAll(t, tx, tx.Table(0).ScanCursor(), 6001)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// TestScanCursorCloseWaits: Close waits for a read transaction whose
// ScanCursor uses the file's mapping: the reader, still scanning after
// Close began, reads every key right (were the mapping gone, it would
// fault), and Close returns only after it.
func TestScanCursorCloseWaits(t *testing.T) {
	const n = 20_000
	db := openScanKeys(t, n)
	scanned := make(chan error, 1)
	started := make(chan struct{})
	var ended bool
	go func() {
		scanned <- db.View(func(tx *Tx) error {
			c := tx.Table(0).ScanCursor()
			if !c.First() {
				return fmt.Errorf("empty: %v", c.Err())
			}
			close(started)
			for !db.closed.Load() {
				runtime.Gosched()
			}
			i := 0
			for ok := true; ok; ok = c.Next() {
				k, v := c.KeyValue()
				if want := fmt.Sprintf("key-%06d", i); string(k) != want || string(bytes.TrimRight(v, " ")) != want {
					return fmt.Errorf("key %d after Close began: %q = %q", i, k, v)
				}
				i++
			}
			if i != n {
				return fmt.Errorf("saw %d of %d keys: %v", i, n, c.Err())
			}
			ended = true
			return c.Err()
		})
	}()
	<-started
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	if !ended {
		t.Fatal("Close returned before the scanning reader finished")
	}
	if err := <-scanned; err != nil {
		t.Fatal(err)
	}
}

// TestScanCursorWalk: a ScanCursor moved at random (First, Last, Seek,
// runs of Next and Prev across leaves) over a table read from the file,
// where each leaf it lends is decoded into the node of the one before,
// is always on the key and value it should be, through the mapping at
// first and the read-ahead window once the scan is long (ScanBatches
// counts its batches where batches can be read); and the key and value it
// handed out last still hold their bytes until it moves (they point into
// the mapping or the window, not into the reused node).
func TestScanCursorWalk(t *testing.T) {
	const n = 20_000
	db := openScanKeys(t, n)
	defer db.Close()
	want := func(i int) string { return fmt.Sprintf("key-%06d", i) }
	type seen struct {
		k, v []byte
		i    int
	}
	var kept []seen
	var last *seen // the key and value read at the cursor's position
	r := rand.New(rand.NewPCG(5, 5))
	batches := db.Stats().ScanBatches
	err := db.View(func(tx *Tx) error {
		c := tx.Table(0).ScanCursor()
		i, ok := -1, false
		for op := 0; op < 3000; op++ {
			if last != nil {
				s := *last
				if string(s.k) != want(s.i) || string(bytes.TrimRight(s.v, " ")) != want(s.i) {
					return fmt.Errorf("op %d: key %d handed out before the move now reads %q = %q", op, s.i, s.k, s.v)
				}
			}
			last = nil
			switch r.IntN(5) {
			case 0:
				ok, i = c.First(), 0
			case 1:
				ok, i = c.Last(), n-1
			case 2:
				j := r.IntN(n + 10)
				ok, i = c.Seek([]byte(want(j))), j // past the end: invalid
			default:
				fwd, steps := r.IntN(2) == 0, 1+r.IntN(200)
				for s := 0; s < steps && ok; s++ {
					if fwd {
						ok, i = c.Next(), i+1
					} else {
						ok, i = c.Prev(), i-1
					}
				}
			}
			if c.Err() != nil {
				return c.Err()
			}
			if inRange := i >= 0 && i < n; ok != inRange {
				return fmt.Errorf("op %d: valid %v at index %d", op, ok, i)
			}
			if !ok {
				ok, i = c.First(), 0
				continue
			}
			k, v := c.KeyValue()
			if string(k) != want(i) || string(bytes.TrimRight(v, " ")) != want(i) {
				return fmt.Errorf("op %d: at %d found %q = %q", op, i, k, v)
			}
			kept = append(kept, seen{k, v, i})
			last = &kept[len(kept)-1]
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(kept) < 1000 {
		t.Fatalf("only %d positions checked", len(kept))
	}
	if got := db.Stats().ScanBatches - batches; got == 0 && batchReads(t, db) {
		t.Fatal("the walk never read ahead")
	}
}

// TestScanCursorAfterDamagedLeaf: a ScanCursor that meets a damaged leaf
// (its checksum fails where the cursor would decode it into the previous
// leaf's node) reports it by page, and the same cursor, moved again,
// reads the leaves on both sides of it right, the previous leaf's node
// still reused. (A decode into the node that fails part-way:
// btree's TestDecodeLeafInto.)
func TestScanCursorAfterDamagedLeaf(t *testing.T) {
	const n = 20_000
	dir := t.TempDir()
	loadScanKeys(t, dir, nil, n)
	var ids []uint64
	var firsts []int
	db, err := Open(dir, &Options{NoWarmCache: true})
	if err != nil {
		t.Fatal(err)
	}
	db.View(func(tx *Tx) error { // leaves in key order, by a Cursor (cached, not lent)
		c := tx.Table(0).Cursor()
		for ok := c.First(); ok; ok = c.c.NextLeaf() {
			var i int
			fmt.Sscanf(string(c.Key()), "key-%d", &i)
			ids, firsts = append(ids, c.c.Leaf().ID), append(firsts, i)
		}
		return c.Err()
	})
	db.Close()
	if len(ids) < 10 {
		t.Fatalf("%d leaves: too few for the test", len(ids))
	}
	bad := len(ids) / 2
	flipByte(t, DataPath(dir), int64(ids[bad])*4096+300) // inside an entry: the checksum fails
	db, err = Open(dir, &Options{NoWarmCache: true})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	want := func(i int) string { return fmt.Sprintf("key-%06d", i) }
	err = db.View(func(tx *Tx) error {
		c := tx.Table(0).ScanCursor()
		i := 0
		for ok := c.First(); ok; ok = c.Next() {
			if k := string(c.Key()); k != want(i) {
				return fmt.Errorf("key %d: %q", i, k)
			}
			i++
		}
		var ce *page.CorruptError
		if i != firsts[bad] || !errors.As(c.Err(), &ce) || ce.ID != ids[bad] {
			return fmt.Errorf("scan saw %d keys (%d before page %d), then %v", i, firsts[bad], ids[bad], c.Err())
		}
		// Past the damaged leaf to the end, then from before it up to it
		// again, with the same cursor.
		for _, r := range []struct{ from, to int }{{firsts[bad+1], n}, {firsts[bad-2], firsts[bad]}} {
			j := r.from
			for ok := c.Seek([]byte(want(j))); ok; ok = c.Next() {
				if k, v := c.KeyValue(); string(k) != want(j) || string(bytes.TrimRight(v, " ")) != want(j) {
					return fmt.Errorf("after the error, from %d: at %d found %q = %q", r.from, j, k, v)
				}
				j++
			}
			damaged := r.to == firsts[bad]
			if j != r.to || errors.As(c.Err(), &ce) != damaged {
				return fmt.Errorf("after the error, from %d: stopped at %d (want %d), %v", r.from, j, r.to, c.Err())
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if bad > populateAfter && db.Stats().ScanBatches == 0 && batchReads(t, db) {
		t.Fatal("the damaged leaf was not met in a read-ahead window")
	}
}
