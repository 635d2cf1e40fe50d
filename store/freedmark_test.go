package store

import (
	"testing"
	"time"

	"github.com/digby-db/digby/btree"
)

// TestFreedNodesMarked: a commit that replaces committed nodes marks the
// nodes it replaced (btree.Node.MarkFreed), so that a flush in flight
// does not copy them for the cache; nodes it left alone stay unmarked.
func TestFreedNodesMarked(t *testing.T) {
	db := openTemp(t, &Options{Durability: Everysec, FlushInterval: time.Hour, NoInPlace: true, NoWarmCache: true})
	if err := db.Update(func(tx *Tx) error { return putString(tx, 0, []byte("k"), []byte("v1")) }); err != nil {
		t.Fatal(err)
	}
	var committed []*btree.Node
	db.umu.RLock()
	for _, n := range db.unflushed {
		committed = append(committed, n)
	}
	db.umu.RUnlock()
	if len(committed) == 0 {
		t.Fatal("no committed node in memory")
	}
	freed := func() (k int) {
		for _, n := range committed {
			if n.Freed() {
				k++
			}
		}
		return k
	}
	if k := freed(); k != 0 {
		t.Fatalf("%d of %d nodes marked freed before any commit replaced them", k, len(committed))
	}
	if err := db.Update(func(tx *Tx) error { return putString(tx, 0, []byte("k"), []byte("v2")) }); err != nil {
		t.Fatal(err)
	}
	if k := freed(); k == 0 {
		t.Fatalf("none of %d committed nodes marked freed after a commit copied the key's leaf", len(committed))
	}
}
