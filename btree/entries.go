package btree

import (
	"bytes"
	"encoding/binary"
	"slices"
	"sync"
	"sync/atomic"
	"unsafe"

	"github.com/digby-db/digby/page"
)

// Node is a decoded branch or leaf page. Nodes read from committed pages are
// shared and immutable; only a node the Pager returned as writable in the
// current txn may change.
//
// The representation holds no pointers per entry, so cloning a node is a
// flat copy of 24-byte entries and the garbage collector never scans them.
// Key and value bytes live in one of two arenas: base (for a decoded page,
// the page buffer itself; never appended to) and own (bytes this node or
// its ancestors appended). Bytes in an arena never change once written: a
// node sees own only up to its length, and appends go beyond it. A clone
// shares own with its spare capacity, so its first append does not copy
// the arena: the node it copies is immutable (committed, or discarded by a
// rollback), so at any time only the newest node of a chain of clones
// appends, past every other sharer's length. Views that could be appended
// to beside it are capped (undo snapshots), so their appends reallocate;
// the right piece of a split gets a new own (splitOff).
type Node struct {
	ID   uint64
	Txn  uint64
	Leaf bool

	base []byte
	own  []byte
	ents []ent
	kids []page.Ref // branch only, parallel to ents
	// entsShared: ents may be shared with the node this one was cloned
	// from (a branch clone shares them, since shadowing a branch changes
	// only its kids): every change to ents calls ownEnts first, which
	// copies them once.
	entsShared bool
	// ownCheck is the length own must pass before compact counts its
	// dead bytes again (0: at the next call past a quarter page).
	ownCheck uint32
	// filled: see Filled.
	filled bool

	undo *UndoLog // non-nil while a savepoint records this node's changes

	// Mark and Pos belong to the Pager: the tree never reads or changes
	// them, and a clone starts with them zero. The store's writer keeps
	// its own bookkeeping of nodes in them (store/flushset.go, the
	// savepoints); being fields of their own, they are written beside
	// readers of the node's other fields without a race.
	Mark uint8
	Pos  uint32

	// slots: the children descents of Published trees remembered
	// (swizzle.go); nil until the first.
	slots atomic.Pointer[kidSlots]
	// used is set when a descent reaches the node through a remembered
	// pointer, and taken by the page cache's eviction (TakeRef).
	used atomic.Bool
	// freed: see MarkFreed.
	freed atomic.Bool
	// holds counts the store's holders of the node (the page cache, the
	// unflushed set), backs lists the branch entries that remember it,
	// and backsLive is how many of them the last prune kept (swizzle.go);
	// all under hmu.
	hmu       sync.Mutex
	holds     int32
	backs     []backRef
	backsLive int
}

// ent is one entry. Offsets with ownBit set point into own, else into base.
// A leaf value in overflow is stored as its encoded reference (ovfRefSize
// bytes) with flagOvf set.
type ent struct {
	pfx        uint64 // the key's first 8 bytes, big-endian, zero-padded
	koff, voff uint32
	vlen       uint32
	klen       uint16
	typ        uint8
	flags      uint8
}

// A leaf entry's value is preceded in its arena by its header, laid out as
// on the page: the entry's prefix (recPrefix: key length u16, flags,
// type), version u64, expire-at u64 (only with FlagExpire), value length
// u32 (only without FlagOverflow); hdrLen counts from the version. Keeping
// version and expiry there rather than in ent makes ent 24 bytes instead
// of 40: less for a clone to copy, for the cache to hold and for a search
// to step over.
func (e *ent) hdrLen() uint32 {
	h := uint32(8)
	if e.flags&FlagExpire != 0 {
		h += 8
	}
	if e.flags&FlagOverflow == 0 {
		h += 4
	}
	return h
}

// valRecord is entry e's value header and value, contiguous in their arena.
func (n *Node) valRecord(e *ent) []byte {
	h := e.hdrLen()
	return n.bytes(e.voff-h, h+e.vlen)
}

// recPrefix is the length of a leaf entry's prefix on the page: key length
// u16, flags, type. Every arena holds a leaf entry's value record after its
// prefix, as the page does (decoded pages are laid out so; setEntVal and
// pack write them so), which lets Encode copy entries whole (encodeLeaf).
// The prefix always matches the entry's key length, flags and type: every
// change to them writes the record again.
const recPrefix = 4

// entRecord is leaf entry e's prefix, value header and value, contiguous
// in their arena: the entry as on the page, but for its key.
func (n *Node) entRecord(e *ent) []byte {
	h := e.hdrLen() + recPrefix
	return n.bytes(e.voff-h, h+e.vlen)
}

const ownBit = 1 << 31

func (n *Node) bytes(off uint32, l uint32) []byte {
	if off&ownBit != 0 {
		off &^= ownBit
		return n.own[off : off+l : off+l]
	}
	return n.base[off : off+l : off+l]
}

// Len is the number of entries.
func (n *Node) Len() int { return len(n.ents) }

// Key returns the key of entry i; the bytes must not be modified.
func (n *Node) Key(i int) []byte {
	e := &n.ents[i]
	return n.bytes(e.koff, uint32(e.klen))
}

// Val returns the value of leaf entry i (Data nil when in overflow).
func (n *Node) Val(i int) Value {
	e := &n.ents[i]
	le := binary.LittleEndian
	rec := n.valRecord(e)
	v := Value{Type: e.typ, Version: le.Uint64(rec)}
	if e.flags&FlagExpire != 0 {
		v.ExpireAt = int64(le.Uint64(rec[8:]))
	}
	b := rec[len(rec)-int(e.vlen):]
	if e.flags&FlagOverflow != 0 {
		v.Ovf = page.Ref{ID: le.Uint64(b), Txn: le.Uint64(b[8:]), Pages: le.Uint32(b[16:])}
		v.Len = le.Uint64(b[20:])
		return v
	}
	v.Data, v.Len, v.Compressed = b, uint64(len(b)), e.flags&FlagCompressed != 0
	return v
}

// inlineData is the value of leaf entry i when it is stored in the leaf
// as given (not compressed).
func (n *Node) inlineData(i int) ([]byte, bool) {
	e := &n.ents[i]
	if e.flags&(FlagOverflow|FlagCompressed) != 0 {
		return nil, false
	}
	return n.bytes(e.voff, e.vlen), true
}

// Kid returns the child reference of branch entry i.
func (n *Node) Kid(i int) page.Ref { return n.kids[i] }

// put appends b to the own arena and returns its offset.
func (n *Node) put(b []byte) uint32 {
	off := uint32(len(n.own)) | ownBit
	n.room(len(b))
	n.own = append(n.own, b...)
	return off
}

// room makes sure own can take need more bytes without reallocating. A
// shared (capped) or full own is reallocated with room for a few more
// (slices.Grow copies without zeroing the copied part). An entry's pieces
// (record header, value, key) ask for room together first, so that a
// large value is not copied once more by the growth its header caused.
func (n *Node) room(need int) {
	if len(n.own)+need > cap(n.own) {
		n.own = slices.Grow(n.own[:len(n.own):len(n.own)], max(len(n.own), need+256))
	}
}

// recordLen is the size of v's record in own as setEntVal lays it out:
// prefix and header, then the value or its overflow reference.
func recordLen(v *Value) int {
	h := recPrefix + 8
	if v.ExpireAt != 0 {
		h += 8
	}
	if !v.Ovf.IsZero() {
		return h + ovfRefSize
	}
	return h + 4 + len(v.Data)
}

// setEntVal points e at a new record of v in own, laid out as on the page:
// the entry's prefix (key length, flags, type; e.klen must be set), its
// header, then the value (or, for a value in overflow, its encoded
// reference).
func (n *Node) setEntVal(e *ent, v *Value) {
	e.typ = v.Type
	e.flags = 0
	if v.ExpireAt != 0 {
		e.flags |= FlagExpire
	}
	if !v.Ovf.IsZero() {
		e.flags |= FlagOverflow
	} else if v.Compressed {
		e.flags |= FlagCompressed
	}
	n.room(recordLen(v))
	var hdr [recPrefix + 20]byte
	le := binary.LittleEndian
	le.PutUint16(hdr[:], e.klen)
	hdr[2], hdr[3] = e.flags, e.typ
	le.PutUint64(hdr[recPrefix:], v.Version)
	h := recPrefix + 8
	if v.ExpireAt != 0 {
		le.PutUint64(hdr[h:], uint64(v.ExpireAt))
		h += 8
	}
	if v.Ovf.IsZero() {
		le.PutUint32(hdr[h:], uint32(len(v.Data)))
		h += 4
		// Two appends to own stay contiguous: a reallocation copies
		// what is there first.
		e.voff = n.put(hdr[:h]) + uint32(h)
		n.put(v.Data)
		e.vlen = uint32(len(v.Data))
		return
	}
	var b [ovfRefSize]byte
	le.PutUint64(b[:], v.Ovf.ID)
	le.PutUint64(b[8:], v.Ovf.Txn)
	le.PutUint32(b[16:], v.Ovf.Pages)
	le.PutUint64(b[20:], v.Len)
	e.voff = n.put(hdr[:h]) + uint32(h)
	n.put(b[:])
	e.vlen = ovfRefSize
}

// Undo log. While n.undo is set, each change appends its inverse.
type undoKind uint8

const (
	undoRemove  undoKind = iota // an insert at i: remove it
	undoInsert                  // a removal at i: put e (and kid) back
	undoSetEnt                  // entry i changed: restore e
	undoSetKid                  // kid i changed: restore kid
	undoRestore                 // split or compaction: restore ents, kids and arenas
)

type undoOp struct {
	kind  undoKind
	i     int
	e     ent
	kid   page.Ref
	ents  []ent
	kids  []page.Ref
	arena [2][]byte
}

func (n *Node) record(op undoOp) {
	if n.undo != nil {
		n.undo.ops = append(n.undo.ops, op)
	}
}

// UndoLog holds a node's recorded changes between StartUndo and StopUndo
// or Undo. A log returned by StopUndo may be passed to StartUndo again
// (for any node): it is emptied then, and its memory reused.
type UndoLog struct{ ops []undoOp }

// StartUndo begins recording changes into l (a new log if l is nil) so
// that Undo can revert them. l must not be in use by another node.
func (n *Node) StartUndo(l *UndoLog) {
	if l == nil {
		l = &UndoLog{ops: make([]undoOp, 0, 4)}
	}
	l.ops = l.ops[:0]
	n.undo = l
}

// StopUndo keeps the changes, stops recording and returns the log, emptied
// of references, for reuse.
func (n *Node) StopUndo() *UndoLog {
	l := n.undo
	n.undo = nil
	if l != nil {
		clear(l.ops)
		l.ops = l.ops[:0]
	}
	return l
}

// Undo reverts every change since StartUndo and stops recording.
func (n *Node) Undo() {
	if n.undo == nil {
		return
	}
	log := n.undo.ops
	n.undo = nil
	for j := len(log) - 1; j >= 0; j-- {
		op := &log[j]
		switch op.kind {
		case undoRemove:
			n.ownEnts()
			n.ents = removeAt(n.ents, op.i)
			if !n.Leaf {
				n.kids = removeAt(n.kids, op.i)
			}
		case undoInsert:
			n.ownEnts()
			n.ents = insertAt(n.ents, op.i, op.e)
			if !n.Leaf {
				n.kids = insertAt(n.kids, op.i, op.kid)
			}
		case undoSetEnt:
			n.ownEnts()
			n.ents[op.i] = op.e
		case undoSetKid:
			n.kids[op.i] = op.kid
		case undoRestore:
			n.ents, n.kids, n.entsShared = op.ents, op.kids, false
			n.base, n.own = op.arena[0], op.arena[1]
			n.filled, n.ownCheck = false, 0 // a split undone; count dead bytes again
		}
	}
}

func (n *Node) snapshot() undoOp {
	op := undoOp{kind: undoRestore, ents: append([]ent(nil), n.ents...), arena: [2][]byte{n.base, n.own[:len(n.own):len(n.own)]}}
	if !n.Leaf {
		op.kids = append([]page.Ref(nil), n.kids...)
	}
	return op
}

// insertLeaf inserts key k with value v at i.
func (n *Node) insertLeaf(i int, k []byte, v Value) {
	// The record, then the key: the entry lies in own as on the page, so
	// Encode copies it (and its neighbours inserted after it) whole.
	e := ent{pfx: prefix(k), klen: uint16(len(k))}
	n.room(recordLen(&v) + len(k))
	n.setEntVal(&e, &v)
	e.koff = n.put(k)
	n.ownEnts()
	n.ents = insertAt(n.ents, i, e)
	n.record(undoOp{kind: undoRemove, i: i})
}

// setVal replaces the value of entry i.
func (n *Node) setVal(i int, v Value) {
	n.record(undoOp{kind: undoSetEnt, i: i, e: n.ents[i]})
	n.ownEnts()
	n.setEntVal(&n.ents[i], &v)
}

// setMeta replaces the type, version and expiry of entry i. They live in
// the value's arena header, so the value's bytes (or its overflow
// reference) are written again with the new header: an EXPIRE of an inline
// value copies it (up to a quarter page), an overflow value's data is not
// touched.
func (n *Node) setMeta(i int, v Value) {
	n.record(undoOp{kind: undoSetEnt, i: i, e: n.ents[i]})
	n.ownEnts()
	// The header lives before the bytes in their (immutable) arena: write
	// a new record. v came from Val, so it still names the same data or
	// overflow reference.
	n.setEntVal(&n.ents[i], &v)
}

// insertKid inserts separator k with child r at i.
func (n *Node) insertKid(i int, k []byte, r page.Ref) {
	n.ownEnts()
	n.ents = insertAt(n.ents, i, ent{pfx: prefix(k), koff: n.put(k), klen: uint16(len(k))})
	n.kids = insertAt(n.kids, i, r)
	n.record(undoOp{kind: undoRemove, i: i})
}

// setKid replaces the child of entry i.
func (n *Node) setKid(i int, r page.Ref) {
	n.record(undoOp{kind: undoSetKid, i: i, kid: n.kids[i]})
	n.kids[i] = r
}

// setKey replaces the key of entry i. A leaf entry's record is written
// again too (its prefix holds the key's length), before the key, so the
// entry stays laid out as on the page (recPrefix).
func (n *Node) setKey(i int, k []byte) {
	n.record(undoOp{kind: undoSetEnt, i: i, e: n.ents[i]})
	n.ownEnts()
	e := &n.ents[i]
	if n.Leaf {
		v := n.Val(i)
		e.klen = uint16(len(k))
		n.setEntVal(e, &v)
	}
	e.pfx, e.koff, e.klen = prefix(k), n.put(k), uint16(len(k))
}

// remove deletes entry i.
func (n *Node) remove(i int) {
	op := undoOp{kind: undoInsert, i: i, e: n.ents[i]}
	n.ownEnts()
	n.ents = removeAt(n.ents, i)
	if !n.Leaf {
		op.kid = n.kids[i]
		n.kids = removeAt(n.kids, i)
	}
	n.record(op)
}

// splitOff moves entries [cut:] into right (an empty node of the same
// kind). right shares n's base (unless none of its entries use it) and
// gets a new own holding only its own entries' bytes, with room for extra
// more: sharing n's own would make right's first append copy all of it.
func (n *Node) splitOff(cut int, right *Node, extra int) {
	if n.undo != nil {
		n.record(n.snapshot())
	}
	right.base = n.base
	right.own = n.own
	right.ents = append(right.ents[:0], n.ents[cut:]...)
	right.moveOwn(extra)
	n.ents = n.ents[:cut:cut]
	n.ownCheck = 0 // right's bytes are dead in n's arenas
	if !n.Leaf {
		right.kids = append(right.kids[:0], n.kids[cut:]...)
		n.kids = n.kids[:cut:cut]
	}
}

// moveOwn copies the bytes of own that n's entries use into a new own with
// room for extra more, so that n no longer shares its old own; and drops
// base if no entry uses it (the right piece of a sequential load's split
// would otherwise carry the left's base, all dead, into its compactions).
func (n *Node) moveOwn(extra int) {
	own, inBase := n.pack(n.ents, make([]byte, 0, n.usedBytes(true)+extra), true)
	n.own, n.ownCheck = own, 0
	if !inBase {
		n.base = nil
	}
}

// compact rewrites the node's live bytes into a new base arena and empties
// own, once its arenas hold more than a quarter page of dead bytes: own
// holds every value a chain of clones appended, live or replaced, and base
// the entries the node was decoded with, replaced ones too. The new base is
// shared by later clones without copying. Dead bytes are counted each time
// own has grown by another quarter page since the last count (ownCheck),
// and after a split: a node that only gains entries (a sequential load's
// last leaf) is never copied before it splits, and between counts a node
// gains at most a quarter page and an entry, so its arenas stay within a
// small multiple of a page.
func (n *Node) compact(pageSize int) {
	q := pageSize / 4
	if len(n.own) <= q || len(n.own) < int(n.ownCheck) {
		return
	}
	if n.deadBytes() <= q {
		n.ownCheck = uint32(len(n.own) + q)
		return
	}
	if n.undo != nil {
		n.record(n.snapshot())
	}
	n.ents, n.base = n.liveCopy(cap(n.ents))
	n.own, n.entsShared, n.ownCheck = nil, false, 0
}

// liveCopy returns n's entries (with room for capEnts) pointing into a new
// base arena that holds only their live bytes.
func (n *Node) liveCopy(capEnts int) ([]ent, []byte) {
	ents := make([]ent, len(n.ents), capEnts)
	copy(ents, n.ents)
	live, _ := n.pack(ents, make([]byte, 0, n.usedBytes(false)), false)
	return ents, live
}

// entsAndBytes allocates, in one block, an entry array of length ne and an
// empty byte slice of capacity nb after it: a node meant for the cache
// (DecodeCopy, Compacted) keeps its entries and bytes on neighbouring
// memory pages, as a point read touches both. Neither has spare room
// past what was asked (a clone copies ents before changing them and
// appends to own, never to base).
func entsAndBytes(ne, nb int) ([]ent, []byte) {
	es := ne * int(unsafe.Sizeof(ent{}))
	block := make([]byte, es+nb)
	ents := unsafe.Slice((*ent)(unsafe.Pointer(unsafe.SliceData(block))), ne)
	return ents[:ne:ne], block[es : es : es+nb]
}

// pack appends to dst the arena bytes (keys, value records) of ents, n's
// entries or a copy of them: all of them, or with ownOnly only those in
// own, and points the entries at their place in dst, as a new base (all)
// or a new own (ownOnly). A leaf entry's record (with its prefix) goes
// before its key, as on the page. It reports whether some entry still uses
// bytes it did not move.
func (n *Node) pack(ents []ent, dst []byte, ownOnly bool) ([]byte, bool) {
	bit, kept := uint32(0), false
	if ownOnly {
		bit = ownBit
	}
	for i := range ents {
		e := &ents[i]
		if n.Leaf {
			if !ownOnly || e.voff&ownBit != 0 {
				rec := n.entRecord(e)
				e.voff = (uint32(len(dst)) + recPrefix + e.hdrLen()) | bit
				dst = append(dst, rec...)
			} else {
				kept = true
			}
		}
		if !ownOnly || e.koff&ownBit != 0 {
			k := n.bytes(e.koff, uint32(e.klen))
			e.koff = uint32(len(dst)) | bit
			dst = append(dst, k...)
		} else {
			kept = true
		}
	}
	return dst, kept
}

// deadBytes is the number of bytes of n's arenas that no entry uses.
func (n *Node) deadBytes() int { return len(n.base) + len(n.own) - n.usedBytes(false) }

// usedBytes is the number of arena bytes n's entries use: in both arenas,
// or with ownOnly in own.
func (n *Node) usedBytes(ownOnly bool) int {
	size := 0
	for i := range n.ents {
		e := &n.ents[i]
		if !ownOnly || e.koff&ownBit != 0 {
			size += int(e.klen)
		}
		if n.Leaf && (!ownOnly || e.voff&ownBit != 0) {
			size += int(recPrefix + e.hdrLen() + e.vlen)
		}
	}
	return size
}

// CompactedSize is the MemSize of Compacted's copy of n, without making it.
func (n *Node) CompactedSize() int64 {
	return memSize(n.usedBytes(false), len(n.ents), len(n.kids))
}

// Compacted returns a copy of n that holds only its live bytes, with no
// spare capacity, for a cache: a node that went through a chain of clones
// carries replaced values and room to grow. n is only read; it may be read
// concurrently by others (and cloned) while this runs.
func (n *Node) Compacted() *Node {
	c := &Node{ID: n.ID, Txn: n.Txn, Leaf: n.Leaf}
	ents, buf := entsAndBytes(len(n.ents), n.usedBytes(false))
	copy(ents, n.ents)
	c.ents = ents
	c.base, _ = n.pack(ents, buf, false)
	if !n.Leaf {
		c.kids = slices.Clip(append([]page.Ref(nil), n.kids...))
	}
	return c
}

// ownEnts gives n its own copy of a shared ents array before an in-place
// write.
func (n *Node) ownEnts() {
	if n.entsShared {
		n.ents = append([]ent(nil), n.ents...)
		n.entsShared = false
	}
}

func (n *Node) entrySize(i int) int {
	e := &n.ents[i]
	if !n.Leaf {
		return branchFixed + int(e.klen)
	}
	s := leafFixed + int(e.klen)
	if e.flags&FlagExpire != 0 {
		s += 8
	}
	if e.flags&FlagOverflow != 0 {
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

// Clone returns a copy that may be changed. n itself must not change
// afterwards, nor may a second clone of n change while this one lives (they
// would append into the same spare arena capacity): the Pager clones only
// immutable nodes, once each per transaction.
func (n *Node) Clone() *Node { return n.CloneFrom(nil) }

// prefix is the first 8 bytes of k as a big-endian number, zero-padded:
// comparing prefixes orders keys as bytes.Compare does, unless they are
// equal (then the full keys decide).
func prefix(k []byte) uint64 {
	if len(k) >= 8 {
		return binary.BigEndian.Uint64(k)
	}
	var b [8]byte
	copy(b[:], k)
	return binary.BigEndian.Uint64(b[:])
}

// cmp compares entry i's key with k (whose prefix is p).
func (n *Node) cmp(i int, k []byte, p uint64) int {
	if e := n.ents[i].pfx; e != p {
		if e < p {
			return -1
		}
		return 1
	}
	return bytes.Compare(n.Key(i), k)
}

// search returns the index of the first key >= k and whether it is equal.
func (n *Node) search(k []byte) (int, bool) {
	return n.searchIn(k, prefix(k), span{})
}

// searchIn is search for k of prefix p in a node whose prefixes s spans.
func (n *Node) searchIn(k []byte, p uint64, s span) (int, bool) {
	i := n.bound(k, p, false, s)
	return i, i < len(n.ents) && n.cmp(i, k, p) == 0
}

// child returns the index of the child whose range holds k: the last
// entry whose key is <= k (entry 0 is a lower bound, taken as -infinity).
func (n *Node) child(k []byte) int {
	return n.childIn(k, prefix(k), span{})
}

// childIn is child for k of prefix p in a node whose prefixes s spans.
func (n *Node) childIn(k []byte, p uint64, s span) int {
	return max(n.bound(k, p, true, s)-1, 0)
}

// span is what a descent knows of a node's key prefixes before reading
// it: they lie about in [lo, hi), its parent's separators around it (the
// lower one may be stale-high for a first child). It only guides bound's
// first guess, which is then checked, so a wrong span costs time, never
// a wrong answer. lo >= hi means nothing is known.
type span struct{ lo, hi uint64 }

// kidSpan is the span of child i's prefixes, n's being s.
func (n *Node) kidSpan(i int, s span) span {
	c := span{lo: n.ents[i].pfx, hi: s.hi}
	if i+1 < len(n.ents) {
		c.hi = n.ents[i+1].pfx
	}
	return c
}

// bound returns the first index whose key is >= k (> k when strict), k's
// prefix being p.
//
// Where the node's prefixes spread out and k's falls strictly inside them
// (the server's keys start with a hash, so they spread evenly), it first
// guesses the position by interpolating k's prefix between the first and
// the last and walks a few entries from the guess: a binary search's first
// probes land on entries far apart, each a likely CPU cache miss, where the
// walk reads neighbours. Otherwise, and when the walk does not settle within
// interpolationWalk entries, it binary-searches what is left, so the answer
// is always the binary search's and the cost stays O(log n). A descent
// passes the span its parent's separators give (s): the guess then needs
// no read of the node's first and last entries, two cache misses less.
func (n *Node) bound(k []byte, p uint64, strict bool, s span) int {
	// after(i) reports whether entry i is at or past the answer; it is
	// false up to the answer and true from it on.
	after := func(i int) bool {
		c := n.cmp(i, k, p)
		return c > 0 || (c == 0 && !strict)
	}
	lo, hi := 0, len(n.ents) // the answer is in [lo, hi]
	if g, ok := n.probe(p, s); ok {
		if after(g) {
			hi = g
			for range interpolationWalk {
				if hi == lo || !after(hi-1) {
					return hi
				}
				hi--
			}
		} else {
			lo = g + 1
			for range interpolationWalk {
				if lo == hi || after(lo) {
					return lo
				}
				lo++
			}
		}
	}
	for lo < hi {
		m := int(uint(lo+hi) >> 1)
		if after(m) {
			hi = m
		} else {
			lo = m + 1
		}
	}
	return lo
}

// probe is the entry bound reads first for a key of prefix p in n, whose
// prefixes s spans: interpolated between the span's ends (or, when s is
// unknown, the first and last entries' prefixes); false when bound
// binary-searches instead (few entries, or p not strictly inside).
func (n *Node) probe(p uint64, s span) (int, bool) {
	ents := n.ents
	if len(ents) <= 2*interpolationWalk {
		return 0, false
	}
	a, b, last := s.lo, s.hi, len(ents)
	if a >= b {
		last--
		a, b = ents[0].pfx, ents[last].pfx
	}
	if p <= a || p >= b {
		return 0, false
	}
	// a < p < b: the fraction is in (0, 1), g in [0, last].
	return min(int(float64(p-a)/float64(b-a)*float64(last)), len(ents)-1), true
}

// interpolationWalk is how many entries bound walks from its guess.
const interpolationWalk = 8

// Filled reports whether n is a leaf left full by a split at the end of
// the tree (an insert past every key): a sequential load leaves such
// leaves behind and comes back to none of them, so a store need not keep
// them in memory once they are written. A clone of n is not Filled.
func (n *Node) Filled() bool { return n.filled }

// ClearFilled marks n as not Filled: a pager that changes a committed node in
// place instead of cloning it (Pager.Writable) calls it, as the node is
// being come back to.
func (n *Node) ClearFilled() { n.filled = false }

// MarkFreed records that a writer freed n's page (a later transaction
// replaced or dropped n). Freed reports it, safely beside the writer. It
// is a hint for what is worth keeping in memory, never for what is
// live: a rollback may bring n back without clearing it.
func (n *Node) MarkFreed() { n.freed.Store(true) }

// Freed reports whether MarkFreed was called on n.
func (n *Node) Freed() bool { return n.freed.Load() }

// Ref is the reference to n.
func (n *Node) Ref() page.Ref { return page.Ref{ID: n.ID, Txn: n.Txn, Pages: 1} }

// MemSize is the memory the node holds, for cache accounting.
func (n *Node) MemSize() int64 {
	return memSize(cap(n.base)+cap(n.own), cap(n.ents), cap(n.kids))
}

func memSize(arena, ents, kids int) int64 {
	return int64(arena) + int64(ents)*int64(unsafe.Sizeof(ent{})) + int64(kids)*int64(unsafe.Sizeof(page.Ref{})) + int64(unsafe.Sizeof(Node{}))
}
