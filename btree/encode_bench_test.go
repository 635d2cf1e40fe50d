package btree

import (
	"bytes"
	"math/rand/v2"
	"testing"

	"github.com/digby-db/digby/page"
)

// BenchmarkEncodeLeaf: encoding leaves of 24-byte keys (an 8-byte hash
// prefix, as the store's tables) and 3-byte values, each decoded from its
// page and then changed once (an insert, or a replaced value where the
// leaf is full), as a flush encodes the leaves a random write dirtied.
// ns/op is per leaf.
func BenchmarkEncodeLeaf(b *testing.B) {
	r := rand.New(rand.NewPCG(1, 2))
	mp := newMemPager(4096)
	tr := &Tree{P: mp}
	k, v := make([]byte, 24), make([]byte, 3)
	fill := func(p []byte) {
		for i := range p {
			p[i] = byte(r.Uint32())
		}
	}
	for i := 0; i < 200000; i++ {
		fill(k)
		fill(v)
		if _, _, err := tr.Put(bytes.Clone(k), Value{Type: 1, Version: uint64(i + 1), Data: bytes.Clone(v)}); err != nil {
			b.Fatal(err)
		}
	}
	mp.commit(b)
	var leaves []*Node
	for id, raw := range mp.pages {
		buf, h, err := page.PlainCodec().Open(bytes.Clone(raw), id, 0, 0, mp.ps)
		if err != nil {
			b.Fatal(err)
		}
		if h.Type != page.TypeLeaf {
			continue
		}
		n, err := DecodeCopy(buf, h)
		if err != nil {
			b.Fatal(err)
		}
		c := n.Clone()
		fill(k)
		if c.Size()+64 <= mp.ps {
			i, _ := c.search(k)
			c.insertLeaf(i, bytes.Clone(k), Value{Type: 1, Version: 1, Data: []byte("abc")})
		} else {
			c.setVal(c.Len()/2, Value{Type: 1, Version: 1, Data: []byte("abd")})
		}
		leaves = append(leaves, c)
	}
	out := make([]byte, mp.ps)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if err := leaves[i%len(leaves)].Encode(out, page.PlainCodec()); err != nil {
			b.Fatal(err)
		}
	}
}
