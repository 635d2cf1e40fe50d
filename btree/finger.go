package btree

import (
	"bytes"

	"github.com/digby-db/digby/page"
)

// A Finger keeps the path of a tree's last look-up (GetRaw) so that a put
// of the same key right after it starts from that path instead of
// descending again: a read-modify-write (INCR, APPEND of a small value)
// costs one descent, not two.
//
// It is only ever used while nothing changed: the tree's pager must be a
// ChangeCounter, and the path is taken only when the count and the root
// are those of the look-up, and the key is the same. A put or delete uses
// it at most once (every other change moves the count anyway). The zero
// Finger holds nothing. It belongs to one writer; a tree shares it by
// pointer (Tree.Finger).
type Finger struct {
	root    page.Ref
	changes uint64
	key     []byte
	path    []frame
	found   bool
	set     bool
}

// A ChangeCounter counts changes to the nodes it lends: every call of
// Writable, NewNode and FreeNode, and every undo of changes, moves the
// count. Node contents a Finger remembers are valid while it stays.
type ChangeCounter interface {
	Changes() uint64
}

// keep remembers path (found or not) as t's last look-up of key.
func (f *Finger) keep(t *Tree, key []byte, path []frame, found bool) {
	cc, ok := t.P.(ChangeCounter)
	if !ok {
		return
	}
	f.root, f.changes, f.found, f.set = t.Root, cc.Changes(), found, true
	f.key = append(f.key[:0], key...)
	f.path = append(f.path[:0], path...)
}

// take returns the kept path for a change of key in t if it is still
// valid, appended to stack, and forgets it either way.
func (f *Finger) take(t *Tree, key []byte, stack []frame) ([]frame, bool, bool) {
	if !f.set {
		return nil, false, false
	}
	f.set = false
	cc, ok := t.P.(ChangeCounter)
	if !ok || f.root != t.Root || cc.Changes() != f.changes || !bytes.Equal(f.key, key) {
		return nil, false, false
	}
	path := append(stack, f.path...)
	clear(f.path) // the nodes are not kept alive by the finger
	return path, f.found, true
}
