package btree

import "fmt"

// Cursor iterates a tree in key order. It sees the tree as it was when
// positioned; changing the tree while a cursor is open invalidates it
// (re-Seek after changes). Methods return false when the cursor leaves the
// tree or on error; Err reports the error.
type Cursor struct {
	t     *Tree
	stack []frame
	err   error
}

// Cursor returns a cursor over t; position it with First, Last or Seek.
func (t *Tree) Cursor() *Cursor { return &Cursor{t: t} }

// Err is the first error met while moving.
func (c *Cursor) Err() error { return c.err }

func (c *Cursor) fail(err error) bool {
	c.err = err
	c.stack = c.stack[:0]
	return false
}

// Valid reports whether the cursor is on an entry.
func (c *Cursor) Valid() bool {
	if len(c.stack) == 0 {
		return false
	}
	f := c.stack[len(c.stack)-1]
	return f.n.Leaf && f.i >= 0 && f.i < f.n.Len()
}

// Key is the current key; valid until the tree changes.
func (c *Cursor) Key() []byte {
	f := c.stack[len(c.stack)-1]
	return f.n.Key(f.i)
}

// Value is the current value, its overflow data loaded.
func (c *Cursor) Value() (Value, error) {
	f := c.stack[len(c.stack)-1]
	v := f.n.Val(f.i)
	return v, c.t.load(&v)
}

// KeyData is the current key and, when the value is stored in the leaf as
// given, its bytes (inline true; valid until the tree changes). A value in
// an overflow run or compressed gives inline false: use Value.
func (c *Cursor) KeyData() (k, data []byte, inline bool) {
	f := c.stack[len(c.stack)-1]
	data, inline = f.n.inlineData(f.i)
	return f.n.Key(f.i), data, inline
}

// RawValue is the current value without loading overflow data.
func (c *Cursor) RawValue() Value {
	f := c.stack[len(c.stack)-1]
	return f.n.Val(f.i)
}

// descendEdge pushes nodes from ref down to a leaf along the first (or last) child.
func (c *Cursor) descendEdge(n *Node, last bool) bool {
	for {
		i := 0
		if last {
			i = n.Len() - 1
		}
		c.stack = append(c.stack, frame{n, i})
		if n.Leaf {
			return true
		}
		if len(c.stack) > 64 {
			return c.fail(fmt.Errorf("page %d: tree too deep", n.ID))
		}
		var err error
		if n, err = c.t.child(n, i); err != nil {
			return c.fail(err)
		}
	}
}

func (c *Cursor) root() (*Node, bool) {
	c.stack = c.stack[:0]
	c.err = nil
	if c.t.Root.IsZero() {
		return nil, false
	}
	n, err := c.t.P.Node(c.t.Root)
	if err != nil {
		return nil, c.fail(err)
	}
	return n, true
}

// First moves to the smallest key.
func (c *Cursor) First() bool {
	n, ok := c.root()
	return ok && c.descendEdge(n, false)
}

// Last moves to the largest key.
func (c *Cursor) Last() bool {
	n, ok := c.root()
	return ok && c.descendEdge(n, true)
}

// Seek moves to the first key >= key.
func (c *Cursor) Seek(key []byte) bool {
	n, ok := c.root()
	if !ok {
		return false
	}
	for {
		if n.Leaf {
			i, _ := n.search(key)
			c.stack = append(c.stack, frame{n, i})
			if i == n.Len() {
				return c.Next()
			}
			return true
		}
		i := n.child(key)
		c.stack = append(c.stack, frame{n, i})
		if len(c.stack) > 64 {
			return c.fail(fmt.Errorf("page %d: tree too deep", n.ID))
		}
		var err error
		if n, err = c.t.child(n, i); err != nil {
			return c.fail(err)
		}
	}
}

// Next moves to the next key.
func (c *Cursor) Next() bool { return c.step(1) }

// Prev moves to the previous key.
func (c *Cursor) Prev() bool { return c.step(-1) }

func (c *Cursor) step(d int) bool {
	if len(c.stack) == 0 {
		return false
	}
	top := &c.stack[len(c.stack)-1]
	top.i += d
	if top.i >= 0 && top.i < top.n.Len() {
		return true
	}
	// Climb to a level with a sibling in direction d.
	for {
		c.stack = c.stack[:len(c.stack)-1]
		if len(c.stack) == 0 {
			return false
		}
		f := &c.stack[len(c.stack)-1]
		f.i += d
		if f.i >= 0 && f.i < f.n.Len() {
			n, err := c.t.child(f.n, f.i)
			if err != nil {
				return c.fail(err)
			}
			return c.descendEdge(n, d < 0)
		}
	}
}

// Depth is the number of nodes on the path from the root to the cursor's
// leaf (the tree's height; 0 when the cursor is on nothing).
func (c *Cursor) Depth() int { return len(c.stack) }

// Leaf returns the leaf node the cursor is on (nil if none).
func (c *Cursor) Leaf() *Node {
	if len(c.stack) == 0 {
		return nil
	}
	return c.stack[len(c.stack)-1].n
}

// NextLeaf moves to the first entry of the next leaf.
func (c *Cursor) NextLeaf() bool {
	if len(c.stack) == 0 {
		return false
	}
	top := &c.stack[len(c.stack)-1]
	top.i = top.n.Len() - 1
	return c.Next()
}
