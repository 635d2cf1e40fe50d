package store

import (
	"errors"

	"github.com/digby-db/digby/btree"
	"github.com/digby-db/digby/page"
)

// A long scan reads thousands of leaves scattered over the file, one at a
// time: through a fresh mapping each costs a fault (3-5 us on the virtual
// machines we measure on, whatever is read of the page), through pread a
// system call (about as much). Once a ScanCursor has lent populateAfter
// leaves it reads ahead instead: when it enters a child of a branch whose
// children are leaves, it reads that child and the next readAheadDepth-1
// (or the ones before, moving backwards) in one batch (page.PageReader,
// io_uring), about 1 us a page, into a window it reuses, and decodes each
// leaf in place there when the cursor reaches it. (The branches above
// the last level are few, and each wastes one batch, which finds them
// branches.) Pages in memory (unflushed or cached) are not read; they
// are used as they are. Where batches cannot be read (page.ErrNoBatchRead,
// Options.NoBatchReads) the scan goes on through the mapping as before
// (populateScan).
//
// A leaf decoded from the window is overwritten when the window is read
// again, which happens only once the cursor has moved off every leaf in
// it: this is why ScanCursor's keys and values are valid only until the
// cursor moves. A branch is never lent from the window (the cursor keeps
// its path's branches while it reads their children): a window page that
// turns out to be a branch is read again through the page cache.

// readAheadDepth is how many pages a scan reads in one batch.
const readAheadDepth = 64

// readAhead is a scan's window: the pages of children [lo, lo+len(refs))
// of the branch at page from, read in one batch into r's window. (Pages,
// not node pointers, name branches: a branch lent from the mapping is
// decoded into a new node each time the cursor comes to it.)
type readAhead struct {
	r    *page.PageReader
	from uint64 // 0: the window holds nothing (page 0 is a meta)
	lo   int
	refs []page.Ref
	ids  []uint64
	mem  []*btree.Node // per page: its node when in memory (not read)
	errs []error       // per page: nil (read or in memory), a mark or the read's error
	// upper holds the branches met whose children are branches: they are
	// not read ahead. Any other branch is taken for a parent of leaves
	// until a window read for it shows otherwise (every leaf is at the
	// same depth: upper holds the few branches above the last level).
	upper map[uint64]bool
}

// errInMemory marks, for ReadPages, a window page not read because it
// is in memory (readAhead.mem).
var errInMemory = errors.New("in memory")

// startReadAhead sets up batched reads for a long scan in tx, from the
// database's idle ones when it has one (setting a ring up and closing it
// again costs 100-160 us); nil where they cannot be had (where the system
// cannot read batches at all, page.ErrNoBatchRead, it is not tried again
// on this database).
func (db *DB) startReadAhead(tx *Tx) *readAhead {
	if db.opts.NoBatchReads || db.noBatch.Load() {
		return nil
	}
	db.amu.Lock()
	var a *readAhead
	if k := len(db.idleAheads); k > 0 {
		a, db.idleAheads = db.idleAheads[k-1], db.idleAheads[:k-1]
	}
	db.amu.Unlock()
	if a == nil {
		r, err := db.file.NewPageReader(readAheadDepth)
		if err != nil {
			if errors.Is(err, page.ErrNoBatchRead) {
				db.noBatch.Store(true)
			}
			return nil
		}
		a = &readAhead{r: r, errs: make([]error, readAheadDepth), mem: make([]*btree.Node, readAheadDepth)}
	}
	a.upper = map[uint64]bool{}
	tx.aheads = append(tx.aheads, a)
	return a
}

// maxIdleAheads bounds the readers a database keeps for later scans.
const maxIdleAheads = 4

// endReadAhead takes back a's reader when its transaction ends, keeping it
// for a later scan if the database keeps fewer than maxIdleAheads. A
// reader whose ring failed (io_uring_enter refused to go on, which a
// working ring never does) is dropped, and batched reads are not used
// again on this database; it keeps its ring and window mapped
// (page.PageReader), as reads may be in flight.
func (db *DB) endReadAhead(a *readAhead) {
	a.from, a.refs, a.ids, a.upper = 0, a.refs[:0], a.ids[:0], nil
	clear(a.errs)
	clear(a.mem)
	db.amu.Lock()
	defer db.amu.Unlock()
	switch {
	case a.r.Broken() != nil:
		db.noBatch.Store(true)
	case len(db.idleAheads) < maxIdleAheads && !db.closed.Load():
		db.idleAheads = append(db.idleAheads, a)
	default:
		a.r.Close()
	}
}

// closeIdleAheads closes the readers kept for later scans (Close).
func (db *DB) closeIdleAheads() {
	db.amu.Lock()
	defer db.amu.Unlock()
	for _, a := range db.idleAheads {
		a.r.Close()
	}
	db.idleAheads = nil
}

// Kid is Node(n.Kid(i)), reading ahead once the scan is long.
func (p lendPager) Kid(n *btree.Node, i int) (*btree.Node, error) {
	a := p.leaf.ahead
	if a == nil {
		return p.Node(n.Kid(i))
	}
	if a.from != n.ID || i < a.lo || i >= a.lo+len(a.refs) {
		if a.upper[n.ID] {
			return p.Node(n.Kid(i))
		}
		p.fill(a, n, i)
	}
	return p.fromWindow(a, i-a.lo)
}

// fill reads into a's window the children of n from i on, or up to i
// when the scan moves backwards (i before the window on n, or n entered
// at its last child, as Prev enters a branch).
func (p lendPager) fill(a *readAhead, n *btree.Node, i int) {
	lo := i
	if (a.from == n.ID && i < a.lo) || (a.from != n.ID && i == n.Len()-1) {
		lo = max(0, i-readAheadDepth+1)
	}
	hi := min(n.Len(), lo+readAheadDepth)
	a.from, a.lo = n.ID, lo
	a.refs, a.ids = a.refs[:0], a.ids[:0]
	reads := 0
	for j := lo; j < hi; j++ {
		ref := n.Kid(j)
		a.refs = append(a.refs, ref)
		a.ids = append(a.ids, ref.ID)
		c, ok, err := p.db.memNode(ref)
		a.mem[j-lo], a.errs[j-lo] = c, err
		if ok {
			a.errs[j-lo] = errInMemory
		} else if err == nil {
			reads++
		}
	}
	if reads > 0 {
		a.r.ReadPages(a.ids, a.errs)
		p.db.batches.Add(1)
	}
}

// fromWindow returns the node of the window's page j.
func (p lendPager) fromWindow(a *readAhead, j int) (*btree.Node, error) {
	ref := a.refs[j]
	switch a.errs[j] {
	case nil:
	case errInMemory: // published, so still right if evicted since
		c := a.mem[j]
		if !c.Leaf {
			a.upper[a.from] = true
		}
		return c, nil
	default:
		return nil, a.errs[j]
	}
	buf, h, err := p.db.file.Open(a.r.Page(j), ref.ID, 0, ref.Txn)
	if err != nil {
		return nil, err
	}
	if h.Type != page.TypeLeaf {
		a.upper[a.from] = true
		a.from, a.refs = 0, a.refs[:0] // the window's pages are branches: not lent
		return p.db.readNode(ref)
	}
	n, err := btree.DecodeLeafInto(p.leaf.n, buf, h)
	if err == nil {
		p.leaf.lent(n)
	}
	return n, err
}
