package btree

import (
	"encoding/binary"
	"math/rand/v2"
	"testing"
)

// benchTree builds a tree of n keys: 8 random bytes (like the server's
// hash prefix) then a short name, 16-byte values, in memory.
func benchTree(b *testing.B, n int) (*Tree, [][]byte) {
	p := newMemPager(4096)
	tr := &Tree{P: p}
	r := rand.New(rand.NewPCG(3, 3))
	keys := make([][]byte, n)
	val := make([]byte, 16)
	for i := range keys {
		k := make([]byte, 8, 20)
		binary.BigEndian.PutUint64(k, r.Uint64())
		keys[i] = append(k, "key:000000"...)
		if _, _, err := tr.Put(keys[i], Value{Data: val}); err != nil {
			b.Fatal(err)
		}
	}
	return tr, keys
}

// BenchmarkGetHashed: point gets over 1M hash-prefixed keys, random order.
func BenchmarkGetHashed(b *testing.B) {
	tr, keys := benchTree(b, 1_000_000)
	r := rand.New(rand.NewPCG(4, 4))
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, ok, err := tr.Get(keys[r.IntN(len(keys))]); !ok || err != nil {
			b.Fatal("missing key", err)
		}
	}
}
