package store

import "github.com/digby-db/digby/btree"

// The flush set: the tree nodes committed since the last flush started
// and not freed since, which the next flush writes.
//
// It is a list in commit order and a bit in each member's Mark, not a map
// by page id. Under random overwrites nearly every node committed is
// freed again before the next flush (a leaf copied by a later batch), so
// a map took an insert at commit and a look-up and a delete at the free,
// each a likely cache miss in a map of tens of thousands of entries: 7%
// of the writer's time under SET -P 16. The bit is set and cleared on a
// node the writer has just touched.
//
// Invariants (writer goroutine only):
//   - A node has markFlush set if and only if it is in the set.
//   - Every node of the set is in nodes, once. nodes may also hold nodes
//     that left the set (freed since their commit): take skips them, and
//     add drops them once they outnumber the members (so that a set that
//     stays small while the same nodes are copied again and again, with
//     no flush due, does not grow the list without bound).
//   - live is the number of members.
type flushList struct {
	nodes []*btree.Node
	live  int
}

// The bits of btree.Node.Mark the store uses.
const (
	// markFlush says the node is in the flush set.
	markFlush = 1 << iota
	// markSaved says the node is in the savepoint's lists: made since it
	// started, or recording its changes (pager.go, tx.go).
	markSaved
)

// flushListSlack is how many entries that left the set the list may hold
// beyond the members before add drops them. A compaction reads every
// listed node, mostly out of the CPU's caches (independent loads, which
// it overlaps); with this slack it runs at most every 64Ki commits of a
// node, and a flush, which empties the list, comes first under a busy
// writer in Everysec (about a second's commits).
const flushListSlack = 1 << 16

// maxKeptFlushList bounds the array take keeps for the next flush's list.
const maxKeptFlushList = 1 << 18

// add puts n in the set; it reports false if n was there already.
func (l *flushList) add(n *btree.Node) bool {
	if n.Mark&markFlush != 0 {
		return false
	}
	n.Mark |= markFlush
	l.nodes = append(l.nodes, n)
	l.live++
	if len(l.nodes) >= 2*l.live+flushListSlack {
		l.compact()
	}
	return true
}

// drop takes n out of the set; it reports false if n was not in it.
func (l *flushList) drop(n *btree.Node) bool {
	if n.Mark&markFlush == 0 {
		return false
	}
	n.Mark &^= markFlush
	l.live--
	return true
}

// compact drops the entries of nodes that left the set.
func (l *flushList) compact() {
	kept := l.nodes[:0]
	for _, n := range l.nodes {
		if n.Mark&markFlush != 0 {
			kept = append(kept, n)
		}
	}
	clear(l.nodes[len(kept):])
	l.nodes = kept
}

// take empties the set and returns its members, each taken out of it.
func (l *flushList) take() []*btree.Node {
	out := make([]*btree.Node, 0, l.live)
	for _, n := range l.nodes {
		if n.Mark&markFlush != 0 {
			n.Mark &^= markFlush
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
