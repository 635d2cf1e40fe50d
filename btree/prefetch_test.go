package btree

import (
	"encoding/binary"
	"math/rand"
	"testing"

	"github.com/digby-db/digby/page"
)

// peekPager is a memPager that answers Peek: with the node a reference
// points at (decoded afresh when committed, as a cache would hold it), or,
// when wrong is set, with a node it picks at random from the ones it
// answered before, to show that a wrong answer changes nothing.
type peekPager struct {
	*memPager
	r      *rand.Rand
	wrong  bool
	peeked []*Node // what it answered, in order
	asked  []page.Ref
}

func (p *peekPager) Peek(ref page.Ref) *Node {
	p.asked = append(p.asked, ref)
	var n *Node
	if p.wrong && len(p.peeked) > 0 && p.r.Intn(2) == 0 {
		n = p.peeked[p.r.Intn(len(p.peeked))]
	} else if d, err := p.Node(ref); err == nil {
		n = d
	}
	p.peeked = append(p.peeked, n)
	return n
}

// TestPrefetch checks that Prefetch asks the Pager for exactly the leaves
// the lookups of its keys reach, finds them all in memory when the Pager
// knows them, does nothing without a Peeker, and changes nothing: every
// lookup and the tree's contents stay as a model has them while puts,
// deletes and prefetches (of present, absent and wrongly peeked keys)
// interleave, over committed and dirty nodes.
func TestPrefetch(t *testing.T) {
	for seed := int64(1); seed <= 8; seed++ {
		r := rand.New(rand.NewSource(seed))
		mp := newMemPager(4096)
		pp := &peekPager{memPager: mp, r: r, wrong: seed%2 == 0}
		w := &Tree{P: pp}
		model := map[string][]byte{}
		var present [][]byte
		var s TouchScratch
		for round := 0; round < 60; round++ {
			for range 50 + r.Intn(150) {
				i := len(present)
				k := hashedKey(r, i)
				if seed%3 == 0 {
					k = binary.BigEndian.AppendUint64(nil, uint64(r.Intn(1<<20)))
				}
				if len(present) > 0 && r.Intn(5) == 0 {
					k = present[r.Intn(len(present))]
					if _, _, err := w.Delete(k); err != nil {
						t.Fatal(err)
					}
					delete(model, string(k))
					continue
				}
				v := make([]byte, 1+r.Intn(300)) // few a leaf: trees three levels deep
				r.Read(v)
				if _, _, err := w.Put(k, Value{Data: v}); err != nil {
					t.Fatal(err)
				}
				model[string(k)], present = v, append(present, k)
			}
			if r.Intn(3) == 0 {
				mp.commit(t)
			}
			var keys [][]byte
			for range 1 + r.Intn(32) {
				if r.Intn(4) == 0 {
					keys = append(keys, hashedKey(r, -1))
				} else {
					keys = append(keys, present[r.Intn(len(present))])
				}
			}
			pp.peeked, pp.asked = pp.peeked[:0], pp.asked[:0]
			found := w.Prefetch(keys, &s)
			root, err := mp.Node(w.Root)
			if err != nil {
				t.Fatal(err)
			}
			if root.Leaf {
				if found != 0 || len(pp.asked) != 0 {
					t.Fatalf("seed %d: a one-leaf tree: found %d, asked %d", seed, found, len(pp.asked))
				}
			} else {
				if len(pp.asked) != len(keys) {
					t.Fatalf("seed %d: Prefetch asked for %d leaves for %d keys", seed, len(pp.asked), len(keys))
				}
				for i, k := range keys {
					path, _, err := w.descend(k, nil)
					if err != nil {
						t.Fatal(err)
					}
					leaf := path[len(path)-1].n
					if got := pp.asked[i]; got.ID != leaf.ID || got.Txn != leaf.Txn {
						t.Fatalf("seed %d: Prefetch peeked at %v for key %x, whose leaf is page %d txn %d", seed, got, k, leaf.ID, leaf.Txn)
					}
				}
				if !pp.wrong && found != len(keys) {
					t.Fatalf("seed %d: Prefetch found %d of %d leaves in memory", seed, found, len(keys))
				}
			}
			for _, wk := range s.walks {
				if wk.n != nil {
					t.Fatal("Prefetch kept a node in its scratch")
				}
			}
			for _, k := range keys {
				v, ok, err := w.Get(k)
				want, in := model[string(k)]
				if err != nil || ok != in || string(v.Data) != string(want) {
					t.Fatalf("seed %d: after Prefetch, Get(%x) = %q %v %v, want %q %v", seed, k, v.Data, ok, err, want, in)
				}
			}
		}
		depth := 1
		for n, err := mp.Node(w.Root); !n.Leaf; depth++ {
			if err != nil {
				t.Fatal(err)
			}
			n, err = mp.Node(n.kids[0])
		}
		if depth < 3 {
			t.Fatalf("seed %d: the tree is only %d levels deep", seed, depth)
		}
		n := 0
		c := w.Cursor()
		for ok := c.First(); ok; ok = c.Next() {
			v, err := c.Value()
			if err != nil {
				t.Fatal(err)
			}
			if want, in := model[string(c.Key())]; !in || string(v.Data) != string(want) {
				t.Fatalf("seed %d: the tree holds %x = %q, the model %q %v", seed, c.Key(), v.Data, want, in)
			}
			n++
		}
		if err := c.Err(); err != nil {
			t.Fatal(err)
		}
		if n != len(model) {
			t.Fatalf("seed %d: the tree holds %d keys, the model %d", seed, n, len(model))
		}
	}
}

// TestPrefetchWithoutPeeker checks that a Pager that cannot peek makes
// Prefetch do nothing.
func TestPrefetchWithoutPeeker(t *testing.T) {
	_, w := committedTree(t, 3000)
	var s TouchScratch
	if got := w.Prefetch([][]byte{[]byte("key-00010"), []byte("key-02000")}, &s); got != 0 {
		t.Fatalf("Prefetch found %d leaves through a Pager without Peek", got)
	}
}

// failPeekPager is a failPager that peeks: at nothing for the pages it
// fails, at the node otherwise.
type failPeekPager struct{ failPager }

func (p failPeekPager) Peek(r page.Ref) *Node {
	n, err := p.Node(r)
	if err != nil {
		return nil
	}
	return n
}

// TestPrefetchReadErrors: a key whose path goes through a branch that
// cannot be read is skipped (not counted), the others are found, and
// Prefetch neither panics nor reports; with the root unreadable it finds
// nothing.
func TestPrefetchReadErrors(t *testing.T) {
	r := rand.New(rand.NewSource(1))
	mp := newMemPager(4096)
	w := &Tree{P: mp}
	var keys [][]byte
	for i := range 8000 {
		k := hashedKey(r, i)
		if _, _, err := w.Put(k, Value{Data: make([]byte, 1+r.Intn(300))}); err != nil {
			t.Fatal(err)
		}
		if i%5 == 0 {
			keys = append(keys, k)
		}
	}
	mp.commit(t)
	root, err := mp.Node(w.Root)
	if err != nil || root.Leaf {
		t.Fatalf("want a branch root: %v", err)
	}
	if kid, err := mp.Node(root.Kid(1)); err != nil || kid.Leaf {
		t.Fatalf("want a tree three levels deep: %v", err)
	}
	fp := failPeekPager{failPager{mp, map[uint64]bool{root.Kid(1).ID: true}}}
	tr := &Tree{P: fp, Root: w.Root}
	want := 0
	for i, k := range keys {
		if root.child(k) != 1 {
			want++
		} else if root.child(keys[0]) != 1 {
			// A key under the unreadable branch comes first: the leaves'
			// depth must come from a path that can be read.
			keys[0], keys[i] = keys[i], keys[0]
		}
	}
	if root.child(keys[0]) != 1 {
		t.Fatal("no key under the unreadable branch")
	}
	var s TouchScratch
	if got := tr.Prefetch(keys, &s); got != want || want == len(keys) || want == 0 {
		t.Fatalf("Prefetch found %d leaves, want %d of %d", got, want, len(keys))
	}
	fp.bad[w.Root.ID] = true
	if got := tr.Prefetch(keys, &s); got != 0 {
		t.Fatalf("with the root unreadable, Prefetch found %d leaves", got)
	}
}
