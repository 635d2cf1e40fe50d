package btree

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"math/rand/v2"
	"sort"
	"testing"

	"github.com/digby-db/digby/page"
)

// TestBound: search and child, which interpolate on key prefixes, answer
// exactly as a plain binary search over the keys does, for keys that
// spread evenly (hash-prefixed), cluster, share long prefixes, are shorter
// than 8 bytes, and for probes between, at, below and above them.
func TestBound(t *testing.T) {
	gens := map[string]func(r *rand.Rand, i int) []byte{
		"hashed": func(r *rand.Rand, i int) []byte {
			return binary.BigEndian.AppendUint64(nil, r.Uint64())
		},
		"hashed+name": func(r *rand.Rand, i int) []byte {
			return fmt.Appendf(binary.BigEndian.AppendUint64(nil, r.Uint64()), "key:%06d", i)
		},
		"skewed": func(r *rand.Rand, i int) []byte { // dense near 0, sparse above
			x := r.Uint64() >> (r.IntN(60))
			return binary.BigEndian.AppendUint64(nil, x*x)
		},
		"shared-prefix": func(r *rand.Rand, i int) []byte { return fmt.Appendf(nil, "seqkey::%08d", r.IntN(1e8)) },
		"short": func(r *rand.Rand, i int) []byte {
			b := make([]byte, r.IntN(8))
			for j := range b {
				b[j] = byte(r.IntN(4))
			}
			return b
		},
		"two-clusters": func(r *rand.Rand, i int) []byte {
			v := r.Uint64() >> 40
			if r.IntN(2) == 0 {
				v |= 0xff << 56
			}
			return binary.BigEndian.AppendUint64(nil, v)
		},
	}
	for name, gen := range gens {
		t.Run(name, func(t *testing.T) {
			r := rand.New(rand.NewPCG(11, uint64(len(name))))
			for round := 0; round < 40; round++ {
				size := 1 + r.IntN(300)
				set := map[string]bool{}
				for len(set) < size {
					set[string(gen(r, len(set)))] = true
				}
				keys := make([][]byte, 0, size)
				for k := range set {
					keys = append(keys, []byte(k))
				}
				sort.Slice(keys, func(i, j int) bool { return bytes.Compare(keys[i], keys[j]) < 0 })
				for _, leaf := range []bool{true, false} {
					n := &Node{Leaf: leaf}
					for i, k := range keys {
						if leaf {
							n.insertLeaf(i, k, Value{Data: []byte("v")})
						} else {
							n.insertKid(i, k, page.Ref{ID: uint64(i + 2), Txn: 1, Pages: 1})
						}
					}
					probes := append([][]byte{nil, {0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff}}, keys...)
					for range 200 {
						probes = append(probes, gen(r, r.IntN(1000)))
					}
					for _, k := range keys {
						probes = append(probes, append(bytes.Clone(k), 0), k[:len(k)/2])
					}
					for _, k := range probes {
						want := sort.Search(len(keys), func(i int) bool { return bytes.Compare(keys[i], k) >= 0 })
						got, eq := n.search(k)
						if got != want || eq != (want < len(keys) && bytes.Equal(keys[want], k)) {
							t.Fatalf("%d keys, search(%x) = %d %v, want %d", len(keys), k, got, eq, want)
						}
						wantChild := max(sort.Search(len(keys), func(i int) bool { return bytes.Compare(keys[i], k) > 0 })-1, 0)
						if got := n.child(k); got != wantChild {
							t.Fatalf("%d keys, child(%x) = %d, want %d", len(keys), k, got, wantChild)
						}
						// A descent's span guides only the guess: the
						// right one, one too narrow or wide, and one
						// that misses the keys all give the same answers.
						for _, sp := range spans(r, n) {
							p := prefix(k)
							if got, eq := n.searchIn(k, p, sp); got != want || eq != (want < len(keys) && bytes.Equal(keys[want], k)) {
								t.Fatalf("%d keys, span %x: searchIn(%x) = %d %v, want %d", len(keys), sp, k, got, eq, want)
							}
							if got := n.childIn(k, p, sp); got != wantChild {
								t.Fatalf("%d keys, span %x: childIn(%x) = %d, want %d", len(keys), sp, k, got, wantChild)
							}
						}
					}
				}
			}
		})
	}
}

// spans returns spans for n's prefixes: the exact one, its parent's
// separators (a little wider), narrower, shifted, inverted and random.
func spans(r *rand.Rand, n *Node) []span {
	lo, hi := n.ents[0].pfx, n.ents[len(n.ents)-1].pfx
	w := (hi - lo) / 4
	return []span{
		{lo, hi}, {lo / 2, hi + (^hi)/2}, {lo + w, hi - w}, {lo + w, hi + w},
		{hi, lo}, {r.Uint64(), r.Uint64()}, {0, ^uint64(0)},
	}
}
