package store

import (
	"github.com/digby-db/digby/btree"
	"github.com/digby-db/digby/page"
)

// A scan reads many pages once each. Through the page cache every one is
// copied out of the file, verified, decoded into a copy and cached, which
// costs more than the scan's own work and evicts the working set of point
// reads for pages the scan will not come back to. ScanCursor instead
// verifies each page it reads from the file in the file's read-only
// mapping and decodes it in place: no copy, nothing cached (pages already
// cached or not yet flushed are used as they are). This is what bbolt's
// cursors do, with the checksum kept.
//
// Lending the mapping's bytes is safe because of two rules kept elsewhere:
// a page reachable from a snapshot is neither rewritten nor cut off the
// file while a reader holds that snapshot (the page release rule, DESIGN
// §2), and the mapping is only unmapped at Close, which waits for every
// transaction that lent bytes (lendMu).

// ScanCursor is Cursor for one pass over many keys in a read transaction:
// pages it has to read from the file are verified and used in place in
// the file's mapping, or, once the scan is long, in a window it reads
// ahead into (readahead.go), instead of being copied and cached. The keys
// and values it returns (Key, KeyValue, Tuple's slices) are valid only
// until the cursor moves (as a pebble iterator's): copy what you keep. In a write
// transaction, for an encrypted file or where the file is not mapped, it
// is Cursor. Close waits for a read transaction that used one to end, so
// it must not be called inside it.
func (t *Table) ScanCursor() *Cursor {
	tx := t.tx
	if tx.w != nil || !tx.db.file.CanView() {
		return t.Cursor() // nothing to lend: no lock, no pause of warming
	}
	if !tx.lending {
		tx.db.lendMu.RLock() // released when the View returns
		tx.db.scanners.Add(1)
		tx.lending = true
	}
	s, err := t.state()
	p := lendPager{readPager{tx.db}, &lentLeaf{count: s.count, tx: tx}}
	m := btree.Tree{P: p, Kids: p, Root: s.root}
	return &Cursor{t: t, c: m.Cursor(), err: err}
}

// lendPager is readPager, but its nodes read from the file are decoded in
// place in the mapping (lendNode). Leaves lent from the mapping are
// decoded into the node of the previous one (leaf): a cursor asks for a
// leaf only once it has let go of the one it was on (it pops a leaf
// before climbing to the next, and repositioning starts a new path), and
// a lent node is never cached nor remembered, so nothing else holds it.
// The keys and values the cursor hands out point into the mapping, not
// into the node, and stay valid.
type lendPager struct {
	readPager
	leaf *lentLeaf
}

// lentLeaf is the node of the leaf a lendPager last decoded from the
// mapping or its read-ahead window, with how many leaves and keys it has
// lent, the table's entry count (for populateScan) and its transaction.
type lentLeaf struct {
	n            *btree.Node
	leaves, keys int
	count        uint64
	tx           *Tx
	ahead        *readAhead // set once the scan is long, where batches can be read
}

func (p lendPager) Node(ref page.Ref) (*btree.Node, error) {
	n, lent, err := p.db.lendNode(ref, p.leaf.n)
	if lent && err == nil && n.Leaf {
		p.leaf.lent(n)
	}
	return n, err
}

// lent counts leaf n, just lent, and once the scan is long sets up its
// read-ahead (readahead.go) or, where there is none, populateScan.
func (l *lentLeaf) lent(n *btree.Node) {
	l.n = n
	l.leaves++
	l.keys += n.Len()
	if l.leaves == populateAfter {
		db := l.tx.db
		if l.ahead = db.startReadAhead(l.tx); l.ahead == nil {
			db.populateScan(l.count, l.keys/l.leaves)
		}
	}
}

// populateAfter is how many leaves a scan lends from the mapping before
// it reads ahead (readahead.go) or, where it cannot, considers
// populateScan: a short scan does neither. (The server's KEYS
// uses a ScanCursor; SCAN, which holds no transaction across calls, uses
// Cursor.)
const populateAfter = 64

// populateScan has the kernel map the whole data file at once, for a long
// scan of a table that holds at least half of the file's pages (estimated
// from its entry count and the keys a lent leaf held), when the file fits
// in the cache bound. A scan's first touch of each leaf page in a fresh
// mapping costs a fault that maps a few neighbours at best, a few us each
// here; one madvise maps them all for a fraction of that (page.File.
// Populate, once per mapping). The bounds keep it from reading a file
// larger than the memory given to the cache, or from mapping a large file
// for a small table in it.
func (db *DB) populateScan(count uint64, keysPerLeaf int) {
	size, err := db.file.Size()
	if err == nil && worthPopulating(size, db.cache.Stats().Limit, db.ps, count, keysPerLeaf) {
		if db.file.Populate(0, int(size/int64(db.ps))) {
			db.populates.Add(1)
		}
	}
}

// worthPopulating is populateScan's rule: a file of size bytes within the
// cache bound limit, and a table of count entries at keysPerLeaf a leaf
// that fills at least half of its pages of ps bytes.
func worthPopulating(size, limit int64, ps int, count uint64, keysPerLeaf int) bool {
	if size > limit || keysPerLeaf <= 0 || ps <= 0 {
		return false
	}
	return count/uint64(keysPerLeaf) >= uint64(size/int64(ps)/2)
}

// lendNode is node, but a page read from the file is verified and decoded
// in the file's mapping, not copied and not cached (lent), a leaf into
// reuse's entry array when reuse is not nil (btree.DecodeLeafInto); where
// that cannot be done, it is node.
func (db *DB) lendNode(ref page.Ref, reuse *btree.Node) (n *btree.Node, lent bool, err error) {
	if n, ok, err := db.memNode(ref); ok || err != nil {
		return n, false, err
	}
	buf, h, ok, err := db.file.ViewRun(ref.ID, 1, 0, ref.Txn)
	if !ok {
		n, err := db.readNode(ref)
		return n, false, err
	}
	if err != nil {
		return nil, true, err
	}
	n, err = btree.DecodeLeafInto(reuse, buf, h)
	return n, true, err
}
