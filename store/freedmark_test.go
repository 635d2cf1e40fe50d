package store

import (
	"fmt"
	"testing"
	"time"

	"github.com/digby-db/digby/btree"
)

// TestFreedNodesMarked: while a flush is in flight, a commit that replaces
// committed nodes marks the nodes it replaced (btree.Node.MarkFreed), so
// that the flush does not copy them for the cache; nodes it left alone
// stay unmarked, and with no flush in flight (no one to read the mark) no
// node is marked.
func TestFreedNodesMarked(t *testing.T) {
	db := openTemp(t, &Options{Durability: Everysec, FlushInterval: time.Hour, NoInPlace: true, NoWarmCache: true})
	if err := db.Update(func(tx *Tx) error { return putString(tx, 0, []byte("k"), []byte("v1")) }); err != nil {
		t.Fatal(err)
	}
	committed := unflushedNodes(db)
	if len(committed) == 0 {
		t.Fatal("no committed node in memory")
	}
	if err := db.Update(func(tx *Tx) error { return putString(tx, 0, []byte("k"), []byte("v2")) }); err != nil {
		t.Fatal(err)
	}
	for _, n := range committed {
		if n.Freed() {
			t.Fatalf("node %d marked freed with no flush in flight", n.ID)
		}
	}
	committed = unflushedNodes(db)
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
	// A flush in flight, as kickFlush leaves it (the writer's own field,
	// set and cleared on the writer's goroutine).
	if err := db.Update(func(tx *Tx) error {
		db.inflight = &flushJob{}
		defer func() { db.inflight = nil }()
		return putString(tx, 0, []byte("k"), []byte("v3"))
	}); err != nil {
		t.Fatal(err)
	}
	if k := freed(); k == 0 {
		t.Fatalf("none of %d committed nodes marked freed after a commit copied the key's leaf", len(committed))
	}
}

// TestFreedNodesNotCached: of a flush's nodes, those a later commit freed
// are not copied for the cache (cacheCopies), the others are, each once.
func TestFreedNodesNotCached(t *testing.T) {
	db := openTemp(t, &Options{Durability: Everysec, FlushInterval: time.Hour, NoInPlace: true, NoWarmCache: true})
	if err := db.Update(func(tx *Tx) error {
		for i := range 2000 {
			if err := putString(tx, 0, []byte(fmt.Sprintf("key:%05d", i)), []byte("value")); err != nil {
				return err
			}
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	nodes := unflushedNodes(db)
	if len(nodes) < 4 {
		t.Fatalf("%d committed nodes, want several", len(nodes))
	}
	want := map[uint64]bool{}
	for i, n := range nodes {
		if i%2 == 0 {
			n.MarkFreed()
		} else if !n.Filled() {
			want[n.ID] = true
		}
	}
	got := map[uint64]bool{}
	for _, n := range cacheCopies(nodes) {
		if n.Freed() || !want[n.ID] || got[n.ID] {
			t.Fatalf("node %d copied for the cache: freed %v, expected %v, twice %v", n.ID, n.Freed(), want[n.ID], got[n.ID])
		}
		got[n.ID] = true
	}
	if len(got) != len(want) {
		t.Fatalf("%d nodes copied for the cache, want the %d neither freed nor Filled", len(got), len(want))
	}
}

// unflushedNodes is the nodes committed and not yet flushed.
func unflushedNodes(db *DB) []*btree.Node {
	db.umu.RLock()
	defer db.umu.RUnlock()
	nodes := make([]*btree.Node, 0, db.unflushed.len())
	for _, n := range db.unflushed.all() {
		nodes = append(nodes, n)
	}
	return nodes
}
