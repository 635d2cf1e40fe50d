package store

import (
	"bytes"
	"fmt"
	"testing"

	"github.com/digby-db/digby/btree"
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

// TestSpareGuardsReusedIDs: release gives the spare only a node made
// before the txn that freed its page. Under an id freed at txn T, a node
// of txn T or later is one made since (were a page ever freed twice, the
// live one): it keeps its entries. A node of an earlier txn is given.
func TestSpareGuardsReusedIDs(t *testing.T) {
	db, err := Open(t.TempDir(), &Options{Durability: No, NoWarmCache: true})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	updateRange(t, db, 0, 10, 1, 10, func(tx *Tx, i int) error {
		return putString(tx, 0, fmt.Appendf(nil, "k%d", i), []byte("v"))
	})
	var leaf *btree.Node
	if err := db.View(func(tx *Tx) error {
		s, err := tx.tableState(0)
		if err != nil {
			return err
		}
		leaf, err = db.node(s.root)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	if !leaf.Leaf || leaf.Len() != 10 {
		t.Fatalf("want the table's root to be a leaf of 10 entries")
	}
	for _, tc := range []struct {
		age   uint64 // how many txns before the freeing one the node was made
		given bool
	}{{0, false}, {1, true}} {
		var n *btree.Node
		before, after := 0, 0
		if err := db.control(func() error {
			freedIn := db.cur.Load().txn
			id := db.alloc.Alloc(1)
			db.alloc.Free(freedIn, id, 1)
			n = leaf.Clone()
			n.ID, n.Txn = id, freedIn-tc.age
			db.umu.Lock()
			db.unflushed.set(id, n)
			db.umu.Unlock()
			before = db.spare.Len()
			db.release()
			after = db.spare.Len()
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		if given := after > before; given != tc.given || (n.Len() == 0) != tc.given {
			t.Fatalf("node %d txns older than the free: spare %d -> %d, node keeps %d entries; want given %v",
				tc.age, before, after, n.Len(), tc.given)
		}
	}
}
