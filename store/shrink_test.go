package store

import (
	"fmt"
	"math/rand/v2"
	"testing"
	"time"
)

// idle runs one idle cycle of the writer (timed flush, drop steps,
// relocation) and then a flush.
func idle(t *testing.T, db *DB) {
	t.Helper()
	if err := db.control(func() error {
		db.background(true)
		db.idleShrink = true
		defer func() { db.idleShrink = false }()
		return db.flush()
	}); err != nil {
		t.Fatal(err)
	}
}

// TestShrinkAfterRandomDeletes loads random keys, deletes a random 90%,
// keeps writing, and expects the file to fall to at most 2x the live pages.
func TestShrinkAfterRandomDeletes(t *testing.T) {
	n := 100_000
	if long() {
		n = 1_000_000
	}
	if testing.Short() {
		n = 20_000
	}
	db, err := Open(t.TempDir(), &Options{Durability: Everysec, FlushInterval: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	r := rand.New(rand.NewPCG(1, 2))
	keys, full := loadThenDelete(t, db, r, n)
	del := keys[:n*9/10]
	val := make([]byte, 100)
	// Keep writing (overwrites of survivors) with idle cycles between.
	live := keys[n*9/10:]
	var rep CheckReport
	for round := 0; round < 200; round++ {
		err := db.Update(func(tx *Tx) error {
			for j := 0; j < 50; j++ {
				if _, err := tx.Table(0).Put(live[r.IntN(len(live))], val, TypeString, 0); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		idle(t, db)
		if round%20 == 19 {
			rep = mustCheck(t, db)
			if rep.Pages <= bound(rep.Reachable) {
				break
			}
		}
	}
	rep = mustCheck(t, db)
	st := db.Stats()
	t.Logf("full: %d pages; after deletes: %d pages, %d reachable, %d free, file %d bytes", full.Pages, rep.Pages, rep.Reachable, rep.Free, st.FileSize)
	// The bar is 2x; relocation gets within a quarter (without it
	// this workload leaves about 1.6x).
	if rep.Pages > bound(rep.Reachable) {
		t.Fatalf("file holds %d pages for %d live ones", rep.Pages, rep.Reachable)
	}
	if st.FileSize > int64(rep.Pages)*int64(db.ps) {
		t.Fatalf("file is %d bytes, past its %d pages", st.FileSize, rep.Pages)
	}
	verifyKeys(t, db, live, del)
}

// loadThenDelete puts n random keys with 100-byte values in 1,000-put
// transactions, checks the file, and deletes a random 90% of them: keys,
// shuffled, holds the deleted keys first. full is the check before the
// deletes.
func loadThenDelete(t *testing.T, db *DB, r *rand.Rand, n int) (keys [][]byte, full CheckReport) {
	t.Helper()
	keys = make([][]byte, n)
	val := make([]byte, 100)
	for i := range keys {
		keys[i] = []byte(fmt.Sprintf("%016x", r.Uint64()))
	}
	apply := func(batch [][]byte, del bool) {
		err := db.Update(func(tx *Tx) error {
			for _, k := range batch {
				var err error
				if del {
					_, err = tx.Table(0).Delete(k)
				} else {
					_, err = tx.Table(0).Put(k, val, TypeString, 0)
				}
				if err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	for i := 0; i < n; i += 1000 {
		apply(keys[i:min(i+1000, n)], false)
	}
	full = mustCheck(t, db)
	r.Shuffle(n, func(i, j int) { keys[i], keys[j] = keys[j], keys[i] })
	del := keys[:n*9/10]
	for i := 0; i < len(del); i += 1000 {
		apply(del[i:min(i+1000, len(del))], true)
	}
	return keys, full
}

// TestRelocationStopsAtSlack: after random deletes, idle relocation
// compacts the file down to its live pages with the FileSlack share free,
// not further (the next writes would grow it again); with no slack, down
// to about the live pages. A FileSlack past MaxFileSlack is refused.
func TestRelocationStopsAtSlack(t *testing.T) {
	if _, err := Open(t.TempDir(), &Options{FileSlack: MaxFileSlack + 1}); err == nil {
		t.Fatalf("FileSlack %d accepted", MaxFileSlack+1)
	}
	for _, slack := range []int{-1, 50} {
		t.Run(fmt.Sprint(slack), func(t *testing.T) {
			// NoInPlace: the bounds below were set for the layout a
			// load whose every change copies leaves. With changes in
			// place (batches applied during a flush's flight) fewer
			// pages are taken during the load, and the free pages lie
			// differently run to run: relocation moves the live pages
			// above its floor (the slack's target) down, and the idle
			// flush then cuts the whole free tail, which reaches below
			// the target when the pages just under the floor were free
			// already. The 50% case then ends at 1.3-1.6x the live pages
			// instead of about 2x: more compact than the slack asks,
			// never less (the cut is not bounded by the target; left as
			// it is, docs/benchmarks-server.md, stop 26).
			// NoCompression: the zero values must fill the pages as sized.
			db, err := Open(t.TempDir(), &Options{Durability: Everysec, FlushInterval: 1, FileSlack: slack, NoInPlace: true, NoCompression: true})
			if err != nil {
				t.Fatal(err)
			}
			defer db.Close()
			loadThenDelete(t, db, rand.New(rand.NewPCG(3, 4)), 20_000)
			for range 40 {
				idle(t, db)
			}
			rep := mustCheck(t, db)
			t.Logf("slack %d: %d pages, %d reachable", slack, rep.Pages, rep.Reachable)
			ratio := float64(rep.Pages) / float64(rep.Reachable)
			if slack < 0 && ratio > 1.25 {
				t.Fatalf("no slack: %d pages for %d live, want within 1.25x", rep.Pages, rep.Reachable)
			}
			// 50% slack: about 2x; compacted past it, below 1.5x.
			if slack == 50 && (ratio < 1.5 || ratio > 2.25) {
				t.Fatalf("50%% slack: %d pages for %d live, want about 2x", rep.Pages, rep.Reachable)
			}
		})
	}
}

func verifyKeys(t *testing.T, db *DB, present, absent [][]byte) {
	t.Helper()
	db.View(func(tx *Tx) error {
		for _, k := range present {
			if _, ok, err := tx.Table(0).Get(k); err != nil || !ok {
				t.Fatalf("key %s lost: %v", k, err)
			}
		}
		for _, k := range absent[:min(len(absent), 1000)] {
			if _, ok, _ := tx.Table(0).Get(k); ok {
				t.Fatalf("deleted key %s present", k)
			}
		}
		return nil
	})
}

// idleStopsFlushing fails the test if 8 idle cycles of db, which the
// caller has settled, flush more than twice: the flushes an idle writer
// makes to cut a free tail must converge, not repeat every tick.
func idleStopsFlushing(t *testing.T, db *DB, what string) {
	t.Helper()
	before := db.flushes.Load()
	for range 8 {
		db.control(func() error { db.background(true); return nil })
	}
	if n := db.flushes.Load() - before; n > 2 {
		t.Fatalf("%s: idle cycles of a settled file flushed %d times in 8 cycles", what, n)
	}
}

// idleSettles runs 8 idle cycles of db and fails the test unless the
// file is then cut back to its live pages (bound) and further idle
// cycles stop flushing (idleStopsFlushing).
func idleSettles(t *testing.T, db *DB, what string) {
	t.Helper()
	for range 8 {
		idle(t, db)
	}
	idleStopsFlushing(t, db, what)
	if rep := mustCheck(t, db); rep.Pages > bound(rep.Reachable) {
		t.Fatalf("%s: file holds %d pages for %d live ones", what, rep.Pages, rep.Reachable)
	}
}

// bound is the most pages a compacted file may hold for live pages.
func bound(live uint64) uint64 { return live + live/4 + 64 }

// TestIdleCutsTailBelowMeta: a compact file whose large value is deleted
// must be cut back to its live pages by idle cycles. The overwrite of k1
// frees a page at the top of the live pages; while the value's pages are
// pending, it is among the few allocatable pages and a flush puts
// free-space metadata there; the next flush replaces it, and once the
// pages around it are free and cut it is the pending last page of the
// file (page.PendingAtTail, h == hwm). Without the fix of stop 20 the idle
// writer stopped there: this test then fails (e.g. 467 pages kept
// for 19 live). Once settled, idle cycles must stop flushing. Flushes are
// made only by the test (FlushInterval of an hour) so that pages land
// where this sequence puts them.
func TestIdleCutsTailBelowMeta(t *testing.T) {
	flush := func(db *DB) {
		t.Helper()
		if err := db.control(func() error { return db.flush() }); err != nil {
			t.Fatal(err)
		}
	}
	for seed := range uint64(5) {
		for _, slack := range []int{-1, 15} {
			db := openTemp(t, &Options{Durability: Everysec, FlushInterval: time.Hour, FileSlack: slack})
			r := rand.New(rand.NewPCG(seed, 1))
			for i := range 200 + r.IntN(2000) {
				putOne(t, db, fmt.Sprint("k", i), make([]byte, 100))
			}
			putOne(t, db, "big", randBytes(r, 1<<20+r.IntN(1<<20)))
			settle(t, db)
			putOne(t, db, "k1", make([]byte, 99))
			flush(db)
			if err := db.Update(func(tx *Tx) error { _, err := tx.Table(0).Delete([]byte("big")); return err }); err != nil {
				t.Fatal(err)
			}
			flush(db)
			idleSettles(t, db, fmt.Sprintf("seed %d, slack %d", seed, slack))
			db.Close()
		}
	}
}

// TestIdleReleasesAfterReaders: pages freed while a reader holds an older
// snapshot are held for it; once it ends, idle cycles alone (no write
// comes) must make them allocatable and cut the free tail. Until stop 20
// nothing on the idle path released them: the file kept the deleted
// value's pages until the next write.
func TestIdleReleasesAfterReaders(t *testing.T) {
	for _, slack := range []int{-1, 15} {
		db := openTemp(t, &Options{Durability: Everysec, FlushInterval: time.Hour, FileSlack: slack})
		for i := range 500 {
			putOne(t, db, fmt.Sprint("k", i), make([]byte, 100))
		}
		putOne(t, db, "big", randBytes(rand.New(rand.NewPCG(1, 2)), 2<<20))
		settle(t, db)
		holding, letGo, done := make(chan struct{}), make(chan struct{}), make(chan error, 1)
		go func() {
			done <- db.View(func(tx *Tx) error {
				close(holding)
				<-letGo
				return nil
			})
		}()
		<-holding
		if err := db.Update(func(tx *Tx) error { _, err := tx.Table(0).Delete([]byte("big")); return err }); err != nil {
			t.Fatal(err)
		}
		for range 4 {
			idle(t, db)
		}
		close(letGo)
		if err := <-done; err != nil {
			t.Fatal(err)
		}
		idleSettles(t, db, fmt.Sprintf("slack %d, after the reader ended", slack))
		db.Close()
	}
}

// TestIdleMovesMetaOffTail: a flush that finds no allocatable page (the
// pages a delete freed are still pending) puts its free-space metadata at
// the end of the file; once the pages below are free, idle cycles must
// move that metadata low and cut the tail. Until stop 20 nothing did (the
// top page was live, not pending, and relocation only marked a chunk to
// move at a flush that never came): these seeds kept 448-571 pages for
// about 70 live. Once settled, idle cycles must stop flushing.
func TestIdleMovesMetaOffTail(t *testing.T) {
	for _, seed := range []uint64{16, 22, 30} {
		db := openTemp(t, &Options{Durability: Everysec, FlushInterval: time.Hour, FileSlack: 15})
		r := rand.New(rand.NewPCG(seed, 1))
		for i := range 200 + r.IntN(2000) {
			putOne(t, db, fmt.Sprint("k", i), make([]byte, 100))
		}
		putOne(t, db, "big", randBytes(r, 1<<20+r.IntN(1<<20)))
		settle(t, db)
		if err := db.Update(func(tx *Tx) error { _, err := tx.Table(0).Delete([]byte("big")); return err }); err != nil {
			t.Fatal(err)
		}
		idleSettles(t, db, fmt.Sprintf("seed %d", seed))
		db.Close()
	}
}

// TestRelocationYieldsToReaders: an idle tick takes one relocation step
// when a reader came since the last tick (readersCame), and up to
// relocateSteps when none did: after random deletes leave relocation
// work, a tick after a read commits at most two txns (the step, and an
// idle flush's empty commit), and a tick with no reader more (it fails
// so without the check).
func TestRelocationYieldsToReaders(t *testing.T) {
	db, err := Open(t.TempDir(), &Options{Durability: Everysec, FlushInterval: time.Hour, NoWarmCache: true})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	loadThenDelete(t, db, rand.New(rand.NewPCG(3, 4)), 20_000)
	tick := func() uint64 {
		t.Helper()
		before := db.Stats().TxID
		if err := db.control(func() error { db.background(true); return db.Failed() }); err != nil {
			t.Fatal(err)
		}
		return db.Stats().TxID - before
	}
	if err := db.View(func(*Tx) error { return nil }); err != nil {
		t.Fatal(err)
	}
	if n := tick(); n > 2 {
		t.Fatalf("a tick after a read committed %d txns, want at most 2 (one relocation step)", n)
	}
	if n := tick(); n <= 2 {
		t.Fatalf("a tick with no reader committed %d txns, want the relocation steps of a file mostly free", n)
	}
}
