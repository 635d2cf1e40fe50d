package btree

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/digby-db/digby/page"
)

// fuzzPageSize is the page size the decoding fuzzer works with.
const fuzzPageSize = page.MinPageSize

// seedPages builds real leaf and branch pages (inline, overflow and
// expiring values, long keys) with the tree itself, for the seed corpus.
func seedPages(f *testing.F) [][]byte {
	p := newMemPager(fuzzPageSize)
	tr := &Tree{P: p}
	r := rand.New(rand.NewPCG(1, 2))
	for i := 0; i < 600; i++ {
		k := []byte(fmt.Sprintf("key-%05d", r.IntN(2000)))
		if i%50 == 0 {
			k = bytes.Repeat([]byte{byte('a' + i%26)}, 1+r.IntN(MaxKeySize))
		}
		v := Value{Type: 1, Version: uint64(i + 1), Data: bytes.Repeat([]byte{byte(i)}, r.IntN(80))}
		if i%7 == 0 {
			v.ExpireAt = 1 + r.Int64N(1<<40)
		}
		if i%31 == 0 {
			v.Data = make([]byte, fuzzPageSize) // overflow reference
		}
		if _, _, err := tr.Put(k, v); err != nil {
			f.Fatal(err)
		}
	}
	var out [][]byte
	for _, n := range p.dirty {
		buf := make([]byte, fuzzPageSize)
		if err := n.Encode(buf, page.PlainCodec()); err != nil {
			f.Fatal(err)
		}
		out = append(out, buf)
	}
	if len(out) < 3 {
		f.Fatalf("only %d seed pages", len(out))
	}
	return out
}

// FuzzDecode feeds arbitrary bytes to Decode, both as read (the checksum
// rejects nearly all) and resealed as a one-page run, so that the body
// parser sees arbitrary content behind a valid header. Decode must never
// panic, and a node it accepts must be usable and survive re-encoding.
func FuzzDecode(f *testing.F) {
	for _, b := range seedPages(f) {
		f.Add(b, false)
		f.Add(b, true)
	}
	f.Add([]byte{}, false)
	f.Add(make([]byte, page.HeaderSize), true)
	f.Fuzz(func(t *testing.T, data []byte, reseal bool) {
		// As read: any length, no resealing.
		h := page.Header{}
		if len(data) >= page.HeaderSize {
			h = page.ReadHeader(data)
		}
		if n, err := openDecode(data, page.Ref{ID: h.ID, Txn: h.Txn, Pages: 1}, fuzzPageSize); err == nil {
			exercise(t, n)
		}
		if !reseal {
			return
		}
		buf := make([]byte, fuzzPageSize)
		copy(buf, data)
		h = page.ReadHeader(buf)
		h.Overflow = 0
		page.PutHeader(buf, h)
		if err := page.PlainCodec().Seal(buf); err != nil {
			t.Fatal(err)
		}
		n, err := openDecode(buf, page.Ref{ID: h.ID, Txn: h.Txn, Pages: 1}, fuzzPageSize)
		if err != nil {
			if _, ok := err.(*page.CorruptError); !ok {
				t.Fatalf("error is not a *page.CorruptError: %T %v", err, err)
			}
			return
		}
		exercise(t, n)
	})
}

// exercise checks that n's keys ascend strictly, reads every entry of n,
// and checks that encoding it again and decoding the result gives the same
// entries.
func exercise(t *testing.T, n *Node) {
	for i := 0; i < n.Len(); i++ {
		if i > 0 && bytes.Compare(n.Key(i-1), n.Key(i)) >= 0 {
			t.Fatalf("decoded keys out of order at entry %d", i)
		}
		if n.Leaf {
			_ = n.Val(i)
		} else {
			_ = n.Kid(i)
		}
	}
	if n.Size() > fuzzPageSize {
		t.Fatalf("decoded node of %d bytes does not fit its page", n.Size())
	}
	buf := make([]byte, fuzzPageSize)
	if err := n.Encode(buf, page.PlainCodec()); err != nil {
		t.Fatal(err)
	}
	m, err := openDecode(buf, n.Ref(), fuzzPageSize)
	if err != nil {
		t.Fatalf("re-encoded node does not decode: %v", err)
	}
	if m.Len() != n.Len() || m.Leaf != n.Leaf {
		t.Fatalf("re-encoded node has %d entries (leaf %v), want %d (leaf %v)", m.Len(), m.Leaf, n.Len(), n.Leaf)
	}
	for i := 0; i < n.Len(); i++ {
		if !bytes.Equal(m.Key(i), n.Key(i)) {
			t.Fatalf("entry %d: key %x after re-encoding, want %x", i, m.Key(i), n.Key(i))
		}
		if n.Leaf {
			a, b := n.Val(i), m.Val(i)
			if a.Type != b.Type || a.Version != b.Version || a.ExpireAt != b.ExpireAt || a.Ovf != b.Ovf || a.Len != b.Len || !bytes.Equal(a.Data, b.Data) {
				t.Fatalf("entry %d: value %+v after re-encoding, want %+v", i, b, a)
			}
		} else if n.Kid(i) != m.Kid(i) {
			t.Fatalf("entry %d: child %+v after re-encoding, want %+v", i, m.Kid(i), n.Kid(i))
		}
	}
}
