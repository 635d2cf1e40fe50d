package btree

import (
	"errors"
	"fmt"

	"github.com/digby-db/digby/page"
)

// ErrKeyTooLarge is returned for keys longer than MaxKeySize.
var ErrKeyTooLarge = errors.New("key too large")

// ErrCompressedTooLarge is returned by Put, PutValue and Replace for a
// compressed value longer than InlineMax or in overflow: a compressed value
// is only ever stored inline.
var ErrCompressedTooLarge = errors.New("compressed value does not fit inline")

// Pager is what a tree needs from the store: reading nodes, shadowing them,
// and overflow runs. Read-only pagers return an error from the write methods.
type Pager interface {
	PageSize() int
	// Node returns the node ref points at (verified), from this txn's dirty
	// set, the committed-unflushed set, the cache or the file.
	Node(ref page.Ref) (*Node, error)
	// Writable returns a node of this txn that may be changed: n itself when
	// n was created in this txn (or when the pager knows no one else can
	// reach it: it then keeps its id and txn, and references to it stay
	// valid), else a copy under a new page id, the old page freed at this
	// txn.
	Writable(n *Node) (*Node, error)
	// NewNode returns an empty writable node with a fresh page id.
	NewNode(leaf bool) (*Node, error)
	// FreeNode releases n's page: it is no longer part of the tree.
	FreeNode(n *Node)
	// WriteOverflow stores data in a new overflow run.
	WriteOverflow(data []byte) (page.Ref, error)
	// ReadOverflow reads the value of an overflow run of the given length.
	ReadOverflow(ref page.Ref, length uint64) ([]byte, error)
	// FreeOverflow releases the overflow value ref points at (all its
	// runs); the tree calls it exactly when the entry referring to it is
	// replaced or deleted.
	FreeOverflow(ref page.Ref) error
}

// A KidPager reads a branch's children itself: a tree that is not
// Published and has one (Tree.Kids) asks it for child i of branch n
// instead of asking its Pager's Node for n.Kid(i), so that it can read the
// children after i in the same call (a scan's read-ahead). Kid must return
// what Node(n.Kid(i)) would.
type KidPager interface {
	Kid(n *Node, i int) (*Node, error)
}

// InlineMax is the largest value stored inside a leaf for a page size.
func InlineMax(pageSize int) int { return pageSize / 4 }

// Tree is a B+ tree rooted at Root. A zero Root is the empty tree.
// Published marks a tree whose every node is published (a read snapshot):
// its descents remember children in branches (swizzle.go). A tree that is
// written, or whose pager lends nodes valid only for a while, must not set
// it. MarkFilled has splits at the tree's right edge mark the leaf they
// leave full (Node.Filled): for a tree whose sequential loads are not
// revisited soon (not for an index whose keys grow in time but whose
// entries are read and replaced from both ends, like an expiry index).
type Tree struct {
	P          Pager
	Kids       KidPager // nil: children come from P.Node
	Root       page.Ref
	Published  bool
	MarkFilled bool
	// Finger, when set, keeps GetRaw's path for a put of the same key
	// right after it (finger.go); nil for read-only trees.
	Finger *Finger
}

type frame struct {
	n *Node
	i int
}

// descend walks from the root to the leaf for key, returning the path
// (branches with the chosen child index, then the leaf with the search index).
func (t *Tree) descend(key []byte, path []frame) ([]frame, bool, error) {
	n, err := t.P.Node(t.Root)
	if err != nil {
		return nil, false, err
	}
	p := prefix(key)
	var s span // the root's is read from it
	for depth := 0; ; depth++ {
		if depth > 64 {
			return nil, false, fmt.Errorf("page %d: tree deeper than 64 levels: %w", n.ID, page.ErrCorrupt)
		}
		if n.Leaf {
			i, found := n.searchIn(key, p, s)
			return append(path, frame{n, i}), found, nil
		}
		i := n.childIn(key, p, s)
		s = n.kidSpan(i, s)
		path = append(path, frame{n, i})
		if n, err = t.child(n, i); err != nil {
			return nil, false, err
		}
	}
}

// lookup descends to key (from the kept path, as descendKept); found is
// false (with a nil path) when the tree does not hold it.
func (t *Tree) lookup(key []byte, stack []frame) (path []frame, found bool, err error) {
	if t.Root.IsZero() {
		return nil, false, nil
	}
	path, found, err = t.descendKept(key, stack)
	if err != nil || !found {
		return nil, false, err
	}
	return path, true, nil
}

// descendKept is descend, starting from the path t.Finger kept for key
// when that is still valid (a change of the key GetRaw just looked up).
func (t *Tree) descendKept(key []byte, stack []frame) ([]frame, bool, error) {
	if t.Finger != nil {
		if path, found, ok := t.Finger.take(t, key, stack); ok {
			return path, found, nil
		}
	}
	return t.descend(key, stack)
}

// Get returns the value under key with its data loaded.
func (t *Tree) Get(key []byte) (Value, bool, error) {
	v, ok, err := t.GetRaw(key)
	if err != nil || !ok {
		return Value{}, false, err
	}
	if err := t.load(&v); err != nil {
		return Value{}, false, err
	}
	return v, true, nil
}

func (t *Tree) load(v *Value) error {
	if v.Ovf.IsZero() {
		return nil
	}
	data, err := t.P.ReadOverflow(v.Ovf, v.Len)
	if err != nil {
		return err
	}
	v.Data = data
	return nil
}

// Put inserts or replaces key. v.Data is the value; it goes to an overflow
// run when longer than InlineMax (a compressed one is refused: putValue). The replaced value's overflow is freed.
// It returns the previous value (data not loaded) if there was one.
func (t *Tree) Put(key []byte, v Value) (old Value, replaced bool, err error) {
	if len(key) > MaxKeySize { // before an overflow run is written for it
		return Value{}, false, fmt.Errorf("%d bytes: %w", len(key), ErrKeyTooLarge)
	}
	v.Len = uint64(len(v.Data))
	v.Ovf = page.Ref{}
	if len(v.Data) > InlineMax(t.P.PageSize()) && !v.Compressed { // refused below
		ref, err := t.P.WriteOverflow(v.Data)
		if err != nil {
			return Value{}, false, err
		}
		v.Ovf, v.Data = ref, nil
	}
	return t.PutValue(key, v)
}

// PutValue is Put with v already in its stored form (inline Data, or an
// overflow value this tree now owns). The replaced value's overflow is freed.
func (t *Tree) PutValue(key []byte, v Value) (old Value, replaced bool, err error) {
	return t.putValue(key, v, true)
}

// Replace is PutValue that does not free the replaced value's overflow: the
// caller has taken it over (e.g. kept some of its chunks in v's value) and
// frees what it no longer uses.
func (t *Tree) Replace(key []byte, v Value) (old Value, replaced bool, err error) {
	return t.putValue(key, v, false)
}

func (t *Tree) putValue(key []byte, v Value, freeOld bool) (old Value, replaced bool, err error) {
	if len(key) > MaxKeySize { // PutValue and Replace too: a page must decode
		return Value{}, false, fmt.Errorf("%d bytes: %w", len(key), ErrKeyTooLarge)
	}
	// A compressed value is stored inline only: its flag lives in the
	// leaf entry, which an overflow reference would lose.
	if v.Compressed && (!v.Ovf.IsZero() || len(v.Data) > InlineMax(t.P.PageSize())) {
		return Value{}, false, fmt.Errorf("compressed value of %d bytes: %w", len(v.Data), ErrCompressedTooLarge)
	}
	if t.Root.IsZero() {
		n, err := t.P.NewNode(true)
		if err != nil {
			return Value{}, false, err
		}
		n.insertLeaf(0, key, v)
		t.Root = n.Ref()
		return Value{}, false, nil
	}
	var stack [8]frame
	path, found, err := t.descendKept(key, stack[:0])
	if err != nil {
		return Value{}, false, err
	}
	leafF := path[len(path)-1]
	leaf, err := t.P.Writable(leafF.n)
	if err != nil {
		return Value{}, false, err
	}
	i := leafF.i
	resized := true
	if found {
		old = leaf.Val(i)
		if freeOld && !old.Ovf.IsZero() {
			if err := t.P.FreeOverflow(old.Ovf); err != nil {
				return Value{}, false, err
			}
		}
		was := leaf.entrySize(i)
		leaf.setVal(i, v)
		// A value replaced by one of the same encoded size (an overwrite
		// of a fixed-size value, most INCRs) leaves the leaf the size it
		// had, within its page: propagate need not measure it.
		resized = leaf.entrySize(i) != was
	} else {
		leaf.insertLeaf(i, key, v)
	}
	leaf.compact(t.P.PageSize())
	return old, found, t.propagate(path, leaf, i == leaf.Len()-1, resized)
}

func insertAt[T any](s []T, i int, v T) []T {
	var zero T
	s = append(s, zero)
	copy(s[i+1:], s[i:])
	s[i] = v
	return s
}

func removeAt[T any](s []T, i int) []T {
	copy(s[i:], s[i+1:])
	var zero T
	s[len(s)-1] = zero
	return s[:len(s)-1]
}

// propagate splits cur (the writable replacement of path's last node) as
// needed, or shares an overfull leaf's entries with a sibling
// (redistribute.go), and updates the ancestors bottom-up, shadowing each.
// resized is false only when cur's encoded size is the one it had when it
// was last checked here or encoded (so it fits its page).
func (t *Tree) propagate(path []frame, cur *Node, appending, resized bool) error {
	// resized: cur's entries changed beyond a child's reference (the
	// first node, unless the caller knows its size did not change; a
	// branch above only when a child split or shared). A branch whose
	// only change is a child's reference (fixed size) has the size it had
	// when it was last checked here or encoded, so it neither splits nor
	// shares: Size, a walk over every entry, is only taken where it can
	// have changed.
	var one [1]*Node
	for level := len(path) - 1; ; level-- {
		pieces := append(one[:0], cur)
		if resized {
			size := cur.Size()
			if level > 0 && cur.Leaf && !appending && size > t.P.PageSize() {
				w, err := t.share(path[level-1], cur, size)
				if err != nil {
					return err
				}
				if w != nil {
					w.compact(t.P.PageSize())
					cur = w
					continue
				}
			}
			var err error
			if pieces, err = t.split(cur, size, appending, pieces); err != nil {
				return err
			}
			if len(pieces) > 1 && cur.Leaf && appending && t.MarkFilled && atRightEdge(path) {
				cur.filled = true // left full by a split at the tree's end
			}
		}
		orig := path[level].n
		if level == 0 {
			if len(pieces) == 1 {
				t.Root = cur.Ref()
				return nil
			}
			root, err := t.P.NewNode(false)
			if err != nil {
				return err
			}
			for j, p := range pieces {
				root.insertKid(j, pieceKey(pieces, j), p.Ref())
			}
			t.Root = root.Ref()
			return nil
		}
		if len(pieces) == 1 && cur.ID == orig.ID {
			// Already dirty in this txn: its ancestors are too, and the
			// reference to it did not change.
			return nil
		}
		pf := path[level-1]
		parent, err := t.P.Writable(pf.n)
		if err != nil {
			return err
		}
		parent.setKid(pf.i, pieces[0].Ref())
		if pf.i == 0 && len(pieces) > 1 {
			// Key 0 is only a lower bound and may be stale-high; the new
			// separators must sort after it.
			parent.setKey(0, pieces[0].Key(0))
		}
		for j := 1; j < len(pieces); j++ {
			parent.insertKid(pf.i+j, pieceKey(pieces, j), pieces[j].Ref())
		}
		parent.compact(t.P.PageSize())
		appending = appending && pf.i == pf.n.Len()-1
		resized = len(pieces) > 1
		cur = parent
	}
}

// atRightEdge reports whether path's branches each lead to their last
// child: its leaf is the tree's last.
func atRightEdge(path []frame) bool {
	for _, f := range path[:len(path)-1] {
		if f.i != f.n.Len()-1 {
			return false
		}
	}
	return true
}

// pieceKey is the key under which the parent holds split piece j: the
// first key of piece 0 (a lower bound), else the separator of piece j
// from the piece before it.
func pieceKey(pieces []*Node, j int) []byte {
	if j == 0 {
		return pieces[0].Key(0)
	}
	return sepKey(pieces[j-1], pieces[j])
}

// sepKey is the separator a parent holds for right, left being the node
// before it: for leaves the smallest of the shortest keys s with left's
// last key l < s <= right's first r (suffix truncation): what l shares
// with r and l's next byte plus one, or, when l is a prefix of r, r cut
// one byte past l. For branches right's key 0, itself a separator. Every
// key either leaf holds routes to it as it would by r; a key inserted
// later between l and r goes right (to its start) unless below s, and
// either leaf is a valid place for it. Sending the gap right keeps random
// inserts from landing at the left leaf's end, where a split leaves it
// full (tree.split) instead of sharing. Shorter separators fit more
// children in a branch: with random 16-byte keys they are 2-3 bytes.
func sepKey(left, right *Node) []byte {
	r := right.Key(0)
	if !left.Leaf || !right.Leaf {
		return r
	}
	l := left.Key(left.Len() - 1)
	n := 0
	for n < len(l) && n < len(r) && l[n] == r[n] {
		n++
	}
	if n == len(l) {
		return r[:min(n+1, len(r))]
	}
	s := make([]byte, n+1)
	copy(s, l[:n])
	s[n] = l[n] + 1
	return s
}

// split cuts n (of size bytes encoded) into pieces that each fit a page,
// choosing points by bytes: halves in general, the left piece full when
// appending at the end (so sequential loads fill pages). n stays the first
// piece. The pieces are appended to pieces[:0] (the caller's buffer).
func (t *Tree) split(n *Node, size int, appending bool, pieces []*Node) ([]*Node, error) {
	limit := t.P.PageSize()
	pieces = append(pieces[:0], n)
	if size <= limit {
		return pieces, nil
	}
	cur := n
	for size > limit {
		// Find the cut: the first index where the left part reaches the
		// target, keeping both sides non-empty and the left within limit.
		target := size / 2
		if appending {
			target = limit - page.HeaderSize/2
		}
		acc := page.HeaderSize
		cut := 0
		for cut < cur.Len()-1 {
			es := cur.entrySize(cut)
			if acc+es > limit || (acc+es > target && cut > 0) {
				break
			}
			acc += es
			cut++
		}
		if cut == 0 {
			cut = 1
		}
		right, err := t.P.NewNode(cur.Leaf)
		if err != nil {
			return nil, err
		}
		// An appended-to right piece fills up: room for a page spares
		// it regrowing own; a middle split's gets an eighth.
		extra := limit / 8
		if appending {
			extra = limit
		}
		cur.splitOff(cut, right, extra)
		pieces = append(pieces, right)
		cur = right
		size = cur.Size()
	}
	return pieces, nil
}

// Delete removes key, freeing its overflow. Empty nodes are unlinked from
// their parents; nothing is merged. It returns the removed value.
func (t *Tree) Delete(key []byte) (Value, bool, error) {
	var stack [8]frame
	path, found, err := t.lookup(key, stack[:0])
	if err != nil || !found {
		return Value{}, false, err
	}
	lf := path[len(path)-1]
	old := lf.n.Val(lf.i)
	if !old.Ovf.IsZero() {
		if err := t.P.FreeOverflow(old.Ovf); err != nil {
			return Value{}, false, err
		}
	}
	level := len(path) - 1
	// Unlink nodes that become empty, bottom-up.
	for level >= 0 && path[level].n.Len() == 1 {
		t.P.FreeNode(path[level].n)
		level--
	}
	if level < 0 {
		t.Root = page.Ref{}
		return old, true, nil
	}
	f := path[level]
	cur, err := t.P.Writable(f.n)
	if err != nil {
		return Value{}, false, err
	}
	cur.remove(f.i)
	if err := t.propagate(path[:level+1], cur, false, true); err != nil {
		return Value{}, false, err
	}
	return old, true, t.collapseRoot()
}

// collapseRoot replaces a branch root with a single child by that child.
func (t *Tree) collapseRoot() error {
	for !t.Root.IsZero() {
		n, err := t.P.Node(t.Root)
		if err != nil {
			return err
		}
		if n.Leaf || n.Len() != 1 {
			return nil
		}
		t.Root = n.kids[0]
		t.P.FreeNode(n)
	}
	return nil
}

// Update changes the value stored under key in place (same key), e.g. its
// expiry, without touching its data. It reports whether the key exists.
func (t *Tree) Update(key []byte, fn func(v *Value)) (bool, error) {
	var stack [8]frame
	path, found, err := t.lookup(key, stack[:0])
	if err != nil || !found {
		return false, err
	}
	lf := path[len(path)-1]
	leaf, err := t.P.Writable(lf.n)
	if err != nil {
		return false, err
	}
	v := leaf.Val(lf.i)
	fn(&v)
	leaf.setMeta(lf.i, v)
	leaf.compact(t.P.PageSize()) // setMeta appends the record again
	return true, t.propagate(path, leaf, false, true)
}

// GetRaw returns the value under key without loading overflow data.
func (t *Tree) GetRaw(key []byte) (Value, bool, error) {
	if t.Root.IsZero() {
		return Value{}, false, nil
	}
	var stack [8]frame
	path, found, err := t.descend(key, stack[:0])
	if err != nil {
		return Value{}, false, err
	}
	if t.Finger != nil {
		t.Finger.keep(t, key, path, found)
	}
	if !found {
		return Value{}, false, nil
	}
	f := path[len(path)-1]
	return f.n.Val(f.i), true, nil
}

// Load reads v's overflow data into v.Data when it has any.
func (t *Tree) Load(v *Value) error { return t.load(v) }

// Relocate shadows the path from the root to the leaf for key when the
// node with page id lies on it, so that every node of the path moves to a
// newly allocated (lower) page. It reports whether id was on the path.
func (t *Tree) Relocate(key []byte, id uint64) (bool, error) {
	if t.Root.IsZero() {
		return false, nil
	}
	var stack [8]frame
	path, _, err := t.descend(key, stack[:0])
	if err != nil {
		return false, err
	}
	on := false
	for _, f := range path {
		if f.n.ID == id {
			on = true
		}
	}
	if !on {
		return false, nil
	}
	leaf, err := t.P.Writable(path[len(path)-1].n)
	if err != nil {
		return false, err
	}
	return true, t.propagate(path, leaf, false, true)
}
