package store

import (
	"errors"

	"github.com/digby-db/digby/btree"
	"github.com/digby-db/digby/page"
)

// relocateBudget is the number of high pages one idle step tries to move.
const relocateBudget = 64

// relocateStep moves the highest live tree pages to the lowest free pages
// (by shadowing their paths) so that random deletes shrink the file without
// offline compaction: the moved pages become free and, two flushes later,
// the free tail is cut off. It works only while there is a free page below
// the candidate. It reports whether it moved anything.
//
// Overflow runs are moved by copying them to a lower run (their owner is
// recorded at their start); trees on the pending-drop list are not moved;
// free-space metadata is moved by rewriting its chunk.
func (db *DB) relocateStep() (bool, error) {
	low, ok := db.alloc.LowestFree()
	if !ok {
		return false, nil
	}
	// Only pages past the end of a perfectly compacted file need to move;
	// this also stops the step from churning when the tail is unmovable.
	hwm := db.alloc.HWM()
	floor := hwm - min(hwm, db.alloc.AvailCount())
	floor = max(floor, low+1)
	tx := db.beginWrite()
	moved := 0
	tried, scanned := 0, 0
	for id := hwm - 1; id >= floor && tried < relocateBudget && scanned < 16*relocateBudget; id-- {
		if !db.alloc.Relocatable(id) {
			continue
		}
		scanned++
		if db.alloc.IsMetaPage(id) {
			db.alloc.RewriteMeta(id)
			continue
		}
		n, h, err := db.pageNode(id)
		if err != nil {
			continue // the inside of an overflow run, or unreadable: leave it
		}
		tried++
		var ok bool
		if n == nil {
			ok, err = tx.relocateOverflow(id, h)
		} else {
			ok, err = tx.relocate(n)
		}
		if err != nil {
			return false, err
		}
		if ok {
			moved++
		}
		if low, ok = db.alloc.LowestFree(); !ok || low >= id {
			break
		}
	}
	if moved == 0 {
		return false, nil
	}
	return true, db.commit(tx)
}

// pageNode returns the tree node at page id, or (nil, its header) for the
// first page of an overflow run; an error for anything else.
func (db *DB) pageNode(id uint64) (*btree.Node, page.Header, error) {
	if n, ok := db.unflushedNode(id); ok {
		return n, page.Header{}, nil
	}
	buf := make([]byte, db.ps)
	if err := db.file.ReadRaw(id, buf); err != nil {
		return nil, page.Header{}, err
	}
	h := page.ReadHeader(buf)
	switch {
	case h.ID != id:
		return nil, h, errNotAPage
	case h.Type == page.TypeOverflow:
		return nil, h, nil
	case h.Type != page.TypeLeaf && h.Type != page.TypeBranch:
		return nil, h, errNotAPage
	}
	n, err := db.node(page.Ref{ID: id, Txn: h.Txn, Pages: 1})
	return n, h, err
}

var errNotAPage = errors.New("not the start of a page")

// relocateOverflow copies the overflow run at id (header h) to a new run,
// lower in the file, and points its tuple at the copy. It reports whether
// it moved the run (not if its owner no longer refers to it).
func (tx *Tx) relocateOverflow(id uint64, h page.Header) (bool, error) {
	ref := page.Ref{ID: id, Txn: h.Txn, Pages: uint32(h.Pages())}
	if !tx.db.alloc.HasRunBelow(h.Pages(), id) {
		return false, nil
	}
	table, key, _, err := tx.db.readOverflowRun(ref, 0)
	if err != nil || table == noOwner {
		return false, nil
	}
	s, err := tx.tableState(table)
	if err != nil {
		return false, err
	}
	m := btree.Tree{P: tx.w, Root: s.root}
	v, ok, err := m.GetRaw(key)
	if err != nil || !ok || v.Ovf != ref {
		return false, err
	}
	data, err := tx.db.readOverflow(v.Ovf, v.Len)
	if err != nil {
		return false, err
	}
	key = append([]byte(nil), key...)
	tx.w.ownerTable, tx.w.ownerKey = table, key
	nref, err := tx.w.WriteOverflow(data)
	tx.w.ownerTable, tx.w.ownerKey = noOwner, nil
	if err != nil {
		return false, err
	}
	v.Ovf, v.Data = nref, nil
	if _, _, err := m.PutValue(key, v); err != nil { // frees the old run
		return false, err
	}
	s.root = m.Root
	tx.tables[table] = s
	return true, nil
}

// relocate finds the live tree holding n and shadows the path to it.
func (tx *Tx) relocate(n *btree.Node) (bool, error) {
	key := n.Key(0)
	if ok, err := tx.catalog.Relocate(key, n.ID); ok || err != nil {
		return ok, err
	}
	tables, err := tx.Tables()
	if err != nil {
		return false, err
	}
	for _, t := range tables {
		s, err := tx.tableState(t)
		if err != nil {
			return false, err
		}
		for i, root := range []page.Ref{s.root, s.exp} {
			tr := btree.Tree{P: tx.w, Root: root}
			ok, err := tr.Relocate(key, n.ID)
			if err != nil {
				return false, err
			}
			if ok {
				if i == 0 {
					s.root = tr.Root
				} else {
					s.exp = tr.Root
				}
				tx.tables[t] = s
				return true, nil
			}
		}
	}
	return false, nil
}
