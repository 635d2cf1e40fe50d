package btree

import (
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/digby-db/digby/page"
)

// TestShareFill: random inserts leave leaves about 80% full, where
// splitting alone leaves them about two thirds full (sharing with a
// sibling first, redistribute.go); the tree stays in order and every key
// is found. The walk checks each separator against its child's keys.
func TestShareFill(t *testing.T) {
	const n = 20000
	p := newMemPager(4096)
	tr := &Tree{P: p}
	r := rand.New(rand.NewPCG(3, 4))
	val := make([]byte, 100)
	for i, k := range r.Perm(n) {
		if _, _, err := tr.Put([]byte(fmt.Sprintf("key:%012d", k)), Value{Data: val, Version: uint64(i)}); err != nil {
			t.Fatal(err)
		}
		if i%100 == 99 {
			p.commit(t)
		}
	}
	p.commit(t)
	var leaves, bytes int
	var walk func(ref page.Ref, lo []byte)
	walk = func(ref page.Ref, lo []byte) {
		nd, err := p.Node(ref)
		if err != nil {
			t.Fatal(err)
		}
		if lo != nil && string(nd.Key(0)) < string(lo) {
			t.Fatalf("page %d starts at %q, below its separator %q", nd.ID, nd.Key(0), lo)
		}
		if nd.Leaf {
			leaves++
			bytes += nd.Size()
			return
		}
		for i := 0; i < nd.Len(); i++ {
			sep := nd.Key(i)
			if i == 0 {
				sep = lo // key 0 is only a lower bound
			}
			walk(nd.Kid(i), sep)
		}
	}
	walk(tr.Root, nil)
	fill := float64(bytes) / float64(leaves*4096)
	t.Logf("%d keys in %d leaves, %.0f%% full", n, leaves, fill*100)
	if fill < 0.75 {
		t.Fatalf("leaves %.0f%% full after random inserts, want at least 75%%", fill*100)
	}
	for k := 0; k < n; k++ {
		if _, ok, err := tr.Get([]byte(fmt.Sprintf("key:%012d", k))); err != nil || !ok {
			t.Fatalf("key %d: found %v, %v", k, ok, err)
		}
	}
}
