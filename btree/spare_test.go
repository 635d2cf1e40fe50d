package btree

import (
	"bytes"
	"fmt"
	"slices"
	"testing"
)

// TestSpare: a clone copies into an array given to the spare when it has
// room for the entries and an insert, and equals a clone that allocates;
// a given node is emptied; a branch's entries (shared with its clones) are
// never taken, its kids are; too small an array is dropped.
func TestSpare(t *testing.T) {
	mp := newMemPager(4096)
	tr := &Tree{P: mp}
	for i := 0; i < 2000; i++ {
		if _, _, err := tr.Put(fmt.Appendf(nil, "key:%06d", i), Value{Type: 1, Version: uint64(i + 1), Data: []byte("abc")}); err != nil {
			t.Fatal(err)
		}
	}
	var leaves, branches []*Node
	for _, n := range mp.dirty {
		if n.Leaf {
			leaves = append(leaves, n)
		} else {
			branches = append(branches, n)
		}
	}
	if len(leaves) < 3 || len(branches) == 0 {
		t.Fatalf("%d leaves, %d branches", len(leaves), len(branches))
	}
	same := func(a, b *Node) {
		t.Helper()
		if a.Len() != b.Len() || a.Leaf != b.Leaf {
			t.Fatalf("clones differ: %d and %d entries", a.Len(), b.Len())
		}
		for i := 0; i < a.Len(); i++ {
			if !bytes.Equal(a.Key(i), b.Key(i)) {
				t.Fatalf("entry %d: keys %q and %q", i, a.Key(i), b.Key(i))
			}
			if a.Leaf && a.Val(i).Version != b.Val(i).Version {
				t.Fatalf("entry %d: versions differ", i)
			}
			if !a.Leaf && a.Kid(i) != b.Kid(i) {
				t.Fatalf("entry %d: kids differ", i)
			}
		}
	}

	slices.SortFunc(leaves, func(a, b *Node) int { return b.Len() - a.Len() })
	var s Spare
	big := leaves[0].Clone() // the largest leaf: room for any other's entries
	arr := &big.ents[0]
	s.Give(big)
	if big.ents != nil || s.Len() != 1 {
		t.Fatalf("a given leaf keeps %d entries; spare holds %d", len(big.ents), s.Len())
	}
	l := leaves[len(leaves)-1]
	c := l.CloneFrom(&s)
	if &c.ents[0] != arr {
		t.Fatal("the clone did not copy into the spare array")
	}
	if s.Len() != 0 {
		t.Fatalf("spare holds %d after its array was taken", s.Len())
	}
	same(c, l.Clone())

	// Too small: dropped, and the clone allocates.
	small := &Node{Leaf: true, ents: make([]ent, 1)}
	s.Give(small)
	c = l.CloneFrom(&s)
	if s.Len() != 0 {
		t.Fatal("too small an array stayed")
	}
	same(c, l)

	// A branch: kids taken, entries not (a clone shares them).
	b := branches[0].Clone()
	kid := &b.kids[0]
	s.Give(b)
	if s.Len() != 1 || b.kids != nil || b.ents == nil {
		t.Fatalf("given branch: spare %d, kids %v, entries %d", s.Len(), b.kids, len(b.ents))
	}
	c = branches[0].CloneFrom(&s)
	if &c.kids[0] != kid {
		t.Fatal("the branch clone did not copy its kids into the spare array")
	}
	same(c, branches[0])

	// A node still recording changes is not a dropped node: left alone.
	u := leaves[2].Clone()
	u.StartUndo(nil)
	s.Give(u)
	if s.Len() != 0 || u.ents == nil {
		t.Fatal("a node with an undo log was taken")
	}
}
