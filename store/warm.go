package store

import (
	"cmp"
	"slices"
	"time"

	"github.com/digby-db/digby/btree"
	"github.com/digby-db/digby/page"
)

// Cache warming. A database opens instantly (no log to replay) but with an
// empty page cache, so the first reads of every page cost a read, a
// checksum and a decode each. After open, warm loads the tree pages of the
// newest state into the cache in the background: level by level from the
// catalog and table roots down (branches before leaves, so that a cache
// smaller than the file holds the upper levels), each level in file order,
// reading nearby pages with one read per span. It stops when the cache is
// nearly full, at Close, or at a read error.
//
// Invariants: warm takes the roots from a snapshot, then reads without
// holding it (holding it would keep every page freed meanwhile from being
// reused). A page freed and rewritten since then fails verification against
// the reference warm holds (its txn differs), and is skipped, as is any
// other page that fails it: a reader that needs it reads and reports it
// itself. So warm only caches verified pages exactly as a reader's miss
// would, and the cache's own bound and eviction stay in charge.
//
// Warming steps aside while a ScanCursor is reading (db.scanners): a scan
// reads the file itself, and warming beside it (its reads, decoding and
// garbage on the other core) made a full scan after open 1.6x slower.

const (
	warmSpanPages = 256 // pages read at most with one read (1 MiB at 4 KiB)
	warmGapPages  = 8   // unwanted pages a span may read over between wanted ones
	warmFill      = 0.9 // fraction of the cache warming fills at most
	// warmPause is how long warming waits before looking again whether
	// scans still run.
	warmPause = 10 * time.Millisecond
	// warmMaxPauses bounds the wait before each span (one second), so
	// that scans one after the other cannot hold warming off for good.
	warmMaxPauses = 100
)

// warm fills the cache; it runs in its own goroutine and closes
// db.warmDone when it returns.
func (db *DB) warm() {
	defer close(db.warmDone)
	var level []page.Ref
	if err := db.View(func(tx *Tx) error {
		level = append(level, tx.st.catalog)
		tables, err := tx.Tables()
		if err != nil {
			return err
		}
		for _, n := range tables {
			s, err := tx.tableState(n)
			if err != nil {
				return err
			}
			level = append(level, s.root, s.exp)
		}
		return nil
	}); err != nil {
		return
	}
	for len(level) > 0 {
		nodes, full := db.warmLevel(level)
		if full {
			return
		}
		level = nil
		for _, n := range nodes {
			if !n.Leaf {
				for i := 0; i < n.Len(); i++ {
					level = append(level, n.Kid(i))
				}
			}
		}
	}
}

// warmLevel reads the tree pages refs point at (skipping zero refs) into
// the cache and returns the branches among them; full reports that warming
// should stop.
func (db *DB) warmLevel(refs []page.Ref) (nodes []*btree.Node, full bool) {
	refs = slices.DeleteFunc(refs, func(r page.Ref) bool { return r.IsZero() })
	slices.SortFunc(refs, func(a, b page.Ref) int { return cmp.Compare(a.ID, b.ID) })
	ps := db.ps
	limit := int64(float64(db.cache.Stats().Limit) * warmFill)
	buf := make([]byte, warmSpanPages*ps)
	for i := 0; i < len(refs); {
		// A span: refs[i:j], from refs[i].ID to refs[j-1].ID.
		j := i + 1
		for j < len(refs) && refs[j].ID-refs[j-1].ID <= warmGapPages && refs[j].ID-refs[i].ID < warmSpanPages {
			j++
		}
		for k := 0; k < warmMaxPauses && db.scanners.Load() > 0 && !db.closed.Load(); k++ {
			time.Sleep(warmPause)
		}
		if db.closed.Load() || db.cache.Stats().Bytes >= limit {
			return nodes, true
		}
		first, last := refs[i].ID, refs[j-1].ID
		span := buf[:int(last-first+1)*ps]
		if err := db.file.ReadRaw(first, span); err != nil {
			return nodes, true
		}
		for _, r := range refs[i:j] {
			var n *btree.Node
			if v, ok := db.cache.Peek(r.ID); ok && v.(*btree.Node).Txn == r.Txn {
				n = v.(*btree.Node)
			} else {
				off := int(r.ID-first) * ps
				b, h, err := db.file.Codec().Open(span[off:off+ps:off+ps], r.ID, 0, r.Txn, ps)
				if err == nil {
					n, err = db.cacheNode(b, h)
				}
				if err != nil {
					continue // rewritten since, or damaged: a reader will see
				}
			}
			if !n.Leaf {
				nodes = append(nodes, n) // leaves have no children to visit
			}
		}
		i = j
	}
	return nodes, false
}
