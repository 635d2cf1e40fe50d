package btree

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"sort"
	"testing"

	"github.com/digby-db/digby/page"
)

// memPager keeps encoded pages in a map; every commit starts a new txn.
type memPager struct {
	ps    int
	txn   uint64
	next  uint64
	pages map[uint64][]byte
	dirty map[uint64]*Node
	ovf   map[uint64][]byte
	freed int
}

func newMemPager(ps int) *memPager {
	return &memPager{ps: ps, txn: 1, next: 2, pages: map[uint64][]byte{}, dirty: map[uint64]*Node{}, ovf: map[uint64][]byte{}}
}

func (p *memPager) PageSize() int { return p.ps }
func (p *memPager) Node(r page.Ref) (*Node, error) {
	if n, ok := p.dirty[r.ID]; ok {
		return n, nil
	}
	buf, ok := p.pages[r.ID]
	if !ok {
		return nil, fmt.Errorf("page %d missing", r.ID)
	}
	return openDecode(buf, r, p.ps)
}

// committedTree puts n keys ("key-00000" = "0", ...) into a new tree on a
// 4 KiB memPager and commits them.
func committedTree(t *testing.T, n int) (*memPager, *Tree) {
	t.Helper()
	mp := newMemPager(4096)
	w := &Tree{P: mp}
	for i := 0; i < n; i++ {
		if _, _, err := w.Put([]byte(fmt.Sprintf("key-%05d", i)), Value{Data: []byte(fmt.Sprint(i))}); err != nil {
			t.Fatal(err)
		}
	}
	mp.commit(t)
	return mp, w
}

// openDecode verifies buf as a plain page read for r and decodes it.
func openDecode(buf []byte, r page.Ref, ps int) (*Node, error) {
	b, h, err := page.PlainCodec().Open(bytes.Clone(buf), r.ID, 0, r.Txn, ps)
	if err != nil {
		return nil, err
	}
	return Decode(b, h)
}
func (p *memPager) NewNode(leaf bool) (*Node, error) {
	n := &Node{ID: p.next, Txn: p.txn, Leaf: leaf}
	p.next++
	p.dirty[n.ID] = n
	return n, nil
}
func (p *memPager) Writable(n *Node) (*Node, error) {
	if d, ok := p.dirty[n.ID]; ok {
		return d, nil
	}
	c := n.Clone()
	c.ID, c.Txn = p.next, p.txn
	p.next++
	p.dirty[c.ID] = c
	p.FreeNode(n)
	return c, nil
}
func (p *memPager) FreeNode(n *Node) {
	delete(p.dirty, n.ID)
	delete(p.pages, n.ID)
	p.freed++
}
func (p *memPager) WriteOverflow(d []byte) (page.Ref, error) {
	id := p.next
	p.next++
	p.ovf[id] = append([]byte(nil), d...)
	return page.Ref{ID: id, Txn: p.txn, Pages: 1}, nil
}
func (p *memPager) ReadOverflow(r page.Ref, l uint64) ([]byte, error) {
	d, ok := p.ovf[r.ID]
	if !ok || uint64(len(d)) != l {
		return nil, fmt.Errorf("overflow %d missing", r.ID)
	}
	return d, nil
}
func (p *memPager) FreeOverflow(r page.Ref) error { delete(p.ovf, r.ID); return nil }
func (p *memPager) commit(t testing.TB) {
	for id, n := range p.dirty {
		if s := n.Size(); s > p.ps {
			t.Fatalf("node %d size %d > page %d", id, s, p.ps)
		}
		buf := make([]byte, p.ps)
		if err := n.Encode(buf, page.PlainCodec()); err != nil {
			t.Fatal(err)
		}
		p.pages[id] = buf
	}
	clear(p.dirty)
	p.txn++
}

func TestTreeModel(t *testing.T) {
	for _, ps := range []int{4096, 65536} {
		for seed := uint64(1); seed <= 8; seed++ {
			t.Run(fmt.Sprintf("ps%d/seed%d", ps, seed), func(t *testing.T) {
				r := rand.New(rand.NewPCG(seed, 99))
				p := newMemPager(ps)
				tr := &Tree{P: p}
				model := map[string]string{}
				keyspace := 50 + r.IntN(3000)
				for op := 0; op < 6000; op++ {
					k := fmt.Sprintf("k%06d", r.IntN(keyspace))
					if r.IntN(10) == 0 {
						k = string(bytes.Repeat([]byte{byte('a' + r.IntN(26))}, 1+r.IntN(MaxKeySize)))
					}
					switch x := r.IntN(10); {
					case x < 6:
						vl := r.IntN(64)
						if r.IntN(20) == 0 {
							vl = r.IntN(ps)
						}
						v := bytes.Repeat([]byte{byte(op)}, vl)
						if _, _, err := tr.Put([]byte(k), Value{Data: v, Version: uint64(op)}); err != nil {
							t.Fatal(err)
						}
						model[k] = string(v)
					case x < 9:
						_, ok, err := tr.Delete([]byte(k))
						if err != nil {
							t.Fatal(err)
						}
						if _, m := model[k]; m != ok {
							t.Fatalf("delete %q: tree %v model %v", k, ok, m)
						}
						delete(model, k)
					default:
						v, ok, err := tr.Get([]byte(k))
						if err != nil {
							t.Fatal(err)
						}
						mv, m := model[k]
						if ok != m || (ok && string(v.Data) != mv) {
							t.Fatalf("get %q mismatch", k)
						}
					}
					if r.IntN(50) == 0 {
						p.commit(t)
					}
				}
				p.commit(t)
				keys := make([]string, 0, len(model))
				for k := range model {
					keys = append(keys, k)
				}
				sort.Strings(keys)
				c := tr.Cursor()
				i := 0
				for ok := c.First(); ok; ok = c.Next() {
					if string(c.Key()) != keys[i] {
						t.Fatalf("cursor at %d: %q want %q", i, c.Key(), keys[i])
					}
					v, err := c.Value()
					if err != nil || string(v.Data) != model[keys[i]] {
						t.Fatalf("cursor value mismatch at %q: %v", keys[i], err)
					}
					i++
				}
				if c.Err() != nil || i != len(keys) {
					t.Fatalf("forward iteration %d of %d: %v", i, len(keys), c.Err())
				}
				for ok := c.Last(); ok; ok = c.Prev() {
					i--
					if string(c.Key()) != keys[i] {
						t.Fatalf("reverse at %d: %q want %q", i, c.Key(), keys[i])
					}
				}
				if i != 0 {
					t.Fatalf("reverse iteration stopped at %d", i)
				}
				// Seek to random probes.
				for j := 0; j < 200; j++ {
					probe := fmt.Sprintf("k%06d", r.IntN(keyspace))
					at := sort.SearchStrings(keys, probe)
					ok := c.Seek([]byte(probe))
					if ok != (at < len(keys)) || (ok && string(c.Key()) != keys[at]) {
						t.Fatalf("seek %q wrong", probe)
					}
				}
			})
		}
	}
}
