package btree

import (
	"sync/atomic"
	"weak"
)

// Remembered children. A descent asks the pager for the node of every
// level: for a reader that is a look-up in the set of unflushed nodes and
// one in the page cache (a lock and a map each), a fifth of a point read.
// A tree marked Published remembers, in each branch a descent or a cursor
// passed through, the child node the pager gave for the child taken, and
// the next pass through that branch and child follows the pointer.
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
//   - The store stays in charge of what stays in memory. Only a node the
//     store holds (in the page cache, or committed and not yet flushed)
//     is remembered: its holders tell it (Held, page.Held), and each
//     node lists the branch entries that remember it (backs, with weak
//     pointers to the branches, so that it does not keep them alive);
//     when its last holder lets go of it, it clears those entries. So a
//     remembered pointer never keeps alive a node the store has dropped,
//     and following one costs a load and two compares (a weak pointer,
//     as this was first, cost a fifth of a server GET to follow). hmu
//     orders the two: a node is remembered only while held, and once it
//     is let go no entry names it (a descent that loaded the pointer
//     before may still use the node: it is published and unchanged).
//   - Following a pointer marks the child used (TakeRef), which the
//     cache's eviction counts as a hit, so that nodes read only this way
//     are not evicted as cold. (The cache's hit counter does not see
//     these uses.)
//   - A remembered child whose page id or txn differs from the entry's
//     reference is ignored (it cannot happen by the rules above; checked
//     all the same, it costs two compares).
//
// Slots are allocated on a branch's first remembered child: one pointer
// per entry, not counted in the cache's byte bound (branches are about one
// page in a hundred).

// kidSlots holds a branch's remembered children, by entry.
type kidSlots []atomic.Pointer[Node]

// backRef is a branch entry that remembers a node.
type backRef struct {
	branch weak.Pointer[Node]
	i      int
}

// backsPrune is the length of a node's backs past which remembering it
// first drops the entries of branches that are gone (a hot node under a
// branch the writer keeps copying is remembered by each copy in turn).
// A branch copy the writer dropped is gone only once the collector has
// freed it, so a prune may keep everything: the next waits until the list
// has doubled since (shouldPrune), which keeps the cost of remembering
// constant on average (each prune scans at most twice what was appended
// since the last).
const backsPrune = 8

// shouldPrune reports whether a backs list of length n, of which live
// were kept by the last prune, is pruned before the next append.
func shouldPrune(n, live int) bool { return n >= max(backsPrune, 2*live) }

// kidNode returns the remembered child of branch entry i, or nil.
func (n *Node) kidNode(i int) *Node {
	s := n.slots.Load()
	if s == nil || i >= len(*s) {
		return nil
	}
	c := (*s)[i].Load()
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

// Held is page.Held, also called by the store's other holders of n: each
// holder calls Held(true) when it takes n and Held(false) when it lets go
// of it. When the last one lets go, every branch entry that remembers n
// is cleared.
func (n *Node) Held(in bool) {
	n.hmu.Lock()
	defer n.hmu.Unlock()
	if in {
		n.holds++
		return
	}
	if n.holds--; n.holds > 0 {
		return
	}
	n.holds = 0 // an unmatched Held(false) does not make a debt
	for _, b := range n.backs {
		b.forget(n)
	}
	n.backs, n.backsLive = nil, 0
}

// HeldNew is Held(true) for a node no other goroutine can reach yet (one
// a writer has just made and not published): it counts the holder without
// taking the lock, so that publishing the node later needs no call.
func (n *Node) HeldNew() { n.holds++ }

// forget clears b's entry if it still remembers c.
func (b backRef) forget(c *Node) {
	if br := b.branch.Value(); br != nil {
		if s := br.slots.Load(); s != nil && b.i < len(*s) {
			(*s)[b.i].CompareAndSwap(c, nil)
		}
	}
}

// rememberKid records c as the child of branch entry i, if the page
// cache holds c.
func (n *Node) rememberKid(i int, c *Node) {
	c.hmu.Lock()
	defer c.hmu.Unlock()
	if c.holds == 0 {
		return
	}
	s := n.slots.Load()
	if s == nil {
		ns := make(kidSlots, len(n.kids))
		if n.slots.CompareAndSwap(nil, &ns) {
			s = &ns
		} else {
			s = n.slots.Load()
		}
	}
	if i >= len(*s) {
		return
	}
	if shouldPrune(len(c.backs), c.backsLive) {
		live := c.backs[:0]
		for _, b := range c.backs {
			if b.branch.Value() != nil {
				live = append(live, b)
			}
		}
		clear(c.backs[len(live):])
		c.backs, c.backsLive = live, len(live)
	}
	(*s)[i].Store(c)
	c.backs = append(c.backs, backRef{branch: weak.Make(n), i: i})
}

// child returns the node of branch n's entry i: in a Published tree the
// remembered one, else from the pager (then remembered); in another tree
// from its KidPager if it has one, else from the pager.
func (t *Tree) child(n *Node, i int) (*Node, error) {
	if !t.Published {
		if t.Kids != nil {
			return t.Kids.Kid(n, i)
		}
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

// Remembered counts the children branch n remembers, and those of them
// that no holder holds (Held): unheld is always 0 where the rules above
// are kept. For tests and checks; it takes each child's lock in turn.
func (n *Node) Remembered() (kids, unheld int) {
	s := n.slots.Load()
	if s == nil {
		return 0, 0
	}
	for i := range *s {
		if c := (*s)[i].Load(); c != nil {
			kids++
			c.hmu.Lock()
			if c.holds == 0 {
				unheld++
			}
			c.hmu.Unlock()
		}
	}
	return kids, unheld
}
