package btree

import (
	"bytes"
	"crypto/rand"
	"testing"

	"github.com/digby-db/digby/page"
)

// BenchmarkDecodeLeafInto: decoding leaves of random 16-byte keys and
// 100-byte values (the bench Scan row's shape) into one reused node, as a
// ScanCursor does with the leaves it lends. ns/op is per leaf.
func BenchmarkDecodeLeafInto(b *testing.B) {
	mp := newMemPager(4096)
	tr := &Tree{P: mp}
	k, v := make([]byte, 16), make([]byte, 100)
	for i := 0; i < 20000; i++ {
		rand.Read(k)
		rand.Read(v)
		if _, _, err := tr.Put(bytes.Clone(k), Value{Type: 1, Version: uint64(i + 1), Data: bytes.Clone(v)}); err != nil {
			b.Fatal(err)
		}
	}
	mp.commit(b)
	type opened struct {
		buf []byte
		h   page.Header
	}
	var leaves []opened
	for id, raw := range mp.pages {
		buf, h, err := page.PlainCodec().Open(bytes.Clone(raw), id, 0, 0, mp.ps)
		if err != nil {
			b.Fatal(err)
		}
		if h.Type == page.TypeLeaf {
			leaves = append(leaves, opened{buf, h})
		}
	}
	var into *Node
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		l := leaves[i%len(leaves)]
		n, err := DecodeLeafInto(into, l.buf, l.h)
		if err != nil {
			b.Fatal(err)
		}
		into = n
	}
}
