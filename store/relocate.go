package store

import (
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
// Overflow runs and trees on the pending-drop list are not moved (their
// owners cannot be found from the page); free-space metadata is moved by
// rewriting its chunk.
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
	tried := 0
	for id := hwm - 1; id >= floor && tried < relocateBudget; id-- {
		if !db.alloc.Relocatable(id) {
			continue
		}
		tried++
		if db.alloc.IsMetaPage(id) {
			db.alloc.RewriteMeta(id)
			continue
		}
		n, err := db.pageNode(id)
		if err != nil || n == nil {
			continue // overflow run or unreadable: leave it
		}
		ok, err := tx.relocate(n)
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

// pageNode returns the tree node at page id, or nil if it is not a tree page.
func (db *DB) pageNode(id uint64) (*btree.Node, error) {
	if n, ok := db.unflushedNode(id); ok {
		return n, nil
	}
	buf := make([]byte, db.ps)
	if err := db.file.ReadRaw(id, buf); err != nil {
		return nil, err
	}
	h := page.ReadHeader(buf)
	if h.Type != page.TypeLeaf && h.Type != page.TypeBranch {
		return nil, nil
	}
	return db.node(page.Ref{ID: id, Txn: h.Txn, Pages: 1})
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
