package btree

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/digby-db/digby/page"
)

// encodeRef renders n's page body field by field, as Encode did before it
// copied runs of entries whole: the reference Encode must match.
func encodeRef(n *Node, buf []byte) {
	le := binary.LittleEndian
	off := page.HeaderSize
	for i := range n.ents {
		e := &n.ents[i]
		k := n.Key(i)
		le.PutUint16(buf[off:], uint16(len(k)))
		if !n.Leaf {
			le.PutUint64(buf[off+2:], n.kids[i].ID)
			le.PutUint64(buf[off+10:], n.kids[i].Txn)
			off += branchFixed
			off += copy(buf[off:], k)
			continue
		}
		buf[off+2], buf[off+3] = e.flags, e.typ
		off += recPrefix
		off += copy(buf[off:], n.valRecord(e))
		off += copy(buf[off:], k)
	}
	clear(buf[off:])
}

// keepPager is a memPager that, like the store, keeps committed nodes in
// memory as they are (clone chains with their own arenas), or compacted,
// or drops them to be decoded from their page: every form a node's arenas
// take reaches Encode.
type keepPager struct {
	*memPager
	kept map[uint64]*Node
	r    *rand.Rand
}

// newKeepPager is a keepPager of page size ps drawing from r.
func newKeepPager(ps int, r *rand.Rand) *keepPager {
	return &keepPager{memPager: newMemPager(ps), kept: map[uint64]*Node{}, r: r}
}

func (p *keepPager) Node(r page.Ref) (*Node, error) {
	if n, ok := p.dirty[r.ID]; ok {
		return n, nil
	}
	if n, ok := p.kept[r.ID]; ok {
		return n, nil
	}
	return p.memPager.Node(r)
}

func (p *keepPager) Writable(n *Node) (*Node, error) {
	c, err := p.memPager.Writable(n)
	delete(p.kept, n.ID)
	return c, err
}

func (p *keepPager) FreeNode(n *Node) {
	p.memPager.FreeNode(n)
	delete(p.kept, n.ID)
}

// commit encodes every dirty node with Encode and with encodeRef, requires
// the same bytes, and keeps the node in one of its forms.
func (p *keepPager) commit(t *testing.T) {
	t.Helper()
	for id, n := range p.dirty {
		buf, ref := make([]byte, p.ps), make([]byte, p.ps)
		if err := n.Encode(buf, page.PlainCodec()); err != nil {
			t.Fatal(err)
		}
		copy(ref, buf[:page.HeaderSize])
		encodeRef(n, ref)
		body := len(buf) - page.PlainCodec().Overhead()
		if !bytes.Equal(buf[:body], ref[:body]) {
			t.Fatalf("node %d (leaf %v, %d entries): Encode differs from the field-by-field encoding", id, n.Leaf, len(n.ents))
		}
		p.pages[id] = buf
		switch p.r.IntN(4) {
		case 0, 1:
			p.kept[id] = n
		case 2:
			p.kept[id] = n.Compacted()
		}
	}
	clear(p.dirty)
	p.txn++
}

// randomValue is a value of a random type and size (now and then one that
// goes to overflow), with an expiry one time in four.
func randomValue(r *rand.Rand, op, ps int) Value {
	n := r.IntN(40)
	if r.IntN(30) == 0 {
		n = r.IntN(2 * ps)
	}
	v := Value{Type: uint8(r.IntN(3)), Version: uint64(op + 1), Data: bytes.Repeat([]byte{byte(op)}, n)}
	v.ExpireAt = randomExpiry(r, 4)
	return v
}

// randomExpiry is an expiry time one time in oneIn, else 0.
func randomExpiry(r *rand.Rand, oneIn int) int64 {
	if r.IntN(oneIn) == 0 {
		return 1 + r.Int64N(1<<40)
	}
	return 0
}

// TestEncodeRuns: Encode copies runs of entries whose arena bytes are laid
// out as on the page; under random puts, overwrites, expiry changes,
// deletes, overflow values and splits, with nodes kept across commits as
// clone chains, compacted, or decoded again, every page it writes must equal
// the field-by-field encoding.
func TestEncodeRuns(t *testing.T) {
	for _, ps := range []int{4096, 16384} {
		for seed := uint64(1); seed <= 12; seed++ {
			t.Run(fmt.Sprintf("ps%d/seed%d", ps, seed), func(t *testing.T) {
				r := rand.New(rand.NewPCG(seed, 7))
				p := newKeepPager(ps, r)
				tr := &Tree{P: p}
				keyspace := 100 + r.IntN(4000)
				for op := 0; op < 8000; op++ {
					k := fmt.Appendf(nil, "key:%08d", r.IntN(keyspace))
					switch x := r.IntN(20); {
					case x < 12:
						if _, _, err := tr.Put(k, randomValue(r, op, ps)); err != nil {
							t.Fatal(err)
						}
					case x < 15:
						at := randomExpiry(r, 2)
						if _, err := tr.Update(k, func(v *Value) { v.ExpireAt = at }); err != nil {
							t.Fatal(err)
						}
					default:
						if _, _, err := tr.Delete(k); err != nil {
							t.Fatal(err)
						}
					}
					if r.IntN(50) == 0 {
						p.commit(t)
					}
				}
				p.commit(t)
			})
		}
	}
}
