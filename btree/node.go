package btree

import (
	"bytes"
	"encoding/binary"
	"sort"

	"github.com/digby-db/digby/page"
)

// Entry flags.
const (
	FlagOverflow = 1 << 0 // the value lives in an overflow run
	FlagExpire   = 1 << 1 // ExpireAt is set
)

// MaxKeySize is the longest key a node stores: a 256-byte tree key (a long
// key's 224-byte prefix and its SHA-256) plus an 8-byte expiry-index prefix.
const MaxKeySize = 264

// Value is what a leaf stores under a key.
type Value struct {
	Type     uint8
	Version  uint64
	ExpireAt int64    // unix ms; 0 = none
	Data     []byte   // inline bytes (nil when in overflow, until loaded)
	Ovf      page.Ref // overflow run when the value is large
	Len      uint64   // length of the value
}

// Node is a decoded branch or leaf page. Nodes read from committed pages are
// shared and immutable; only a node the Pager returned as writable in the
// current txn may change.
//
// The representation holds no pointers per entry, so cloning a node is two
// flat copies and the garbage collector never scans entries: key and value
// bytes live in arena (for a decoded page, the page buffer itself), entries
// hold offsets into it. Bytes in an arena are never changed once written; a
// node appends new bytes past its arena's length, and every node sharing an
// arena holds it capped at its length, so an append reallocates rather than
// writing into a sharer's view.
type Node struct {
	ID   uint64
	Txn  uint64
	Leaf bool

	arena []byte
	ents  []ent
	kids  []page.Ref // branch only, parallel to ents
}

// ent is one entry: the key, and for a leaf the value's metadata and bytes.
type ent struct {
	koff, klen uint32
	voff, vlen uint32 // inline value bytes in the arena
	version    uint64
	expire     int64
	ovf        page.Ref
	length     uint64 // value length (inline or overflow)
	typ        uint8
}

// Len is the number of entries.
func (n *Node) Len() int { return len(n.ents) }

// Key returns the key of entry i; the bytes must not be modified.
func (n *Node) Key(i int) []byte {
	e := &n.ents[i]
	return n.arena[e.koff : e.koff+e.klen : e.koff+e.klen]
}

// Val returns the value of leaf entry i (Data nil when in overflow).
func (n *Node) Val(i int) Value {
	e := &n.ents[i]
	v := Value{Type: e.typ, Version: e.version, ExpireAt: e.expire, Ovf: e.ovf, Len: e.length}
	if e.ovf.IsZero() {
		v.Data = n.arena[e.voff : e.voff+e.vlen : e.voff+e.vlen]
	}
	return v
}

// Kid returns the child reference of branch entry i.
func (n *Node) Kid(i int) page.Ref { return n.kids[i] }

// put appends b to the arena and returns its offset.
func (n *Node) put(b []byte) uint32 {
	off := uint32(len(n.arena))
	n.arena = append(n.arena, b...)
	return off
}

// compactLimit is how much dead arena a node tolerates, in page sizes.
const compactLimit = 2

// compact rewrites the arena with live bytes only, when it has grown past
// compactLimit times its live size (a hot entry rewritten many times in one txn).
func (n *Node) compact(pageSize int) {
	if len(n.arena) <= compactLimit*pageSize {
		return
	}
	live := make([]byte, 0, n.Size())
	for i := range n.ents {
		e := &n.ents[i]
		k := n.arena[e.koff : e.koff+e.klen]
		e.koff = uint32(len(live))
		live = append(live, k...)
		if n.Leaf && e.ovf.IsZero() {
			v := n.arena[e.voff : e.voff+e.vlen]
			e.voff = uint32(len(live))
			live = append(live, v...)
		}
	}
	n.arena = live
}

func (n *Node) makeEnt(k []byte, v *Value) ent {
	e := ent{koff: n.put(k), klen: uint32(len(k))}
	if v != nil {
		n.setEntVal(&e, v)
	}
	return e
}

func (n *Node) setEntVal(e *ent, v *Value) {
	e.typ, e.version, e.expire, e.ovf, e.length = v.Type, v.Version, v.ExpireAt, v.Ovf, v.Len
	e.voff, e.vlen = 0, 0
	if v.Ovf.IsZero() {
		e.voff, e.vlen = n.put(v.Data), uint32(len(v.Data))
		e.length = uint64(len(v.Data))
	}
}

// insertLeaf inserts key k with value v at i.
func (n *Node) insertLeaf(i int, k []byte, v Value) {
	n.ents = insertAt(n.ents, i, n.makeEnt(k, &v))
}

// setVal replaces the value of entry i.
func (n *Node) setVal(i int, v Value) { n.setEntVal(&n.ents[i], &v) }

// setMeta replaces the metadata of entry i, keeping its bytes.
func (n *Node) setMeta(i int, v Value) {
	e := &n.ents[i]
	e.typ, e.version, e.expire = v.Type, v.Version, v.ExpireAt
}

// insertKid inserts separator k with child r at i.
func (n *Node) insertKid(i int, k []byte, r page.Ref) {
	n.ents = insertAt(n.ents, i, n.makeEnt(k, nil))
	n.kids = insertAt(n.kids, i, r)
}

// setKey replaces the key of entry i.
func (n *Node) setKey(i int, k []byte) {
	n.ents[i].koff, n.ents[i].klen = n.put(k), uint32(len(k))
}

// remove deletes entry i.
func (n *Node) remove(i int) {
	n.ents = removeAt(n.ents, i)
	if !n.Leaf {
		n.kids = removeAt(n.kids, i)
	}
}

// splitOff moves entries [cut:] into right (an empty node of the same kind).
func (n *Node) splitOff(cut int, right *Node) {
	right.arena = n.arena[:len(n.arena):len(n.arena)]
	right.ents = append(right.ents[:0], n.ents[cut:]...)
	n.ents = n.ents[:cut]
	if !n.Leaf {
		right.kids = append(right.kids[:0], n.kids[cut:]...)
		n.kids = n.kids[:cut]
	}
}

const (
	leafFixed   = 2 + 1 + 1 + 8 // klen, flags, type, version
	branchFixed = 2 + 8 + 8     // klen, child id, child txn
	ovfRefSize  = 8 + 8 + 4 + 8 // id, txn, pages, length
)

func (n *Node) entrySize(i int) int {
	e := &n.ents[i]
	if !n.Leaf {
		return branchFixed + int(e.klen)
	}
	s := leafFixed + int(e.klen)
	if e.expire != 0 {
		s += 8
	}
	if !e.ovf.IsZero() {
		return s + ovfRefSize
	}
	return s + 4 + int(e.vlen)
}

// Size is the encoded size of the node in bytes.
func (n *Node) Size() int {
	s := page.HeaderSize
	for i := range n.ents {
		s += n.entrySize(i)
	}
	return s
}

// Clone returns a copy that may be changed independently.
func (n *Node) Clone() *Node {
	c := &Node{ID: n.ID, Txn: n.Txn, Leaf: n.Leaf, arena: n.arena[:len(n.arena):len(n.arena)]}
	c.ents = append(make([]ent, 0, len(n.ents)+1), n.ents...)
	if !n.Leaf {
		c.kids = append(make([]page.Ref, 0, len(n.kids)+1), n.kids...)
	}
	return c
}

// search returns the index of the first key >= k and whether it is equal.
func (n *Node) search(k []byte) (int, bool) {
	i := sort.Search(len(n.ents), func(i int) bool { return bytes.Compare(n.Key(i), k) >= 0 })
	return i, i < len(n.ents) && bytes.Equal(n.Key(i), k)
}

// child returns the index of the child whose range holds k.
func (n *Node) child(k []byte) int {
	i := sort.Search(len(n.ents), func(i int) bool { return bytes.Compare(n.Key(i), k) > 0 })
	if i > 0 {
		i--
	}
	return i
}

// Ref is the reference to n.
func (n *Node) Ref() page.Ref { return page.Ref{ID: n.ID, Txn: n.Txn, Pages: 1} }

// Encode renders n into a sealed page buffer of pageSize bytes.
func (n *Node) Encode(buf []byte) {
	clear(buf)
	t := page.TypeBranch
	if n.Leaf {
		t = page.TypeLeaf
	}
	page.PutHeader(buf, page.Header{ID: n.ID, Txn: n.Txn, Type: t, Count: uint16(len(n.ents))})
	le := binary.LittleEndian
	off := page.HeaderSize
	for i := range n.ents {
		e := &n.ents[i]
		k := n.Key(i)
		le.PutUint16(buf[off:], uint16(len(k)))
		if !n.Leaf {
			r := n.kids[i]
			le.PutUint64(buf[off+2:], r.ID)
			le.PutUint64(buf[off+10:], r.Txn)
			off += branchFixed
			off += copy(buf[off:], k)
			continue
		}
		var fl byte
		if !e.ovf.IsZero() {
			fl |= FlagOverflow
		}
		if e.expire != 0 {
			fl |= FlagExpire
		}
		buf[off+2] = fl
		buf[off+3] = e.typ
		le.PutUint64(buf[off+4:], e.version)
		off += leafFixed
		if e.expire != 0 {
			le.PutUint64(buf[off:], uint64(e.expire))
			off += 8
		}
		if fl&FlagOverflow != 0 {
			le.PutUint64(buf[off:], e.ovf.ID)
			le.PutUint64(buf[off+8:], e.ovf.Txn)
			le.PutUint32(buf[off+16:], e.ovf.Pages)
			le.PutUint64(buf[off+20:], e.length)
			off += ovfRefSize
		} else {
			le.PutUint32(buf[off:], e.vlen)
			off += 4
			off += copy(buf[off:], n.arena[e.voff:e.voff+e.vlen])
		}
		off += copy(buf[off:], k)
	}
	page.Seal(buf)
}

// Decode verifies and decodes the page in buf, read for ref. It never
// panics on arbitrary bytes: every length is bounds-checked.
func Decode(buf []byte, ref page.Ref, pageSize int) (*Node, error) {
	h, err := page.Verify(buf, ref.ID, 0, ref.Txn, pageSize)
	if err != nil {
		return nil, err
	}
	return decodeBody(buf, h)
}

func decodeBody(buf []byte, h page.Header) (*Node, error) {
	bad := func(format string, args ...any) error {
		return &page.CorruptError{ID: h.ID, Reason: sprintf(format, args...)}
	}
	if h.Type != page.TypeLeaf && h.Type != page.TypeBranch {
		return nil, bad("is a %v page, expected a tree page", h.Type)
	}
	n := &Node{ID: h.ID, Txn: h.Txn, Leaf: h.Type == page.TypeLeaf, arena: buf[:len(buf):len(buf)]}
	cnt := int(h.Count)
	if cnt == 0 {
		return nil, bad("empty %v page", h.Type)
	}
	n.ents = make([]ent, cnt)
	if !n.Leaf {
		n.kids = make([]page.Ref, cnt)
	}
	le := binary.LittleEndian
	off := page.HeaderSize
	end := len(buf)
	need := func(k int) bool { return off+k <= end }
	for i := 0; i < cnt; i++ {
		e := &n.ents[i]
		var klen int
		if n.Leaf {
			if !need(leafFixed) {
				return nil, bad("entry %d overruns the page", i)
			}
			klen = int(le.Uint16(buf[off:]))
			fl := buf[off+2]
			e.typ = buf[off+3]
			e.version = le.Uint64(buf[off+4:])
			off += leafFixed
			if fl&FlagExpire != 0 {
				if !need(8) {
					return nil, bad("entry %d overruns the page", i)
				}
				e.expire = int64(le.Uint64(buf[off:]))
				off += 8
				if e.expire == 0 {
					return nil, bad("entry %d: expire flag with zero time", i)
				}
			}
			if fl&FlagOverflow != 0 {
				if !need(ovfRefSize) {
					return nil, bad("entry %d overruns the page", i)
				}
				e.ovf = page.Ref{ID: le.Uint64(buf[off:]), Txn: le.Uint64(buf[off+8:]), Pages: le.Uint32(buf[off+16:])}
				e.length = le.Uint64(buf[off+20:])
				off += ovfRefSize
				if e.ovf.ID < 2 || e.ovf.Pages == 0 {
					return nil, bad("entry %d: bad overflow reference", i)
				}
			} else {
				if !need(4) {
					return nil, bad("entry %d overruns the page", i)
				}
				vlen := int(le.Uint32(buf[off:]))
				off += 4
				if vlen > end-off {
					return nil, bad("entry %d: value overruns the page", i)
				}
				e.voff, e.vlen, e.length = uint32(off), uint32(vlen), uint64(vlen)
				off += vlen
			}
		} else {
			if !need(branchFixed) {
				return nil, bad("entry %d overruns the page", i)
			}
			klen = int(le.Uint16(buf[off:]))
			n.kids[i] = page.Ref{ID: le.Uint64(buf[off+2:]), Txn: le.Uint64(buf[off+10:]), Pages: 1}
			off += branchFixed
			if n.kids[i].ID < 2 {
				return nil, bad("entry %d: child page id %d", i, n.kids[i].ID)
			}
		}
		if klen > MaxKeySize || !need(klen) {
			return nil, bad("entry %d: bad key length %d", i, klen)
		}
		e.koff, e.klen = uint32(off), uint32(klen)
		off += klen
		if i > 0 && bytes.Compare(n.Key(i-1), n.Key(i)) >= 0 {
			return nil, bad("keys out of order at entry %d", i)
		}
	}
	return n, nil
}
