package store

import "github.com/digby-db/digby/btree"

// The flush set: the tree nodes committed since the last flush started
// and not freed since, which the next flush writes.
//
// It is a list in commit order, each member holding its place in it
// (btree.Node.Pos, its index plus one), not a map by page id. Under random
// overwrites nearly every node committed is freed again before the next
// flush (a leaf copied by a later batch), so a map took an insert at
// commit and a look-up and a delete at the free, each a likely cache miss
// in a map of tens of thousands of entries. Here a commit appends, and a
// free clears the node's place (the node was just touched; the list, a
// pointer an entry, stays in the CPU's second-level cache); a freed
// node's entry is nil, so the list keeps no node alive.
//
// Invariants (writer goroutine only):
//   - A node is in the set if and only if its Pos is not 0, and then
//     nodes[Pos-1] is the node.
//   - Every other entry of nodes is nil; compact drops them once they
//     outnumber the members by flushListSlack (so that a set that stays
//     small while the same nodes are copied again and again, with no
//     flush due, does not grow the list without bound).
//   - live is the number of members.
type flushList struct {
	nodes []*btree.Node
	live  int
}

// flushListSlack is how many freed entries the list may hold beyond the
// members before add drops them. A compaction reads the list and moves
// the members down; a flush, which empties the list, comes first under a
// busy writer in Everysec.
const flushListSlack = 1 << 16

// maxKeptFlushList bounds the array take keeps for the next flush's list.
const maxKeptFlushList = 1 << 18

// add puts n in the set; it reports false if n was there already.
func (l *flushList) add(n *btree.Node) bool {
	if n.Pos != 0 {
		return false
	}
	l.nodes = append(l.nodes, n)
	n.Pos = uint32(len(l.nodes))
	l.live++
	if len(l.nodes) >= 2*l.live+flushListSlack {
		l.compact()
	}
	return true
}

// in reports whether n is in the set.
func (l *flushList) in(n *btree.Node) bool { return n.Pos != 0 }

// drop takes n out of the set; it reports false if n was not in it.
func (l *flushList) drop(n *btree.Node) bool {
	if n.Pos == 0 {
		return false
	}
	l.nodes[n.Pos-1] = nil
	n.Pos = 0
	l.live--
	return true
}

// compact drops the list's nil entries, moving the members down.
func (l *flushList) compact() {
	kept := l.nodes[:0]
	for _, n := range l.nodes {
		if n != nil {
			kept = append(kept, n)
			n.Pos = uint32(len(kept))
		}
	}
	clear(l.nodes[len(kept):])
	l.nodes = kept
}

// dirtyBytes is the committed-unflushed tree bytes: the flush set's pages.
func (db *DB) dirtyBytes() int64 { return int64(db.flushSet.live) * int64(db.ps) }

// take empties the set and returns its members, each taken out of it.
func (l *flushList) take() []*btree.Node {
	out := make([]*btree.Node, 0, l.live)
	for _, n := range l.nodes {
		if n != nil {
			n.Pos = 0
			out = append(out, n)
		}
	}
	clear(l.nodes)
	l.nodes, l.live = l.nodes[:0], 0
	if cap(l.nodes) > maxKeptFlushList {
		l.nodes = nil
	}
	return out
}
