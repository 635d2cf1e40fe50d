package store

import (
	"bytes"
	"fmt"
	"testing"
)

// TestWorthPopulating: a long scan maps the whole file at once only for a
// file within the cache bound and a table that fills half of it or more.
func TestWorthPopulating(t *testing.T) {
	const mb = 1 << 20
	for _, c := range []struct {
		size, limit int64
		count       uint64
		perLeaf     int
		want        bool
	}{
		{200 * mb, 256 * mb, 1_000_000, 25, true},  // 40,000 of 51,200 pages
		{200 * mb, 256 * mb, 500_000, 25, false},   // 20,000 pages: under half
		{300 * mb, 256 * mb, 2_000_000, 25, false}, // past the cache bound
		{200 * mb, 256 * mb, 1_000_000, 0, false},  // no leaf seen
		{4 * mb, 256 * mb, 12_800, 25, true},       // 512 of 1,024 pages
		{4 * mb, 256 * mb, 12_799, 25, false},      // one entry short
	} {
		if got := worthPopulating(c.size, c.limit, 4096, c.count, c.perLeaf); got != c.want {
			t.Errorf("size %d, limit %d, %d entries at %d a leaf: %v, want %v", c.size, c.limit, c.count, c.perLeaf, got, c.want)
		}
	}
}

// TestScanPopulates: a ScanCursor that lends more than populateAfter
// leaves from the file reads ahead in batches (readahead.go) where it can;
// where it cannot (Options.NoBatchReads, or no io_uring) it has the whole
// file mapped in instead (where the kernel can: MADV_POPULATE_READ, Linux
// 5.14); one that stops before does neither.
func TestScanPopulates(t *testing.T) {
	dir := t.TempDir()
	db, err := Open(dir, &Options{NoWarmCache: true})
	if err != nil {
		t.Fatal(err)
	}
	val := bytes.Repeat([]byte("v"), 100)
	const keys = 20000 // about 600 leaves, most of the file's pages
	updateRange(t, db, 0, keys, 1, 5000, func(tx *Tx, i int) error {
		return putString(tx, 0, []byte(fmt.Sprintf("key-%06d", i)), val)
	})
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	for _, noBatch := range []bool{true, false} {
		// Reopened without warming, every leaf a scan reaches is read
		// from the file, so it is lent.
		db, err = Open(dir, &Options{NoWarmCache: true, NoBatchReads: noBatch})
		if err != nil {
			t.Fatal(err)
		}
		scan := func(limit int) int {
			n := 0
			if err := db.View(func(tx *Tx) error {
				c := tx.Table(0).ScanCursor()
				for ok := c.First(); ok && n < limit; ok = c.Next() {
					n++
				}
				return c.Err()
			}); err != nil {
				t.Fatal(err)
			}
			return n
		}
		if n := scan(100); n != 100 {
			t.Fatalf("short scan saw %d keys", n)
		}
		if st := db.Stats(); st.ScanPopulates != 0 || st.ScanBatches != 0 {
			t.Fatalf("a 100-key scan populated %d times, read %d batches, want 0", st.ScanPopulates, st.ScanBatches)
		}
		batches := !noBatch && batchReads(t, db)
		if !batches && !db.file.Populate(0, 1) {
			db.Close()
			t.Skip("the kernel cannot populate a mapping (MADV_POPULATE_READ, Linux 5.14)")
		}
		if n := scan(keys + 1); n != keys {
			t.Fatalf("full scan saw %d keys, want %d", n, keys)
		}
		st := db.Stats()
		if batches && (st.ScanPopulates != 0 || st.ScanBatches < 5) {
			t.Fatalf("reading ahead, a full scan populated %d times and read %d batches, want 0 and about 9", st.ScanPopulates, st.ScanBatches)
		}
		if !batches && (st.ScanPopulates != 1 || st.ScanBatches != 0) {
			t.Fatalf("without batches (NoBatchReads %v), a full scan populated %d times and read %d batches, want 1 and 0", noBatch, st.ScanPopulates, st.ScanBatches)
		}
		if err := db.Close(); err != nil {
			t.Fatal(err)
		}
	}
}
