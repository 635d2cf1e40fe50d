package store

import (
	"bytes"
	"encoding/binary"
	"fmt"

	"github.com/digby-db/digby/btree"
	"github.com/digby-db/digby/page"
)

// CheckReport counts what Check found. Reachable + Free + Pending equals
// Pages - 2 (the metas) when the file is sound.
type CheckReport struct {
	Pages       uint64 // the file's logical size (meta high-water mark)
	Reachable   uint64 // tree, overflow and free-space metadata pages
	PendingDrop uint64 // of Reachable: pages of trees waiting to be dropped
	Free        uint64
	Pending     uint64
	Tables      int
	Tuples      uint64
}

// Check flushes, then verifies the durable state read straight from the
// file: every reachable page's checksum and txn id, key order and bounds,
// equal leaf depth, overflow runs, catalog counts and the expiry index, and
// that reachable + free + pending pages are exactly all pages, none twice.
func (db *DB) Check() (CheckReport, error) {
	var r CheckReport
	err := db.control(func() error {
		if err := db.flush(); err != nil {
			return err
		}
		if err := db.alloc.CheckCounts(); err != nil {
			return fmt.Errorf("allocator: %w", err)
		}
		var err error
		r, err = checkFile(db.file, db.newestMeta())
		return err
	})
	return r, err
}

// diskPager reads verified nodes straight from the file.
type diskPager struct {
	readPager
	f *page.File
}

func (p diskPager) PageSize() int { return p.f.PageSize() - p.f.Codec().Overhead() }
func (p diskPager) Node(ref page.Ref) (*btree.Node, error) {
	buf, h, err := p.f.Read(ref.ID, 1, 0, ref.Txn)
	if err != nil {
		return nil, err
	}
	return btree.Decode(buf, h)
}

type checker struct {
	f    *page.File
	p    diskPager
	hwm  uint64
	seen []uint8
	r    CheckReport
}

const (
	seenReach = 1 + iota
	seenFree
	seenPending
)

func (c *checker) mark(id uint64, n int, how uint8, what string) error {
	for i := id; i < id+uint64(n); i++ {
		if i < 2 || i >= c.hwm {
			return &page.CorruptError{ID: i, Reason: fmt.Sprintf("%s outside the file (high-water mark %d)", what, c.hwm)}
		}
		if c.seen[i] != 0 {
			return &page.CorruptError{ID: i, Reason: fmt.Sprintf("%s also counted as %s", what, [...]string{"", "reachable", "free", "pending"}[c.seen[i]])}
		}
		c.seen[i] = how
	}
	return nil
}

// markRuns marks overflow runs reachable.
func (c *checker) markRuns(runs []page.Ref, what string) error {
	for _, r := range runs {
		if err := c.mark(r.ID, int(r.Pages), seenReach, what); err != nil {
			return err
		}
		c.r.Reachable += uint64(r.Pages)
	}
	return nil
}

func checkFile(f *page.File, m *page.Meta) (CheckReport, error) {
	c := &checker{f: f, hwm: m.HWM, seen: make([]uint8, m.HWM)}
	c.p = diskPager{f: f}
	c.r.Pages = m.HWM
	// Free space first: its pages are reachable from the meta.
	if !m.Freedir.IsZero() {
		fs, err := page.ReadFreespace(f.Codec(), f.PageSize(), m.Freedir, func(r page.Ref, want page.Type) ([]byte, error) {
			buf, _, err := f.Read(r.ID, int(r.Pages), want, r.Txn)
			return buf, err
		})
		if err != nil {
			return c.r, fmt.Errorf("free space: %w", err)
		}
		for id := range fs.MetaPages {
			if err := c.mark(id, 1, seenReach, "free-space metadata"); err != nil {
				return c.r, err
			}
		}
		for _, id := range fs.Pending {
			if err := c.mark(id, 1, seenPending, "pending page"); err != nil {
				return c.r, err
			}
		}
		c.r.Reachable += uint64(len(fs.MetaPages))
		c.r.Pending += uint64(len(fs.Pending))
		// Free bits are applied after the trees so that a page both free
		// and reachable is reported as such.
		if err := c.catalog(m.Catalog); err != nil {
			return c.r, err
		}
		for id := uint64(2); id < m.HWM; id++ {
			if fs.IsFree(id) && c.seen[id] == 0 {
				c.seen[id] = seenFree
				c.r.Free++
			} else if fs.IsFree(id) && c.seen[id] == seenPending {
				// A stale bit: free-space metadata pages keep their
				// free bits (allocMeta does not dirty the bitmap), and
				// one replaced since is pending; Load clears the bits of
				// pending pages, so it is never handed out twice.
			} else if fs.IsFree(id) && c.seen[id] != seenReach {
				return c.r, &page.CorruptError{ID: id, Reason: "free and pending at once"}
			} else if fs.IsFree(id) {
				if _, meta := fs.MetaPages[id]; !meta {
					return c.r, &page.CorruptError{ID: id, Reason: "marked free but reachable"}
				}
			}
		}
	} else if err := c.catalog(m.Catalog); err != nil {
		return c.r, err
	}
	for id := uint64(2); id < m.HWM; id++ {
		if c.seen[id] == 0 {
			return c.r, &page.CorruptError{ID: id, Reason: "leaked: neither reachable, free nor pending"}
		}
	}
	return c.r, nil
}

func (c *checker) catalog(root page.Ref) error {
	type entry struct {
		key []byte
		val []byte
	}
	var entries []entry
	_, _, err := c.tree(root, "catalog", func(k []byte, v btree.Value) error {
		entries = append(entries, entry{append([]byte(nil), k...), append([]byte(nil), v.Data...)})
		return nil
	})
	if err != nil {
		return err
	}
	for _, e := range entries {
		switch {
		case len(e.key) == 5 && e.key[0] == catTable:
			n := binary.BigEndian.Uint32(e.key[1:])
			s, err := decodeTableState(e.val)
			if err != nil {
				return err
			}
			if err := c.table(n, s); err != nil {
				return err
			}
			c.r.Tables++
		case len(e.key) == 9 && e.key[0] == catDrop:
			d, err := decodeDrop(e.val)
			if err != nil {
				return err
			}
			before := c.r.Reachable
			if err := c.dropTree(d); err != nil {
				return fmt.Errorf("pending drop %x: %w", e.key[1:], err)
			}
			c.r.PendingDrop += c.r.Reachable - before
		default:
			return fmt.Errorf("catalog: unknown key %x: %w", e.key, ErrCorrupt)
		}
	}
	return nil
}

func (c *checker) table(n uint32, s tableState) error {
	var withExp uint64
	count, _, err := c.tree(s.root, fmt.Sprintf("table %d", n), func(k []byte, v btree.Value) error {
		if isLong(k) && v.Ovf.IsZero() {
			return fmt.Errorf("table %d: long key %x stored without a chunk table: %w", n, k[:16], ErrCorrupt)
		}
		if v.ExpireAt != 0 {
			withExp++
		}
		return nil
	})
	if err != nil {
		return err
	}
	if count != s.count {
		return fmt.Errorf("table %d: catalog says %d entries, tree holds %d: %w", n, s.count, count, ErrCorrupt)
	}
	main := btree.Tree{P: c.p, Root: s.root}
	idx, _, err := c.tree(s.exp, fmt.Sprintf("table %d expiry index", n), func(k []byte, _ btree.Value) error {
		if len(k) < 8 {
			return fmt.Errorf("table %d: expiry index key %x too short: %w", n, k, ErrCorrupt)
		}
		at := int64(binary.BigEndian.Uint64(k))
		v, ok, err := main.GetRaw(k[8:])
		if err != nil {
			return err
		}
		if !ok || v.ExpireAt != at {
			return fmt.Errorf("table %d: expiry index entry %x names no tuple expiring then: %w", n, k, ErrCorrupt)
		}
		return nil
	})
	if err != nil {
		return err
	}
	if idx != s.expires || idx != withExp {
		return fmt.Errorf("table %d: %d tuples with expiry, %d index entries, catalog says %d: %w", n, withExp, idx, s.expires, ErrCorrupt)
	}
	c.r.Tuples += count
	return nil
}

// tree walks a whole tree, verifying pages, bounds and depth, marking pages
// reachable, and calls fn for each leaf entry. It returns the entry count.
func (c *checker) tree(root page.Ref, name string, fn func(k []byte, v btree.Value) error) (uint64, int, error) {
	if root.IsZero() {
		return 0, 0, nil
	}
	type item struct {
		ref    page.Ref
		lo, hi []byte // keys in [lo, hi); nil = unbounded
		depth  int
	}
	stack := []item{{ref: root, depth: 1}}
	leafDepth := 0
	var count uint64
	for len(stack) > 0 {
		it := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		if err := c.mark(it.ref.ID, 1, seenReach, name+" page"); err != nil {
			return count, 0, err
		}
		c.r.Reachable++
		n, err := c.p.Node(it.ref)
		if err != nil {
			return count, 0, fmt.Errorf("%s: %w", name, err)
		}
		first, last := n.Key(0), n.Key(n.Len()-1)
		if (it.lo != nil && bytes.Compare(first, it.lo) < 0) || (it.hi != nil && bytes.Compare(last, it.hi) >= 0) {
			return count, 0, &page.CorruptError{ID: n.ID, Reason: name + ": keys outside the range its parent gives"}
		}
		if n.Leaf {
			if leafDepth == 0 {
				leafDepth = it.depth
			} else if leafDepth != it.depth {
				return count, 0, &page.CorruptError{ID: n.ID, Reason: fmt.Sprintf("%s: leaf at depth %d, others at %d", name, it.depth, leafDepth)}
			}
			for i := 0; i < n.Len(); i++ {
				k, v := n.Key(i), n.Val(i)
				if v.Compressed {
					if _, err := decodeCompressed(v.Data); err != nil {
						return count, 0, &page.CorruptError{ID: n.ID, Reason: fmt.Sprintf("%s: entry %d: %v", name, i, err)}
					}
				}
				if !v.Ovf.IsZero() {
					runs, err := checkValue(fileRuns(c.f), fileGeom(c.f), v.Ovf, k, v.Len)
					if err != nil {
						return count, 0, fmt.Errorf("%s: %w", name, err)
					}
					if err := c.markRuns(runs, name+" overflow"); err != nil {
						return count, 0, err
					}
				}
				if err := fn(k, v); err != nil {
					return count, 0, err
				}
				count++
			}
			continue
		}
		if it.depth > 64 {
			return count, 0, &page.CorruptError{ID: n.ID, Reason: name + ": tree deeper than 64"}
		}
		for i := n.Len() - 1; i >= 0; i-- {
			lo := it.lo
			if i > 0 {
				lo = n.Key(i)
			}
			hi := it.hi
			if i+1 < n.Len() {
				hi = n.Key(i + 1)
			}
			stack = append(stack, item{ref: n.Kid(i), lo: lo, hi: hi, depth: it.depth + 1})
		}
	}
	return count, leafDepth, nil
}

// dropTree marks what remains of a tree being dropped.
func (c *checker) dropTree(d dropEntry) error {
	if d.phase != dropBranches {
		t := btree.Tree{P: c.p, Root: d.root}
		cur := t.Cursor()
		ok := cur.First()
		if d.phase == dropFromKey {
			ok = cur.Seek(d.progress)
		}
		for ; ok; ok = cur.NextLeaf() {
			leaf := cur.Leaf()
			if err := c.mark(leaf.ID, 1, seenReach, "pending-drop leaf"); err != nil {
				return err
			}
			c.r.Reachable++
			for i := 0; i < leaf.Len(); i++ {
				if v := leaf.Val(i); !v.Ovf.IsZero() {
					runs, _, err := overflowRuns(fileRuns(c.f), fileGeom(c.f), v.Ovf)
					if err != nil {
						return err
					}
					if err := c.markRuns(runs, "pending-drop overflow"); err != nil {
						return err
					}
				}
			}
		}
		if cur.Err() != nil {
			return cur.Err()
		}
	}
	return forEachBranch(c.p, d.root, int(d.height), func(n *btree.Node) {
		if c.mark(n.ID, 1, seenReach, "pending-drop branch") == nil {
			c.r.Reachable++
		}
	})
}
