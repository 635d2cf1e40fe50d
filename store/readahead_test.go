package store

import (
	"bytes"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/digby-db/digby/page"
)

// batchReads reports whether db's scans can read ahead here (io_uring);
// where they cannot, the tests that check read-ahead was used say so in
// the log and check only the results (the fallback is the mapping).
func batchReads(t *testing.T, db *DB) bool {
	t.Helper()
	r, err := db.file.NewPageReader(readAheadDepth)
	if errors.Is(err, page.ErrNoBatchRead) {
		t.Logf("no batched reads here, scans read through the mapping: %v", err)
		return false
	}
	if err != nil {
		t.Fatal(err)
	}
	r.Close()
	return true
}

// scanKeys reads table 0 in full with c (forward, or backward from the
// end), returning "key=value" strings in the order read, and checks that
// no key or value handed out changed before the cursor moved on.
func scanKeys(t *testing.T, c *Cursor, back bool) []string {
	t.Helper()
	var got []string
	ok := c.First()
	if back {
		ok = c.Last()
	}
	for ; ok; ok = map[bool]func() bool{false: c.Next, true: c.Prev}[back]() {
		k, v := c.KeyValue()
		got = append(got, string(k)+"="+string(v))
	}
	if err := c.Err(); err != nil {
		t.Fatal(err)
	}
	return got
}

// TestReadAheadDeepTree: in a tree of five levels (long keys keep
// branches narrow), full scans forward and backward that read ahead see
// every entry as it should be, in order, the branches above the last level are not read
// ahead batch after batch (they cost one wasted batch each; branches
// this narrow hold 10-17 leaves, a batch each), and the
// pages changed since the last flush (in memory, skipped by the batches)
// read as changed.
func TestReadAheadDeepTree(t *testing.T) {
	dir := t.TempDir()
	const n = 30_000
	key := func(i int) []byte { return fmt.Appendf(bytes.Repeat([]byte("k"), 214), "%06d", i) } // separators as long as the keys
	loadScan := func(db *DB, val string) {
		updateRange(t, db, 0, n, 1, 2000, func(tx *Tx, i int) error {
			return putString(tx, 0, key(i), []byte(fmt.Sprintf("%s%d", val, i)))
		})
	}
	db, err := Open(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	loadScan(db, "v")
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	db, err = Open(dir, &Options{NoWarmCache: true, FlushInterval: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	// A first pass over the tree as flushed, nothing of it in memory.
	var leaves, depth int
	db.View(func(tx *Tx) error {
		c := tx.Table(0).ScanCursor() // a Cursor would cache every page
		for ok := c.First(); ok; ok = c.c.NextLeaf() {
			leaves++
			depth = c.c.Depth()
		}
		return c.Err()
	})
	if depth < 4 {
		t.Fatalf("tree of depth %d, want at least 4 for the test", depth)
	}
	// Branches this narrow hold 10-17 leaves, a batch each (about 250);
	// the branches above the last level cost one wasted batch each, where
	// reading ahead under them at every visit would cost about 220 more.
	cold := db.Stats().ScanBatches
	t.Logf("first pass: %d batches for %d leaves", cold, leaves)
	if cold > uint64(leaves/6) || (cold == 0 && batchReads(t, db)) {
		t.Fatal("the first pass read ahead too often, or never")
	}
	// Change every 97th key after the last flush: those leaves (and the
	// branches above them) are in memory only.
	updateRange(t, db, 0, n, 97, 2000, func(tx *Tx, i int) error {
		return putString(tx, 0, key(i), []byte(fmt.Sprintf("new%d", i)))
	})
	for _, back := range []bool{false, true} {
		var want, got []string
		for i := 0; i < n; i++ {
			v := "v"
			if i%97 == 0 {
				v = "new"
			}
			want = append(want, string(key(i))+"="+v+strconv.Itoa(i))
		}
		if back {
			slices.Reverse(want)
		}
		b0 := db.Stats().ScanBatches
		db.View(func(tx *Tx) error {
			got = scanKeys(t, tx.Table(0).ScanCursor(), back)
			return nil
		})
		if !slices.Equal(got, want) {
			for j := range min(len(got), len(want)) {
				if got[j] != want[j] {
					t.Fatalf("back %v: entry %d of %d reads %.40q..., want %.40q...", back, j, len(got), got[j][210:], want[j][210:])
				}
			}
			t.Fatalf("back %v: read %d entries, want %d", back, len(got), len(want))
		}
		batches := db.Stats().ScanBatches - b0
		t.Logf("back %v: %d leaves, depth %d, %d batches", back, leaves, depth, batches)
		if batches > uint64(leaves/3) || (batches == 0 && batchReads(t, db)) {
			t.Fatalf("back %v: %d batches for %d leaves", back, batches, leaves)
		}
	}
	// The scans one after another used one reader, kept for the next.
	db.amu.Lock()
	idle := len(db.idleAheads)
	db.amu.Unlock()
	if db.Stats().ScanBatches > 0 && idle != 1 {
		t.Fatalf("%d readers kept after scans one after another, want 1", idle)
	}
}

// TestOldestReaderAge: a reader holding its snapshot shows in
// Stats.OldestReaderAge with about the time it has held it (readers stamp
// the writer's clock, which ticks at most every 50 ms: the test fails if
// the writer does not move it on), and none once it is done.
func TestOldestReaderAge(t *testing.T) {
	db, err := Open(t.TempDir(), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	// Long enough after open that a clock the writer did not move on
	// would show the reader 1.5 s older than it is.
	time.Sleep(1500 * time.Millisecond)
	in, out, done := make(chan struct{}), make(chan struct{}), make(chan struct{})
	go func() {
		db.View(func(*Tx) error { close(in); <-out; return nil })
		close(done)
	}()
	<-in
	start := time.Now()
	time.Sleep(300 * time.Millisecond)
	st := db.Stats()
	held := time.Since(start)
	close(out)
	<-done
	// The clock lags by up to a tick (more on a loaded machine): generous
	// above, exact enough below.
	if st.Readers != 1 || st.OldestReaderAge < held-50*time.Millisecond || st.OldestReaderAge > held+time.Second {
		t.Fatalf("%d readers, oldest %v, held for %v", st.Readers, st.OldestReaderAge, held)
	}
	if st := db.Stats(); st.Readers != 0 || st.OldestReaderAge != 0 {
		t.Fatalf("after the reader: %d readers, oldest %v", st.Readers, st.OldestReaderAge)
	}
}

// TestReadAheadMetamorphic: one random workload (inserts, overwrites with
// values of many sizes, deletes; the last part left unflushed), then the
// same random cursor moves over it twice, reading ahead and through the
// mapping only (Options.NoBatchReads): both see the same entries at every
// step, and the read-ahead pass did read ahead.
func TestReadAheadMetamorphic(t *testing.T) {
	dir := t.TempDir()
	const n = 40_000
	key := func(i int) []byte { return fmt.Appendf(nil, "k%07d", i) }
	r := rand.New(rand.NewPCG(9, 9))
	db, err := Open(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	updateRange(t, db, 0, n, 1, 4000, func(tx *Tx, i int) error {
		return putString(tx, 0, key(i), bytes.Repeat([]byte{byte(i)}, r.IntN(120)))
	})
	updateRange(t, db, 0, n, 3, 4000, func(tx *Tx, i int) error {
		if r.IntN(4) == 0 {
			_, err := tx.Table(0).Delete(key(i))
			return err
		}
		return putString(tx, 0, key(i), bytes.Repeat([]byte{byte(i + 1)}, r.IntN(300)))
	})
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	walk := func(noBatch bool) ([]string, uint64, bool) {
		db, err := Open(dir, &Options{NoWarmCache: true, NoBatchReads: noBatch, FlushInterval: time.Hour})
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close()
		// Changes since the last flush: in memory only.
		updateRange(t, db, 0, n, 211, 4000, func(tx *Tx, i int) error {
			return putString(tx, 0, key(i), []byte("unflushed"))
		})
		moves := rand.New(rand.NewPCG(4, 4))
		var seen []string
		err = db.View(func(tx *Tx) error {
			c := tx.Table(0).ScanCursor()
			ok := c.First()
			for step := 0; step < 60_000; step++ {
				switch m := moves.IntN(100); {
				case m < 60:
					ok = c.Next()
				case m < 90:
					ok = c.Prev()
				case m < 95:
					ok = c.Seek(key(moves.IntN(n + 10)))
				case m < 97:
					ok = c.Last()
				default:
					ok = c.First()
				}
				if !ok {
					seen = append(seen, "-")
					ok = c.First()
					continue
				}
				k, v := c.KeyValue()
				seen = append(seen, fmt.Sprintf("%s=%x", k, v))
			}
			return c.Err()
		})
		if err != nil {
			t.Fatal(err)
		}
		return seen, db.Stats().ScanBatches, !noBatch && batchReads(t, db)
	}
	ahead, batches, can := walk(false)
	mapped, none, _ := walk(true)
	if none != 0 {
		t.Fatalf("NoBatchReads read %d batches", none)
	}
	if batches == 0 && can {
		t.Fatal("the read-ahead pass never read ahead")
	}
	for i := range min(len(ahead), len(mapped)) {
		if ahead[i] != mapped[i] {
			t.Fatalf("step %d: read ahead %.60s, through the mapping %.60s", i, ahead[i], mapped[i])
		}
	}
	if len(ahead) != len(mapped) {
		t.Fatalf("%d steps against %d", len(ahead), len(mapped))
	}
}
