package store

import (
	"bytes"
	"fmt"
	"testing"
)

// TestSpareSparesReaders: the writer reuses the arrays of dropped nodes
// (btree.Spare) only once no reader can reach them. A reader holds the
// snapshot of a round of puts never flushed (every node of it unflushed,
// so each later copy drops one), while three more rounds overwrite every
// key ten times each; the reader must still see its round whole. Giving
// nodes to the spare when their pages are freed instead of released
// makes it see leaves without entries. Once it is gone, the next commit
// releases what it held and the spare fills.
func TestSpareSparesReaders(t *testing.T) {
	db, err := Open(t.TempDir(), &Options{Durability: No})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	const n = 5000
	key := func(i int) []byte { return fmt.Appendf(nil, "key:%06d", i) }
	val := func(round, i int) []byte { return fmt.Appendf(nil, "value-%d-%d", round, i) }
	// A round is ten batches, batch b putting the keys i with i%10 == b:
	// each batch copies every leaf.
	round := func(r int) {
		for b := 0; b < 10; b++ {
			updateRange(t, db, b, n, 10, n, func(tx *Tx, i int) error { return putString(tx, 0, key(i), val(r, i)) })
		}
	}
	verify := func(tx *Tx, r int) error {
		for i := 0; i < n; i++ {
			tu, ok, err := tx.Table(0).Get(key(i))
			if err != nil {
				return err
			}
			if !ok || !bytes.Equal(tu.Value, val(r, i)) {
				return fmt.Errorf("key %d: found %v, value %q, want %q", i, ok, tu.Value, val(r, i))
			}
		}
		return nil
	}
	round(0)
	holding, letGo, done := make(chan struct{}), make(chan struct{}), make(chan error, 1)
	go func() {
		done <- db.View(func(tx *Tx) error {
			close(holding)
			<-letGo
			return verify(tx, 0)
		})
	}()
	<-holding
	for r := 1; r <= 3; r++ {
		round(r)
	}
	spared := func() (k int) {
		if err := db.control(func() error { k = db.spare.Len(); return nil }); err != nil {
			t.Fatal(err)
		}
		return k
	}
	held := spared()
	close(letGo)
	if err := <-done; err != nil {
		t.Fatalf("the reader's snapshot: %v", err)
	}
	round(4)
	if k := spared(); k <= held {
		t.Fatalf("spare holds %d arrays after the reader let go, %d before: nothing it held was reused", k, held)
	}
	if err := db.View(func(tx *Tx) error { return verify(tx, 4) }); err != nil {
		t.Fatal(err)
	}
	if _, err := db.Check(); err != nil {
		t.Fatal(err)
	}
}
