package store

import (
	"bytes"
	"errors"
	"os"
	"testing"

	"github.com/digby-db/digby/page"
)

// typeLoss is a lossyBackend whose power fails at an armed Sync: every
// write since the last sync reaches the file except those of the runs lose
// picks by page type, and later writes fail.
type typeLoss struct {
	*lossyBackend
	lose       func(page.Type) bool
	armed, off bool
}

var errPowerOff = errors.New("power is off")

func (b *typeLoss) WriteAt(p []byte, off int64) (int, error) {
	if b.off {
		return 0, errPowerOff
	}
	return b.lossyBackend.WriteAt(p, off)
}

func (b *typeLoss) Sync() error {
	if !b.armed {
		return b.lossyBackend.Sync()
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	for _, w := range b.pending {
		if !b.lose(page.ReadHeader(w.data).Type) {
			b.File.WriteAt(w.data, w.off)
		}
	}
	b.pending, b.off = nil, true
	b.File.Sync()
	return errPowerOff
}

// TestFlushListsEveryRun: a flush lists, for open to verify, every run
// written since the last flush: the overflow runs written at commit, and
// the flush's own tree pages. Power fails during a flush's sync after every
// write of it reached the disk but one kind (a large value's runs, or the
// leaves): open must see the flush as incomplete and return the state
// before it, not a meta whose pages are missing.
//
// "overflow after a rollback": the large value's runs are freed by a
// submission (an overwrite of the key) that then fails; its rollback must
// put them back on the list, as the key holds them again. (Before, the
// free took them off for good, open trusted the flush, and the key's
// value was lost.)
func TestFlushListsEveryRun(t *testing.T) {
	overflow := func(t page.Type) bool { return t == page.TypeChunkTable || t == page.TypeOverflow }
	cases := map[string]struct {
		lose    func(page.Type) bool
		between func(t *testing.T, db *DB)
	}{
		"overflow":                  {lose: overflow},
		"leaves":                    {lose: func(t page.Type) bool { return t == page.TypeLeaf }},
		"overflow after a rollback": {lose: overflow, between: failedOverwrite},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) { flushListsEveryRun(t, c.lose, c.between) })
	}
}

// failedOverwrite overwrites "big" in a submission that then fails.
func failedOverwrite(t *testing.T, db *DB) {
	errFail := errors.New("fails after its write")
	if err := db.Update(func(tx *Tx) error {
		if _, err := tx.Table(0).Put([]byte("big"), []byte("small now"), TypeString, 0); err != nil {
			return err
		}
		return errFail
	}); !errors.Is(err, errFail) {
		t.Fatalf("failing update: %v", err)
	}
}

// flushListsEveryRun runs the case: between, if not nil, runs after the
// large value is written.
func flushListsEveryRun(t *testing.T, lose func(page.Type) bool, between func(*testing.T, *DB)) {
	dir := t.TempDir()
	var lb *typeLoss
	opts := &Options{Durability: No, OpenFile: func(path string) (page.Backend, error) {
		f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o644)
		if err != nil {
			return nil, err
		}
		lb = &typeLoss{lossyBackend: newLossyBackend(f, -1, 1), lose: lose}
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
	if between != nil {
		between(t, db)
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
		t.Fatal("open trusted a flush with lost pages")
	}
	if v := getOne(t, db, "before"); string(v) != "durable" {
		t.Fatalf("before: %q", v)
	}
	if err := db.View(func(tx *Tx) error {
		for _, k := range []string{"big", "after"} {
			if _, ok, err := tx.Table(0).Get([]byte(k)); err != nil || ok {
				t.Fatalf("%s of the lost flush: present %v, %v", k, ok, err)
			}
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	mustCheck(t, db)
}
