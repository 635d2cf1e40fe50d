package store

import (
	"bytes"
	"errors"
	"os"
	"testing"

	"github.com/digby-db/digby/page"
)

// TestFlushListsRunAfterRollback: a large value's overflow runs, written
// since the last flush, stay on the flush's list of runs for open to
// verify when a submission frees them (an overwrite of the key) and then
// fails: its rollback puts them back on the list, as the key holds them
// again. Power then fails during the flush's sync with the overflow pages
// lost: open must see the flush as incomplete and return the state
// before it. (Before, the free took the runs off the list for good, open
// trusted the flush, and the key's value was lost.)
func TestFlushListsRunAfterRollback(t *testing.T) {
	dir := t.TempDir()
	var lb *typeLoss
	opts := &Options{Durability: No, OpenFile: func(path string) (page.Backend, error) {
		f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o644)
		if err != nil {
			return nil, err
		}
		lb = &typeLoss{lossyBackend: newLossyBackend(f, -1, 1), lose: func(t page.Type) bool {
			return t == page.TypeChunkTable || t == page.TypeOverflow
		}}
		return lb, nil
	}}
	db, err := Open(dir, opts)
	if err != nil {
		t.Fatal(err)
	}
	putOne(t, db, "before", []byte("durable"))
	if err := db.Flush(); err != nil {
		t.Fatal(err)
	}
	big := bytes.Repeat([]byte("large value "), 2000) // 24 KB: overflow runs
	putOne(t, db, "big", big)
	errFail := errors.New("fails after its write")
	if err := db.Update(func(tx *Tx) error {
		if _, err := tx.Table(0).Put([]byte("big"), []byte("small now"), TypeString, 0); err != nil {
			return err
		}
		return errFail
	}); !errors.Is(err, errFail) {
		t.Fatalf("failing update: %v", err)
	}
	putOne(t, db, "after", []byte("small"))
	lb.armed = true
	if err := db.Flush(); !errors.Is(err, errPowerOff) {
		t.Fatalf("flush: %v, want the power failure", err)
	}
	db.Close() // fails: nothing more reaches the file
	db, err = Open(dir, nil)
	if err != nil {
		t.Fatalf("reopen: %v", err)
	}
	defer db.Close()
	if db.Recovered() == "" {
		t.Fatal("open trusted a flush whose overflow pages were lost")
	}
	if v := getOne(t, db, "before"); string(v) != "durable" {
		t.Fatalf("before: %q", v)
	}
	mustCheck(t, db)
}
