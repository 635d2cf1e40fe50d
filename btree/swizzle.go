package btree

import (
	"sync/atomic"
	"weak"
)

// Remembered children. A descent asks the pager for the node of every
// level: for a reader that is a look-up in the set of unflushed nodes and
// one in the page cache (a lock and a map each), a fifth of a point read.
// A tree marked Published remembers, in each branch a descent or a cursor
// passed through, the child node the pager gave for the child taken, as a
// weak pointer, and the next pass through that branch and child follows
// it.
//
// Invariants that make this safe:
//   - Only trees whose every node is published use it (a reader's
//     snapshot): a published node never changes (the writer copies before
//     changing), so the child of entry i of a branch is one node forever,
//     and a remembered pointer stays right. The writer's trees never do
//     (their dirty nodes change, and an aborted node's page id and txn
//     can come back with other contents). Nodes lent from the file mapping
//     (ScanCursor) are never remembered: their bytes are only valid during
//     their transaction; their trees are not marked.
//   - The pointer is weak: the page cache stays in charge of what stays in
//     memory. A child the cache dropped is used until the garbage collector
//     frees it (it is still verified and unchanged), then asked for again.
//     Following a pointer marks the child used (TakeRef), which the cache's
//     eviction counts as a hit, so that nodes read only this way are not
//     evicted as cold. (The cache's hit counter does not see these uses.)
//   - A remembered child whose page id or txn differs from the entry's
//     reference is ignored (it cannot happen by the rules above; checked
//     all the same, it costs two compares).
//
// Slots are allocated on a branch's first remembered child: one pointer
// per entry, not counted in the cache's byte bound (branches are about one
// page in a hundred).

// kidSlots holds a branch's remembered children, by entry.
type kidSlots []atomic.Pointer[weak.Pointer[Node]]

// kidNode returns the remembered child of branch entry i, or nil.
func (n *Node) kidNode(i int) *Node {
	s := n.slots.Load()
	if s == nil || i >= len(*s) {
		return nil
	}
	w := (*s)[i].Load()
	if w == nil {
		return nil
	}
	c := w.Value()
	if c == nil || c.ID != n.kids[i].ID || c.Txn != n.kids[i].Txn {
		return nil
	}
	if !c.used.Load() {
		c.used.Store(true) // written only when it changes: readers share c
	}
	return c
}

// TakeRef reports whether a descent reached n through a remembered pointer
// since the last call, and clears that (page.Referenced: the page cache
// counts it as a use of n's entry when it picks what to evict).
func (n *Node) TakeRef() bool {
	if n.used.Load() {
		n.used.Store(false)
		return true
	}
	return false
}

// rememberKid records c as the child of branch entry i.
func (n *Node) rememberKid(i int, c *Node) {
	s := n.slots.Load()
	if s == nil {
		ns := make(kidSlots, len(n.kids))
		if n.slots.CompareAndSwap(nil, &ns) {
			s = &ns
		} else {
			s = n.slots.Load()
		}
	}
	if i < len(*s) {
		w := weak.Make(c)
		(*s)[i].Store(&w)
	}
}

// child returns the node of branch n's entry i: in a Published tree the
// remembered one, else from the pager (then remembered).
func (t *Tree) child(n *Node, i int) (*Node, error) {
	if !t.Published {
		return t.P.Node(n.kids[i])
	}
	if c := n.kidNode(i); c != nil {
		return c, nil
	}
	c, err := t.P.Node(n.kids[i])
	if err == nil {
		n.rememberKid(i, c)
	}
	return c, err
}
