package btree

import "github.com/digby-db/digby/page"

// A leaf that overflows first tries to give entries to a sibling with room
// (the right one, else the left), so that both end up about equally full,
// and splits only when neither has room. Splitting alone leaves random
// inserts with leaves about 65% full (each split makes two half-full
// leaves); sharing with a neighbour first keeps them fuller, so the tree
// has fewer pages: a smaller file, fewer leaves for a scan to read, more
// keys per cached page. It costs no extra page write: the sibling is
// written instead of the new page a split would have made, and the parent
// changes either way (a child reference and a separator, instead of a new
// entry). Sequential appends split as before (the left piece full).
//
// Separators stay valid: entries moved right are the largest of cur, so the
// right sibling's separator becomes the separator between cur's new last
// key and the sibling's new first (sepKey), above all that stay in cur
// (and when cur is the first child, whose separator, key 0, is only a
// lower bound and may lie above the moved entries, key 0 becomes cur's
// first key, as after a split); entries moved left are the smallest of
// cur, so cur's separator becomes the one between the left sibling's new
// last key and cur's new first, above all the left sibling holds.
// Both nodes are changed through the Pager's Writable and the recording
// node edits, so a savepoint rollback reverts them.

// shareLimit is the fill, in eighths of a page, that sharing may bring both
// leaves to: past it they would be nearly full again, and a split is
// better.
const shareLimit = 7

// share tries to make the overfull leaf cur (the writable replacement of the
// child at pf.i of pf.n, size bytes encoded) fit by moving entries to a
// sibling. On success it returns the writable parent, which references cur
// and the sibling and holds the new separator; nil when neither sibling has
// room.
func (t *Tree) share(pf frame, cur *Node, size int) (*Node, error) {
	limit := t.P.PageSize()
	parent := pf.n
	for _, j := range [2]int{pf.i + 1, pf.i - 1} {
		if j < 0 || j >= parent.Len() {
			continue
		}
		sib, err := t.P.Node(parent.Kid(j))
		if err != nil {
			return nil, err
		}
		if !sib.Leaf {
			return nil, nil // a malformed tree; let split handle cur
		}
		sibSize := sib.Size()
		if size+sibSize > 2*limit*shareLimit/8 {
			continue
		}
		// Move entries from cur's end toward sib until cur holds about
		// half of both's entries, sib staying within the page.
		target := (size+sibSize-page.HeaderSize+1)/2 + page.HeaderSize
		curSize, moved := size, 0
		for curSize > target && moved < cur.Len()-1 {
			i := cur.Len() - 1 - moved
			if j < pf.i {
				i = moved
			}
			es := cur.entrySize(i)
			if sibSize+es > limit {
				break
			}
			curSize -= es
			sibSize += es
			moved++
		}
		if moved == 0 || curSize > limit {
			continue
		}
		if sib, err = t.P.Writable(sib); err != nil {
			return nil, err
		}
		w, err := t.P.Writable(parent)
		if err != nil {
			return nil, err
		}
		if j > pf.i {
			for range moved {
				last := cur.Len() - 1
				sib.insertLeaf(0, cur.Key(last), cur.Val(last))
				cur.remove(last)
			}
			w.setKey(j, sepKey(cur, sib))
			if pf.i == 0 {
				// Key 0 may lie above the entries just moved (it is
				// only a lower bound): bring it down to cur's first.
				w.setKey(0, cur.Key(0))
			}
		} else {
			for range moved {
				sib.insertLeaf(sib.Len(), cur.Key(0), cur.Val(0))
				cur.remove(0)
			}
			w.setKey(pf.i, sepKey(sib, cur))
		}
		sib.compact(limit)
		cur.compact(limit)
		w.setKid(j, sib.Ref())
		w.setKid(pf.i, cur.Ref())
		return w, nil
	}
	return nil, nil
}
