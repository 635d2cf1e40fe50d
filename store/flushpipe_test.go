package store

import (
	"bytes"
	"errors"
	"fmt"
	"testing"
)

// TestFlushPipelineFault fails the Nth write of a flush large enough to be
// encoded on a second goroutine while this one writes (writeNodes): the
// commit reports the fault, nothing hangs, and the reopened store holds
// the state before it, sound.
func TestFlushPipelineFault(t *testing.T) {
	for _, kind := range []string{"eio", "short", "torn"} {
		// Writes 1-3 are the tree's runs (this flush changes no free-map
		// chunk), 4 the directory, 5 the meta: TestFlushPipelineWrites
		// checks that there are 5.
		for _, after := range []int64{1, 2, 3, 4, 5} {
			t.Run(fmt.Sprintf("%s/%d", kind, after), func(t *testing.T) {
				runPipelineFault(t, kind, after)
			})
		}
	}
}

// TestFlushPipelineWrites checks that runPipelineFault's second commit is
// the flush it means: 5 writes, enough pages for the pipeline.
func TestFlushPipelineWrites(t *testing.T) {
	if n := runPipelineFault(t, "eio", 1<<40); n != 5 {
		t.Fatalf("the flush made %d writes, want 5", n)
	}
}

// runPipelineFault runs the test's workload with the after-th write of
// the second commit failing and returns the writes that commit made.
func runPipelineFault(t *testing.T, kind string, after int64) int64 {
	dir := t.TempDir()
	db, fb := openFault(t, dir, Always, kind, after)
	var err error
	base := model{}
	put := func(tx *Tx, i int, gen byte) error {
		k := fmt.Sprintf("key-%05d", i)
		v := bytes.Repeat([]byte{gen, byte(i)}, 300)
		_, err := tx.Table(0).Put([]byte(k), v, TypeString, 0)
		return err
	}
	// About 800 leaves; the second transaction rewrites every third one,
	// so its pages land between the first's and form several runs.
	if err := db.Update(func(tx *Tx) error {
		for i := 0; i < 4000; i++ {
			if err := put(tx, i, 1); err != nil {
				return err
			}
			base.table(0)[fmt.Sprintf("key-%05d", i)] = modelVal{val: bytes.Repeat([]byte{1, byte(i)}, 300)}
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	fb.armed.Store(true)
	before := db.written.Load()
	err = db.Update(func(tx *Tx) error {
		for i := 0; i < 4000; i += 3 {
			if err := put(tx, i, 2); err != nil {
				return err
			}
			base.table(0)[fmt.Sprintf("key-%05d", i)] = modelVal{val: bytes.Repeat([]byte{2, byte(i)}, 300)}
		}
		return nil
	})
	if after > 1000 {
		if err != nil {
			t.Fatal(err)
		}
		if pages := int((db.written.Load() - before) / uint64(db.ps)); pages < encodeSplit+2 {
			t.Fatalf("the flush holds %d pages, fewer than %d: not pipelined", pages, encodeSplit)
		}
		n := fb.count.Load() // the commit's writes, not Close's
		db.Close()
		return n
	}
	if err == nil || !errors.Is(err, ErrFailed) || !causeOK(kind, err) {
		t.Fatalf("commit with a failing write %d: got %v, want ErrFailed naming the %s fault", after, err, kind)
	}
	fb.armed.Store(false)
	db.Close()
	db, err = Open(dir, &Options{Durability: Always})
	if err != nil {
		t.Fatalf("reopen: %v", err)
	}
	defer db.Close()
	// The failed commit is lost, unless the fault cut only the meta's
	// unused tail (a short or torn meta write of the last write, which
	// then reads whole: the store never synced, but nothing crashed).
	old := base.clone()
	for i := 0; i < 4000; i += 3 {
		old.table(0)[fmt.Sprintf("key-%05d", i)] = modelVal{val: bytes.Repeat([]byte{1, byte(i)}, 300)}
	}
	readErr, wrong := readAgainst(db, old)
	if readErr != nil {
		t.Fatal(readErr)
	}
	if wrong != nil {
		if after < 5 {
			t.Fatalf("the meta was never written, yet: %v", wrong)
		}
		verify(t, db, base)
	}
	mustCheck(t, db)
	return 0
}

// TestWriteback: a flush asks the device to start only once 256 KiB have
// been written since the last start, over the span of pages written since
// (whatever their order); a durable put's few pages never start one.
func TestWriteback(t *testing.T) {
	type span struct {
		id    uint64
		pages int
	}
	var got []span
	w := writeback{ps: 4096, start: func(id uint64, pages int) { got = append(got, span{id, pages}) }}
	w.wrote(900, 1) // a free-map chunk, high in the file
	w.wrote(10, 2)  // a put's leaf and branch
	w.wrote(5, 1)   // the directory
	if len(got) != 0 {
		t.Fatalf("4 pages started a writeback: %v", got)
	}
	w.wrote(100, 60) // 64 pages written: 256 KiB, pages 5 to 900
	if len(got) != 1 || got[0] != (span{5, 896}) {
		t.Fatalf("at 256 KiB: started %v, want [{5 896}]", got)
	}
	w.wrote(300, 63)
	if len(got) != 1 {
		t.Fatalf("63 pages since the last start started another: %v", got)
	}
	w.wrote(363, 1)
	if len(got) != 2 || got[1] != (span{300, 64}) {
		t.Fatalf("second start %v, want {300 64}", got)
	}
}
