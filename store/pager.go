package store

import (
	"fmt"

	"github.com/digby-db/digby/btree"
	"github.com/digby-db/digby/page"
)

// node returns the committed node ref points at: from the unflushed set,
// the cache, or the file (verified against ref, then cached).
func (db *DB) node(ref page.Ref) (*btree.Node, error) {
	if n, ok, err := db.memNode(ref); ok || err != nil {
		return n, err
	}
	return db.readNode(ref)
}

// memNode is the node ref points at when it is in memory: not yet
// flushed, or cached.
func (db *DB) memNode(ref page.Ref) (*btree.Node, bool, error) {
	if n, ok := db.unflushedNode(ref.ID); ok {
		if n.Txn != ref.Txn {
			return nil, false, &page.CorruptError{ID: ref.ID, Reason: fmt.Sprintf("in-memory page of txn %d, reference expects txn %d", n.Txn, ref.Txn)}
		}
		return n, true, nil
	}
	if v, ok := db.cache.Get(ref.ID); ok {
		if n := v.(*btree.Node); n.Txn == ref.Txn {
			return n, true, nil
		}
	}
	return nil, false, nil
}

// readNode reads, verifies, decodes and caches the tree page ref points at.
func (db *DB) readNode(ref page.Ref) (*btree.Node, error) {
	bp := db.pageBufs.Get().(*[]byte)
	defer db.pageBufs.Put(bp)
	buf, h, err := db.file.ReadInto(*bp, ref.ID, 1, 0, ref.Txn)
	if err != nil {
		return nil, err
	}
	*bp = buf[:cap(buf)] // keeps a buffer ReadInto had to enlarge
	return db.cacheNode(buf, h)
}

// cacheNode decodes the verified tree page buf (header h) into a node that
// keeps its own copy of the bytes, so buf may be reused, and caches it.
func (db *DB) cacheNode(buf []byte, h page.Header) (*btree.Node, error) {
	n, err := btree.DecodeCopy(buf, h)
	if err != nil {
		return nil, err
	}
	db.cache.Put(h.ID, n, n.MemSize())
	return n, nil
}

// unflushedNode looks id up in the unflushed set, skipping the lock when
// the set is empty (reads after a flush).
func (db *DB) unflushedNode(id uint64) (*btree.Node, bool) {
	if db.nUnflushed.Load() == 0 {
		return nil, false
	}
	db.umu.RLock()
	n, ok := db.unflushed.get(id)
	db.umu.RUnlock()
	return n, ok
}

// ovfOwnerFixed is the fixed part of an overflow run's owner prefix:
// table u32, key length u16, then the key, then the value.
const ovfOwnerFixed = 6

// noOwner is the owner table of overflow data outside the tables.
const noOwner = ^uint32(0)

// readPager serves a read-only snapshot.
type readPager struct{ db *DB }

func (p readPager) PageSize() int                                     { return p.db.usable() }
func (p readPager) Node(ref page.Ref) (*btree.Node, error)            { return p.db.node(ref) }
func (p readPager) Writable(*btree.Node) (*btree.Node, error)         { return nil, ErrReadOnly }
func (p readPager) NewNode(bool) (*btree.Node, error)                 { return nil, ErrReadOnly }
func (p readPager) FreeNode(*btree.Node)                              {}
func (p readPager) WriteOverflow([]byte) (page.Ref, error)            { return page.Ref{}, ErrReadOnly }
func (p readPager) FreeOverflow(page.Ref) error                       { return ErrReadOnly }
func (p readPager) ReadOverflow(r page.Ref, l uint64) ([]byte, error) { return p.db.readOverflow(r, l) }

// The bits of btree.Node.Mark the writer uses.
const (
	// markSaved says the node is in the savepoint's lists: made since it
	// started, or recording its changes (tx.go).
	markSaved = 1 << iota
	// markInPlace says a committed node changes in place in the running
	// transaction (wtx.inplace lists it; commit clears it; inplace.go).
	markInPlace
)

// run records an allocation, for rollback.
type run struct {
	id uint64
	n  int
}

// savepoint is what rolling back one submission needs.
type savepoint struct {
	// created lists the nodes made since the savepoint, recorded the
	// dirty nodes recording their changes since (StartUndo); each of them
	// has markSaved set, and no other node has.
	created, recorded []*btree.Node
	allocs            int
	freed             int
	evicts            int
	superseded        int
	unlisted          int
	mark              page.Mark
	tables            tableStates
	catalog           page.Ref
	nextVersion       uint64
	dropSeq           uint64
	log               logMark
}

// wtx is the writer's side of a write transaction; it is the tree's Pager.
type wtx struct {
	db *DB
	// owner of the overflow runs written now (set by Table.put)
	ownerTable uint32
	ownerKey   []byte // the owner's tree key
	// ownerFullKey is the whole key of a long-key owner (nil otherwise):
	// WriteOverflow stores it in the chunk table.
	ownerFullKey []byte
	txn          uint64
	dirty        map[uint64]*btree.Node
	allocs       []run
	freed        []uint64
	// The pages freed split in two for commit: evicts, those the cache
	// may hold (commit evicts them); superseded, the nodes of the flush
	// set (never written, so never cached; commit takes them out of the
	// set).
	evicts     []uint64
	superseded []*btree.Node
	// unlisted are the runs written since the last flush that frees took
	// off its list of written runs (db.flushed), for a rollback to put
	// back: a run whose free is undone is referenced again, and open must
	// verify it with the next flush.
	unlisted []page.RunSum
	// changes counts the changes to the transaction's nodes (every
	// Writable, NewNode and FreeNode, and every rollback), and finger
	// keeps a main tree's last look-up for the put that may follow it
	// (btree.Finger, btree.ChangeCounter).
	changes uint64
	finger  btree.Finger
	sp      *savepoint
	// ip is the transaction's in-place mode and ipFloor its floor;
	// inplace lists the committed nodes it changes in place, each with
	// markInPlace (inplace.go).
	ip      int
	ipFloor uint64
	inplace []*btree.Node
	// log collects the batch's redo records while the commit log is on
	// (commitlog.go); nil otherwise. Every page change reports to it.
	log *txLog
}

// PageSize is the usable size of a page: the page less the codec's trailer.
func (w *wtx) PageSize() int { return w.db.usable() }

func (w *wtx) Node(ref page.Ref) (*btree.Node, error) {
	// Only a reference made in this txn can point at a node dirty in it
	// under a new id: a node made in this txn carries its id, and one
	// changing in place is the unflushed set's node under its own ref.
	if ref.Txn == w.txn {
		if n, ok := w.dirty[ref.ID]; ok {
			return n, nil
		}
	}
	// The writer's role alone changes the unflushed set: no lock to read
	// it here (a mismatched txn is reported by node).
	if n, ok := w.db.unflushed.get(ref.ID); ok && n.Txn == ref.Txn {
		return n, nil
	}
	return w.db.node(ref)
}

var _ btree.Peeker = (*wtx)(nil)

// Peek implements btree.Peeker: the node in memory ref points at, if
// any, unverified and uncounted (a prefetch hint).
func (w *wtx) Peek(ref page.Ref) *btree.Node {
	if ref.Txn == w.txn {
		if n, ok := w.dirty[ref.ID]; ok {
			return n
		}
	}
	if n, ok := w.db.unflushed.get(ref.ID); ok { // no lock: see Node
		return n
	}
	if v, ok := w.db.cache.Peek(ref.ID); ok {
		n, _ := v.(*btree.Node)
		return n
	}
	return nil
}

// allocate hands out n pages. The cache holds nothing under their ids: a
// page's node leaves the cache when the commit freeing it lands and again
// when it is released to allocation (writer.go); and a stale entry could
// not be served anyway, as node() checks the txn a reference expects.
func (w *wtx) allocate(n int) uint64 {
	w.log.touched()
	id := w.db.alloc.Alloc(n)
	w.allocs = append(w.allocs, run{id, n})
	return id
}

// unlist takes the run at id, if written since the last flush, off the
// flush's list of written runs: no longer reachable, it need not be
// verified.
func (w *wtx) unlist(id uint64) {
	if r, ok := w.db.flushed[id]; ok {
		delete(w.db.flushed, id)
		w.unlisted = append(w.unlisted, r)
	}
}

// free frees a run of n pages, a tree node's page or an overflow run.
// A tree node freed by its id (a dropped table's pages) is looked up in
// the unflushed set: the writer alone changes it, no lock to read it.
func (w *wtx) free(id uint64, n int) {
	var nd *btree.Node
	if n == 1 {
		nd, _ = w.db.unflushed.get(id)
	}
	w.freeRun(id, n, nd)
}

// freeNode frees the page of tree node nd, which the tree took from this
// pager (so, when it is committed and unflushed, the flush set's node).
func (w *wtx) freeNode(nd *btree.Node) { w.freeRun(nd.ID, 1, nd) }

// freeRun frees n pages at id, whose node is nd (nil if none), and files
// them for commit: nd as superseded if it is in the flush set (never
// written, so never cached), the pages as evicted otherwise.
func (w *wtx) freeRun(id uint64, n int, nd *btree.Node) {
	w.log.touched()
	w.db.alloc.Free(w.txn, id, n)
	w.unlist(id)
	for i := id; i < id+uint64(n); i++ {
		w.freed = append(w.freed, i)
	}
	if nd != nil {
		// Only a flush in flight reads the mark (cacheCopies), and the
		// mark is an atomic exchange: 2% of the CPU under random writes
		// when every freed node took it.
		if w.db.inflight != nil {
			nd.MarkFreed()
		}
		if w.db.flushSet.in(nd) {
			w.superseded = append(w.superseded, nd)
			return
		}
	}
	for i := id; i < id+uint64(n); i++ {
		w.evicts = append(w.evicts, i)
	}
}

func (w *wtx) remember(n *btree.Node) {
	if w.sp == nil {
		return
	}
	if n.Mark&markSaved == 0 {
		var l *btree.UndoLog
		if k := len(w.db.undoLogs); k > 0 {
			l, w.db.undoLogs = w.db.undoLogs[k-1], w.db.undoLogs[:k-1]
		}
		n.StartUndo(l)
		n.Mark |= markSaved
		w.sp.recorded = append(w.sp.recorded, n)
	}
}

// made files node n, just made, with the savepoint, if any.
func (w *wtx) made(n *btree.Node) {
	if w.sp != nil {
		n.Mark |= markSaved
		w.sp.created = append(w.sp.created, n)
	}
}

// Changes implements btree.ChangeCounter.
func (w *wtx) Changes() uint64 { return w.changes }

func (w *wtx) NewNode(leaf bool) (*btree.Node, error) {
	w.changes++
	n := &btree.Node{ID: w.allocate(1), Txn: w.txn, Leaf: leaf}
	n.HeldNew() // by the unflushed set, from commit on (writer.go)
	w.dirty[n.ID] = n
	w.made(n)
	return n, nil
}

func (w *wtx) Writable(n *btree.Node) (*btree.Node, error) {
	w.log.touched() // also a node this txn already copied: it changes
	w.changes++
	// A node changing in place carries its mark (it is in the unflushed
	// and flush sets already, not in w.dirty, which holds only this
	// txn's nodes); only a node of this txn can be in w.dirty: others
	// skip the map lookup.
	if n.Mark&markInPlace != 0 {
		w.remember(n)
		return n, nil
	}
	if n.Txn == w.txn {
		if d, ok := w.dirty[n.ID]; ok && d == n {
			w.remember(n)
			return n, nil
		}
	} else if w.inPlace(n) {
		n.ClearFilled() // come back to, as a copy would not be Filled
		n.Mark |= markInPlace
		w.inplace = append(w.inplace, n)
		w.remember(n)
		return n, nil
	}
	c := n.CloneFrom(&w.db.spare)
	c.ID, c.Txn = w.allocate(1), w.txn
	c.HeldNew() // by the unflushed set, from commit on (writer.go)
	w.dirty[c.ID] = c
	w.made(c)
	w.freeNode(n)
	return c, nil
}

func (w *wtx) FreeNode(n *btree.Node) {
	w.changes++
	if n.Txn == w.txn {
		if d, ok := w.dirty[n.ID]; ok && d == n {
			w.remember(n)
			delete(w.dirty, n.ID)
		}
	}
	// A node changing in place keeps its mark: commit takes it out of the
	// flush set as superseded, and a rollback leaves it there.
	w.freeNode(n)
}
