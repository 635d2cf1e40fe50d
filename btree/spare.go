package btree

import "github.com/digby-db/digby/page"

// Spare keeps the arrays of nodes that nothing can reach any more (a
// leaf's entries, a branch's kids) for later clones to copy into, instead
// of allocating new ones. Under random overwrites nearly every write
// copies a whole leaf, and the leaf it replaces is dropped a batch later:
// without reuse that is a new array of a few KiB a write, which the CPU
// first fetches into its cache and the collector then has to find dead
// (BenchmarkBatchPutHashed allocated 3 KiB a put).
//
// Invariants:
//   - Only a node no goroutine will read again may be given (Give): the
//     store gives the nodes of pages it releases that were never written
//     (so never cached), which no reader's snapshot reaches.
//   - An array given belongs to that node alone: a leaf's entries (a leaf
//     clone copies them, a split copies the moved ones) and a branch's kids
//     (the same); a branch's entries may be shared with its clones
//     (entsShared) and are never taken.
//   - Give empties the node (nil arrays), so a broken promise shows as a
//     node without entries, or to the race detector, not as another node's
//     entries.
//
// A Spare belongs to one goroutine (the store's writer). The zero value is
// empty and ready.
type Spare struct {
	ents [][]ent
	kids [][]page.Ref
}

// maxSpare bounds each list: about a batch's worth of copies (a SET -P 16
// batch from 50 clients replaces up to 800 leaves).
const maxSpare = 1024

// Give takes n's arrays for reuse; n must be as the invariants say.
func (s *Spare) Give(n *Node) {
	if n.undo != nil {
		return // still recording changes: not a dropped node
	}
	if n.Leaf {
		if !n.entsShared && cap(n.ents) > 0 && len(s.ents) < maxSpare {
			s.ents = append(s.ents, n.ents[:0])
		}
		n.ents = nil
		return
	}
	if cap(n.kids) > 0 && len(s.kids) < maxSpare {
		s.kids = append(s.kids, n.kids[:0])
	}
	n.kids = nil
}

// Len is the number of arrays s holds (for tests).
func (s *Spare) Len() int { return len(s.ents) + len(s.kids) }

// CloneFrom is Clone, copying into an array of s where s has one with room
// for the entries and one more (an insert); a nil s allocates, as Clone.
func (n *Node) CloneFrom(s *Spare) *Node {
	c := &Node{ID: n.ID, Txn: n.Txn, Leaf: n.Leaf, base: n.base, own: n.own, ownCheck: n.ownCheck}
	// append to nil copies without first zeroing the new array (make
	// would clear it), and rounds the capacity up to the allocation's
	// size class, which leaves room for an insert.
	var ents []ent
	var kids []page.Ref
	if s != nil {
		if n.Leaf {
			ents = spareArray(&s.ents, len(n.ents))
		} else {
			kids = spareArray(&s.kids, len(n.kids))
		}
	}
	if n.Leaf {
		// A leaf's entries change.
		c.ents = append(ents, n.ents...)
	} else {
		// Shadowing a branch changes a kid; its entries change only on a
		// split or removal below (rare): share them until then.
		c.ents, c.entsShared = n.ents[:len(n.ents):len(n.ents)], true
		c.kids = append(kids, n.kids...)
	}
	return c
}

// spareArray pops the last array of *list (an empty slice) if it has room
// for n+1 elements; otherwise it returns nil. An array too small is
// dropped, for the collector.
func spareArray[T any](list *[][]T, n int) []T {
	if len(*list) == 0 {
		return nil
	}
	l := *list
	a := l[len(l)-1]
	l[len(l)-1] = nil
	*list = l[:len(l)-1]
	if cap(a) <= n {
		return nil
	}
	return a
}
