package btree

import (
	"encoding/binary"
	"fmt"

	"github.com/digby-db/digby/page"
)

// Entry flags.
const (
	FlagOverflow = 1 << 0 // the value lives in an overflow run
	FlagExpire   = 1 << 1 // ExpireAt is set
	// FlagCompressed marks an inline value whose bytes are in a form its
	// user compressed (the store's: store/compress.go); the tree stores
	// and returns them as given. Never with FlagOverflow.
	FlagCompressed = 1 << 2
)

// MaxKeySize is the longest key a node stores: a 256-byte tree key (a long
// key's 224-byte prefix and its SHA-256) plus an 8-byte expiry-index prefix.
const MaxKeySize = 264

// Value is what a leaf stores under a key.
type Value struct {
	Type uint8
	// Compressed: Data is inline and in its user's compressed form
	// (FlagCompressed); Len is then the stored length. (Beside Type, in
	// its padding: a Value is copied whole on every put and look-up, and
	// 80 bytes copy in five 16-byte moves, where 88 take an overlapping
	// sixth that a load of the copy cannot be forwarded from.)
	Compressed bool
	Version    uint64
	ExpireAt   int64    // unix ms; 0 = none
	Data       []byte   // inline bytes (nil when in overflow, until loaded)
	Ovf        page.Ref // overflow run when the value is large
	Len        uint64   // length of the value (of Data as stored when inline)
}

const (
	leafFixed   = 2 + 1 + 1 + 8 // klen, flags, type, version
	branchFixed = 2 + 8 + 8     // klen, child id, child txn
	ovfRefSize  = 8 + 8 + 4 + 8 // id, txn, pages, length
)

// Encode renders n into a page buffer of pageSize bytes and seals it with
// c. The node must fit the page less c's overhead (the pager's PageSize is
// that usable size); a node that does not is an error, never a torn page.
func (n *Node) Encode(buf []byte, c *page.Codec) error {
	// Every byte is written: the header's, the entries', and zeros after
	// them (not the whole page first: a flush's pages are mostly full).
	clear(buf[:page.HeaderSize])
	t := page.TypeBranch
	if n.Leaf {
		t = page.TypeLeaf
	}
	page.PutHeader(buf, page.Header{ID: n.ID, Txn: n.Txn, Type: t, Count: uint16(len(n.ents))})
	off, usable := page.HeaderSize, len(buf)-c.Overhead()
	var err error
	if n.Leaf {
		off, err = n.encodeLeaf(buf, off, usable)
	} else {
		off, err = n.encodeBranch(buf, off, usable)
	}
	if err != nil {
		return err
	}
	clear(buf[off:])
	return c.Seal(buf)
}

// encodeBranch writes branch n's entries into buf from off and returns
// where they end.
func (n *Node) encodeBranch(buf []byte, off, usable int) (int, error) {
	le := binary.LittleEndian
	for i := range n.ents {
		k := n.Key(i)
		// Checked before each entry: a copy would cut one that overruns
		// the page short, and a torn page would be sealed as valid.
		if off+n.entrySize(i) > usable {
			return 0, overrun(n.ID, usable, i)
		}
		le.PutUint16(buf[off:], uint16(len(k)))
		r := n.kids[i]
		le.PutUint64(buf[off+2:], r.ID)
		le.PutUint64(buf[off+10:], r.Txn)
		off += branchFixed
		off += copy(buf[off:], k)
	}
	return off, nil
}

// overrun is Encode's error for a node that does not fit its page.
func overrun(id uint64, usable, i int) error {
	return fmt.Errorf("page %d: node overruns the page's %d usable bytes at entry %d", id, usable, i)
}

// encodeLeaf writes leaf n's entries into buf from off and returns where
// they end. An entry whose key follows its record in the same arena (one
// decoded from a page, inserted, or packed) is the page's bytes already,
// prefix included (recPrefix): runs of such entries lying end to end in an
// arena are copied whole, so a leaf changed in a few places costs a few
// copies rather than two an entry. Others (a value replaced, its key left
// where it was) are written field by field.
func (n *Node) encodeLeaf(buf []byte, off, usable int) (int, error) {
	le := binary.LittleEndian
	var run []byte  // the arena the run lies in
	var rbit uint32 // and its offsets' bit (ownBit for own)
	rs, re := 0, 0  // the run's bounds in it
	// Every copy is checked to fit first: a copy would cut one that
	// overruns the page short, and a torn page would be sealed as valid.
	first := 0 // the run's first entry, for the error
	flush := func() error {
		if off+(re-rs) > usable {
			return overrun(n.ID, usable, first)
		}
		off += copy(buf[off:], run[rs:re])
		rs, re = 0, 0
		return nil
	}
	for i := range n.ents {
		e := &n.ents[i]
		arena, bit := n.base, uint32(0)
		if e.voff&ownBit != 0 {
			arena, bit = n.own, ownBit
		}
		v := int(e.voff &^ ownBit)
		start, keyAt := v-int(e.hdrLen())-recPrefix, v+int(e.vlen)
		if e.koff == uint32(keyAt)|bit {
			end := keyAt + int(e.klen)
			if re > rs && start == re && bit == rbit {
				re = end // it follows the run
				continue
			}
			if err := flush(); err != nil {
				return 0, err
			}
			run, rbit, rs, re, first = arena, bit, start, end, i
			continue
		}
		if err := flush(); err != nil {
			return 0, err
		}
		if off+n.entrySize(i) > usable {
			return 0, overrun(n.ID, usable, i)
		}
		k := n.Key(i)
		le.PutUint16(buf[off:], uint16(len(k)))
		buf[off+2] = e.flags
		buf[off+3] = e.typ
		off += recPrefix
		// version, expire-at, value length and value, as held in the arena
		off += copy(buf[off:], n.valRecord(e))
		off += copy(buf[off:], k)
	}
	if err := flush(); err != nil {
		return 0, err
	}
	return off, nil
}

// Decode decodes the tree page in buf, a run already opened (verified and
// decrypted) by page.Codec.Open, with its header h. It never panics on
// arbitrary bytes: every length is bounds-checked.
func Decode(buf []byte, h page.Header) (*Node, error) {
	return decodeBody(buf, h, nil)
}

// DecodeLeafInto is Decode, but a leaf page is decoded into into, reusing
// its entry array: into must be a leaf node an earlier Decode or
// DecodeLeafInto made that nothing uses any more, nor ever will (a
// ScanCursor's previous leaf, lent from the mapping: never cached nor
// remembered). A branch page, or a nil into, gets a new node. On an error
// into holds no page, and may be passed again (every field a decode reads
// is set first).
func DecodeLeafInto(into *Node, buf []byte, h page.Header) (*Node, error) {
	if into == nil || !into.Leaf || h.Type != page.TypeLeaf {
		return decodeBody(buf, h, nil)
	}
	return decodeBody(buf, h, into)
}

func decodeBody(buf []byte, h page.Header, into *Node) (*Node, error) {
	bad := func(format string, args ...any) error {
		return &page.CorruptError{ID: h.ID, Reason: sprintf(format, args...)}
	}
	if h.Type != page.TypeLeaf && h.Type != page.TypeBranch {
		return nil, bad("is a %v page, expected a tree page", h.Type)
	}
	if uint64(len(buf)) >= ownBit {
		return nil, bad("page too large")
	}
	cnt := int(h.Count)
	if cnt == 0 {
		return nil, bad("empty %v page", h.Type)
	}
	var n *Node
	if into != nil && cap(into.ents) >= cnt {
		n = into
		n.ID, n.Txn, n.Leaf, n.base, n.own, n.ownCheck, n.filled = h.ID, h.Txn, true, buf, nil, 0, false
		n.ents, n.entsShared, n.undo = n.ents[:cnt], false, nil
		clear(n.ents)
	} else {
		n = &Node{ID: h.ID, Txn: h.Txn, Leaf: h.Type == page.TypeLeaf, base: buf}
		n.ents = make([]ent, cnt)
	}
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
			e.flags = buf[off+2]
			e.typ = buf[off+3]
			off += leafFixed
			if e.flags&^(FlagOverflow|FlagExpire|FlagCompressed) != 0 {
				return nil, bad("entry %d: unknown flags %#x", i, e.flags)
			}
			if e.flags&(FlagOverflow|FlagCompressed) == FlagOverflow|FlagCompressed {
				return nil, bad("entry %d: compressed value in overflow", i)
			}
			if e.flags&FlagExpire != 0 {
				if !need(8) {
					return nil, bad("entry %d overruns the page", i)
				}
				exp := le.Uint64(buf[off:])
				off += 8
				if exp == 0 {
					return nil, bad("entry %d: expire flag with zero time", i)
				}
			}
			if e.flags&FlagOverflow != 0 {
				if !need(ovfRefSize) {
					return nil, bad("entry %d overruns the page", i)
				}
				if le.Uint64(buf[off:]) < 2 || le.Uint32(buf[off+16:]) == 0 {
					return nil, bad("entry %d: bad overflow reference", i)
				}
				e.voff, e.vlen = uint32(off), ovfRefSize
				off += ovfRefSize
			} else {
				if !need(4) {
					return nil, bad("entry %d overruns the page", i)
				}
				vlen := le.Uint32(buf[off:])
				off += 4
				if uint64(vlen) > uint64(end-off) { // as uint64: no int wraps on 32-bit
					return nil, bad("entry %d: value overruns the page", i)
				}
				e.voff, e.vlen = uint32(off), vlen
				off += int(vlen)
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
		e.koff, e.klen = uint32(off), uint16(klen)
		e.pfx = prefix(buf[off : off+klen])
		off += klen
		// Keys ascend (cmp compares prefixes first, whole keys if equal).
		if i > 0 && n.cmp(i-1, n.Key(i), e.pfx) >= 0 {
			return nil, bad("keys out of order at entry %d", i)
		}
	}
	n.base = buf[:off:off] // every entry lies within; the rest is padding
	return n, nil
}

// DecodeCopy is Decode, but the node keeps its own copy of only the bytes
// its entries use: buf may be reused at once, and a cached node costs its
// content rather than a whole page (a leaf filled to 70% saves 30%).
//
// The entries and the bytes share one allocation (entries first): a point
// read of a cached leaf touches both, and one block keeps them on
// neighbouring memory pages.
func DecodeCopy(buf []byte, h page.Header) (*Node, error) {
	n, err := decodeBody(buf, h, nil)
	if err != nil {
		return nil, err
	}
	ents, base := entsAndBytes(len(n.ents), len(n.base))
	copy(ents, n.ents)
	n.ents, n.base = ents, append(base, n.base...)
	return n, nil
}
