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
// current txn may change, and byte slices are never modified in place.
type Node struct {
	ID   uint64
	Txn  uint64
	Leaf bool
	Keys [][]byte
	Vals []Value    // leaf only
	Kids []page.Ref // branch only
}

const (
	leafFixed   = 2 + 1 + 1 + 8 // klen, flags, type, version
	branchFixed = 2 + 8 + 8     // klen, child id, child txn
	ovfRefSize  = 8 + 8 + 4 + 8 // id, txn, pages, length
)

func leafEntrySize(k []byte, v *Value) int {
	n := leafFixed + len(k)
	if v.ExpireAt != 0 {
		n += 8
	}
	if !v.Ovf.IsZero() {
		return n + ovfRefSize
	}
	return n + 4 + len(v.Data)
}

func (n *Node) entrySize(i int) int {
	if n.Leaf {
		return leafEntrySize(n.Keys[i], &n.Vals[i])
	}
	return branchFixed + len(n.Keys[i])
}

// Size is the encoded size of the node in bytes.
func (n *Node) Size() int {
	s := page.HeaderSize
	for i := range n.Keys {
		s += n.entrySize(i)
	}
	return s
}

// Clone returns a shallow copy whose slices may be changed independently.
func (n *Node) Clone() *Node {
	c := &Node{ID: n.ID, Txn: n.Txn, Leaf: n.Leaf}
	c.Keys = append(make([][]byte, 0, len(n.Keys)+1), n.Keys...)
	if n.Leaf {
		c.Vals = append(make([]Value, 0, len(n.Vals)+1), n.Vals...)
	} else {
		c.Kids = append(make([]page.Ref, 0, len(n.Kids)+1), n.Kids...)
	}
	return c
}

// search returns the index of the first key >= k and whether it is equal.
func (n *Node) search(k []byte) (int, bool) {
	i := sort.Search(len(n.Keys), func(i int) bool { return bytes.Compare(n.Keys[i], k) >= 0 })
	return i, i < len(n.Keys) && bytes.Equal(n.Keys[i], k)
}

// child returns the index of the child whose range holds k.
func (n *Node) child(k []byte) int {
	i := sort.Search(len(n.Keys), func(i int) bool { return bytes.Compare(n.Keys[i], k) > 0 })
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
	page.PutHeader(buf, page.Header{ID: n.ID, Txn: n.Txn, Type: t, Count: uint16(len(n.Keys))})
	le := binary.LittleEndian
	off := page.HeaderSize
	for i, k := range n.Keys {
		le.PutUint16(buf[off:], uint16(len(k)))
		if n.Leaf {
			v := &n.Vals[i]
			var fl byte
			if !v.Ovf.IsZero() {
				fl |= FlagOverflow
			}
			if v.ExpireAt != 0 {
				fl |= FlagExpire
			}
			buf[off+2] = fl
			buf[off+3] = v.Type
			le.PutUint64(buf[off+4:], v.Version)
			off += leafFixed
			if v.ExpireAt != 0 {
				le.PutUint64(buf[off:], uint64(v.ExpireAt))
				off += 8
			}
			if fl&FlagOverflow != 0 {
				le.PutUint64(buf[off:], v.Ovf.ID)
				le.PutUint64(buf[off+8:], v.Ovf.Txn)
				le.PutUint32(buf[off+16:], v.Ovf.Pages)
				le.PutUint64(buf[off+20:], v.Len)
				off += ovfRefSize
			} else {
				le.PutUint32(buf[off:], uint32(len(v.Data)))
				off += 4
				off += copy(buf[off:], v.Data)
			}
			off += copy(buf[off:], k)
		} else {
			r := n.Kids[i]
			le.PutUint64(buf[off+2:], r.ID)
			le.PutUint64(buf[off+10:], r.Txn)
			off += branchFixed
			off += copy(buf[off:], k)
		}
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
	n := &Node{ID: h.ID, Txn: h.Txn, Leaf: h.Type == page.TypeLeaf}
	cnt := int(h.Count)
	if cnt == 0 {
		return nil, bad("empty %v page", h.Type)
	}
	n.Keys = make([][]byte, cnt)
	if n.Leaf {
		n.Vals = make([]Value, cnt)
	} else {
		n.Kids = make([]page.Ref, cnt)
	}
	le := binary.LittleEndian
	off := page.HeaderSize
	end := len(buf)
	need := func(k int) bool { return off+k <= end }
	for i := 0; i < cnt; i++ {
		if n.Leaf {
			if !need(leafFixed) {
				return nil, bad("entry %d overruns the page", i)
			}
			klen := int(le.Uint16(buf[off:]))
			fl := buf[off+2]
			v := &n.Vals[i]
			v.Type = buf[off+3]
			v.Version = le.Uint64(buf[off+4:])
			off += leafFixed
			if fl&FlagExpire != 0 {
				if !need(8) {
					return nil, bad("entry %d overruns the page", i)
				}
				v.ExpireAt = int64(le.Uint64(buf[off:]))
				off += 8
				if v.ExpireAt == 0 {
					return nil, bad("entry %d: expire flag with zero time", i)
				}
			}
			if fl&FlagOverflow != 0 {
				if !need(ovfRefSize) {
					return nil, bad("entry %d overruns the page", i)
				}
				v.Ovf = page.Ref{ID: le.Uint64(buf[off:]), Txn: le.Uint64(buf[off+8:]), Pages: le.Uint32(buf[off+16:])}
				v.Len = le.Uint64(buf[off+20:])
				off += ovfRefSize
				if v.Ovf.ID < 2 || v.Ovf.Pages == 0 {
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
				v.Data = buf[off : off+vlen : off+vlen]
				v.Len = uint64(vlen)
				off += vlen
			}
			if klen > MaxKeySize || !need(klen) {
				return nil, bad("entry %d: bad key length %d", i, klen)
			}
			n.Keys[i] = buf[off : off+klen : off+klen]
			off += klen
		} else {
			if !need(branchFixed) {
				return nil, bad("entry %d overruns the page", i)
			}
			klen := int(le.Uint16(buf[off:]))
			n.Kids[i] = page.Ref{ID: le.Uint64(buf[off+2:]), Txn: le.Uint64(buf[off+10:]), Pages: 1}
			off += branchFixed
			if n.Kids[i].ID < 2 {
				return nil, bad("entry %d: child page id %d", i, n.Kids[i].ID)
			}
			if klen > MaxKeySize || !need(klen) {
				return nil, bad("entry %d: bad key length %d", i, klen)
			}
			n.Keys[i] = buf[off : off+klen : off+klen]
			off += klen
		}
		if i > 0 && bytes.Compare(n.Keys[i-1], n.Keys[i]) >= 0 {
			return nil, bad("keys out of order at entry %d", i)
		}
	}
	return n, nil
}
