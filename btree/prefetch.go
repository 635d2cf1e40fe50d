package btree

import (
	"unsafe"

	"github.com/digby-db/digby/page"
)

// A Peeker is a Pager that can tell which node in memory a reference
// points at without reading, verifying or counting it (nil when none is).
// Prefetch only hands the answer to the CPU as an address to load, so a
// stale or wrong one costs time, never a wrong result.
type Peeker interface {
	Peek(ref page.Ref) *Node
}

// Prefetch asks the CPU to start loading what lookups of keys will read in
// their leaves (the node, the entries where the search starts, the key and
// value record there), and returns without waiting for any of it.
//
// Why: a lookup's CPU cache misses come one after another, each address
// read from the line before, and the leaf's are most of them when the
// tree outgrows the cache (its branches are few and shared, so they stay
// cached). Touch walks keys side by side to wait for their misses
// together, but each key's walk is long enough that the CPU overlaps
// only a few; prefetch instructions do not wait at all, so a writer that
// prefetches the next submissions' keys while it applies the current ones
// finds their leaves in the cache.
//
// It needs a Pager that is a Peeker (otherwise it does nothing). It
// changes no node and no answer: the branches above the leaves are read
// as a lookup reads them (through the Pager, which may read, cache and
// count them: they are nearly always cached already), and a leaf the
// Peeker does not find in memory is skipped. It returns how many keys' leaves it found in memory (0
// for a tree that is one leaf: that leaf is in the cache already). s is
// scratch, as for Touch.
func (t *Tree) Prefetch(keys [][]byte, s *TouchScratch) int {
	pk, ok := t.P.(Peeker)
	if !ok || t.Root.IsZero() || len(keys) == 0 {
		return 0
	}
	root, err := t.P.Node(t.Root)
	if err != nil || root.Leaf {
		return 0
	}
	// How deep the leaves are (all are), from the first key whose path
	// can be read.
	depth := 0
	for _, k := range keys {
		if depth = t.leafDepth(root, k); depth > 0 {
			break
		}
	}
	if depth == 0 {
		return 0
	}
	walks := s.walksFor(len(keys))
	defer clear(walks) // drop the nodes
	// The branches down to each leaf's parent (cached, mostly), then the
	// leaf's node without reading it.
	for i, k := range keys {
		w := &walks[i]
		*w = walk{p: prefix(k), g: -1}
		n := root
		for d := 1; d < depth && n != nil; d++ {
			j := n.childIn(k, w.p, w.s)
			w.s = n.kidSpan(j, w.s)
			if n, err = t.child(n, j); err != nil || n.Leaf {
				n = nil
			}
		}
		if n == nil {
			continue
		}
		j := n.childIn(k, w.p, w.s)
		w.s = n.kidSpan(j, w.s)
		if c := pk.Peek(n.kids[j]); c != nil {
			w.n = c
			a := uintptr(unsafe.Pointer(c))
			prefetch(a)
			prefetch(a + 64)
		}
	}
	// The entries where the searches start: by the time these run, the
	// first nodes' lines have had the loop above to arrive.
	for i := range walks {
		w := &walks[i]
		n := w.n
		if n == nil || !n.Leaf || len(n.ents) == 0 {
			w.n = nil
			continue
		}
		if g, ok := n.probe(w.p, w.s); ok {
			w.g = g
		} else {
			w.g = len(n.ents) / 2 // where a binary search starts
		}
		e := uintptr(unsafe.Pointer(&n.ents[w.g]))
		prefetch(e)
		prefetch(e + 64)
		prefetch(e - 64)
	}
	// The key and value record of those entries.
	found := 0
	for i := range walks {
		w := &walks[i]
		if w.n == nil {
			continue
		}
		found++
		if k := w.n.Key(w.g); len(k) > 0 {
			prefetch(uintptr(unsafe.Pointer(&k[0])))
		}
		if r := w.n.valRecord(&w.n.ents[w.g]); len(r) > 0 {
			prefetch(uintptr(unsafe.Pointer(&r[0])))
		}
	}
	return found
}

// leafDepth is how many levels below branch root k's leaf lies, or 0 when
// its path cannot be read.
func (t *Tree) leafDepth(root *Node, k []byte) int {
	depth := 0
	for n := root; !n.Leaf; depth++ {
		if depth >= 64 {
			return 0
		}
		var err error
		if n, err = t.child(n, n.child(k)); err != nil {
			return 0
		}
	}
	return depth
}
