package store

import (
	"encoding/binary"
	"fmt"

	"github.com/digby-db/digby/btree"
	"github.com/digby-db/digby/page"
)

// dropBudget is the number of pages one drop step frees at most (leaf
// phase; the branch phase frees a tree's branches, about 1% of its pages,
// in one step).
const dropBudget = 2048

// Drop phases.
const (
	dropFromStart = 0 // leaves not started
	dropFromKey   = 1 // leaves before progress key freed
	dropBranches  = 2 // all leaves freed; branches remain
)

// dropEntry is a tree on the persistent pending-drop list.
type dropEntry struct {
	root     page.Ref
	height   uint8
	phase    uint8
	progress []byte
}

func (d dropEntry) encode() []byte {
	b := make([]byte, 22+len(d.progress))
	putRef(b, d.root)
	b[20], b[21] = d.height, d.phase
	copy(b[22:], d.progress)
	return b
}

func decodeDrop(b []byte) (dropEntry, error) {
	if len(b) < 22 || b[21] > dropBranches || b[20] == 0 {
		return dropEntry{}, fmt.Errorf("catalog: bad pending-drop entry: %w", ErrCorrupt)
	}
	return dropEntry{root: getRef(b), height: b[20], phase: b[21], progress: b[22:]}, nil
}

func dropKey(seq uint64) []byte {
	k := make([]byte, 9)
	k[0] = catDrop
	binary.BigEndian.PutUint64(k[1:], seq)
	return k
}

// treeHeight counts levels from root to the leftmost leaf.
func treeHeight(p btree.Pager, root page.Ref) (uint8, error) {
	h := uint8(0)
	for ref := root; ; {
		n, err := p.Node(ref)
		if err != nil {
			return 0, err
		}
		h++
		if n.Leaf || h > 64 {
			return h, nil
		}
		ref = n.Kid(0)
	}
}

// scheduleDrop puts the tree at root on the pending-drop list.
func (tx *Tx) scheduleDrop(root page.Ref) error {
	if root.IsZero() {
		return nil
	}
	h, err := treeHeight(tx.w, root)
	if err != nil {
		return err
	}
	if tx.dropSeq == 0 {
		tx.dropSeq = 1
		c := tx.catalog.Cursor()
		if c.Seek([]byte{catDrop + 1}) {
			c.Prev()
		} else {
			c.Last()
		}
		if c.Valid() && c.Key()[0] == catDrop && len(c.Key()) == 9 {
			tx.dropSeq = binary.BigEndian.Uint64(c.Key()[1:]) + 1
		}
		if c.Err() != nil {
			return c.Err()
		}
	}
	_, _, err = tx.catalog.Put(dropKey(tx.dropSeq), btree.Value{Data: dropEntry{root: root, height: h}.encode()})
	tx.dropSeq++
	return err
}

// dropStep frees up to budget pages of the first pending-drop tree in one
// committed transaction and reports whether more work remains.
func (db *DB) dropStep(budget int) (bool, error) {
	st := db.cur.Load()
	probe := btree.Tree{P: readPager{db}, Root: st.catalog}
	c := probe.Cursor()
	if !c.Seek([]byte{catDrop}) || c.Key()[0] != catDrop {
		return false, c.Err()
	}
	tx := db.beginWrite()
	key := append([]byte(nil), c.Key()...)
	v, ok, err := tx.catalog.Get(key)
	if err != nil || !ok {
		return false, err
	}
	d, err := decodeDrop(v.Data)
	if err != nil {
		return false, err
	}
	w := tx.w
	tree := btree.Tree{P: w, Root: d.root}
	switch d.phase {
	case dropFromStart, dropFromKey:
		cur := tree.Cursor()
		ok := false
		if d.phase == dropFromStart {
			ok = cur.First()
		} else {
			ok = cur.Seek(d.progress)
		}
		freed := 0
		for ok && freed < budget {
			leaf := cur.Leaf()
			for i := 0; i < leaf.Len(); i++ {
				if val := leaf.Val(i); !val.Ovf.IsZero() {
					n, err := w.freeValue(val.Ovf)
					if err != nil {
						return false, fmt.Errorf("pending drop: %w", err)
					}
					freed += n
				}
			}
			w.free(leaf.ID, 1)
			freed++
			ok = cur.NextLeaf()
		}
		if err := cur.Err(); err != nil {
			return false, err
		}
		if ok {
			d.phase, d.progress = dropFromKey, append([]byte(nil), cur.Key()...)
		} else {
			d.phase, d.progress = dropBranches, nil
		}
		if d.phase == dropBranches && d.height == 1 {
			_, _, err = tx.catalog.Delete(key)
		} else {
			_, _, err = tx.catalog.Put(key, btree.Value{Data: d.encode()})
		}
	case dropBranches:
		err = forEachBranch(w, d.root, int(d.height), func(n *btree.Node) { w.free(n.ID, 1) })
		if err == nil {
			_, _, err = tx.catalog.Delete(key)
		}
	}
	if err != nil {
		return false, err
	}
	if err := db.commit(tx); err != nil {
		return false, err
	}
	return true, nil
}

// forEachBranch visits the branch nodes of a tree of the given height
// without reading its leaves (which a drop may have freed already).
func forEachBranch(p btree.Pager, root page.Ref, height int, fn func(*btree.Node)) error {
	if height < 2 {
		return nil
	}
	type item struct {
		ref   page.Ref
		level int
	}
	stack := []item{{root, 1}}
	for len(stack) > 0 {
		it := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		n, err := p.Node(it.ref)
		if err != nil {
			return err
		}
		if n.Leaf {
			return &page.CorruptError{ID: n.ID, Reason: fmt.Sprintf("leaf at level %d of a tree of height %d", it.level, height)}
		}
		fn(n)
		if it.level+1 < height {
			for i := 0; i < n.Len(); i++ {
				stack = append(stack, item{n.Kid(i), it.level + 1})
			}
		}
	}
	return nil
}
