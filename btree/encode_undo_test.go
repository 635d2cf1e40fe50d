package btree

import (
	"bytes"
	"fmt"
	"maps"
	"math/rand/v2"
	"testing"

	"github.com/digby-db/digby/page"
)

// spPager is keepPager with savepoints as the store makes them: a node of
// this txn that changes while a savepoint is open records its changes
// (StartUndo), a node created or cloned in the savepoint is dropped on
// rollback, and the pages and kept nodes it freed come back.
type spPager struct {
	*keepPager
	sp *spState
}

type spState struct {
	undo  map[uint64]*Node
	root  page.Ref
	dirty map[uint64]*Node
	pages map[uint64][]byte
	kept  map[uint64]*Node
	ovf   map[uint64][]byte
}

func (p *spPager) Node(r page.Ref) (*Node, error) { return p.keepPager.Node(r) }

func (p *spPager) NewNode(leaf bool) (*Node, error) {
	n, err := p.keepPager.NewNode(leaf)
	if p.sp != nil {
		p.sp.undo[n.ID] = nil
	}
	return n, err
}

func (p *spPager) Writable(n *Node) (*Node, error) {
	if d, ok := p.dirty[n.ID]; ok && d == n {
		if p.sp != nil {
			if _, ok := p.sp.undo[n.ID]; !ok {
				n.StartUndo(nil)
				p.sp.undo[n.ID] = n
			}
		}
		return n, nil
	}
	c, err := p.keepPager.Writable(n)
	if p.sp != nil {
		p.sp.undo[c.ID] = nil
	}
	return c, err
}

func (p *spPager) savepoint(tr *Tree) {
	p.sp = &spState{
		undo:  map[uint64]*Node{},
		root:  tr.Root,
		dirty: maps.Clone(p.dirty),
		pages: maps.Clone(p.pages),
		kept:  maps.Clone(p.kept),
		ovf:   maps.Clone(p.ovf),
	}
}

func (p *spPager) rollback(tr *Tree) {
	sp := p.sp
	for _, n := range sp.undo {
		if n != nil {
			n.Undo()
		}
	}
	p.dirty, p.pages, p.kept, p.ovf = sp.dirty, sp.pages, sp.kept, sp.ovf
	tr.Root = sp.root
	p.sp = nil
}

func (p *spPager) release() {
	for _, n := range p.sp.undo {
		if n != nil {
			n.StopUndo()
		}
	}
	p.sp = nil
}

// TestEncodeRunsSavepoints is TestEncodeRuns with savepoints rolled
// back or released between the operations (undo logs: undoRemove,
// undoInsert, undoSetEnt, undoRestore of splits and compactions), keys of
// every length (empty ones too), and a model checked after every commit:
// every page Encode writes must equal the field-by-field encoding.
func TestEncodeRunsSavepoints(t *testing.T) {
	for _, ps := range []int{4096, 16384} {
		for seed := uint64(1); seed <= 8; seed++ {
			t.Run(fmt.Sprintf("ps%d/seed%d", ps, seed), func(t *testing.T) {
				r := rand.New(rand.NewPCG(seed, 1234))
				kp := newKeepPager(ps, r)
				p := &spPager{keepPager: kp}
				tr := &Tree{P: p}
				model := map[string]Value{}
				var spModel map[string]Value
				keyspace := 100 + r.IntN(3000)
				key := func() []byte {
					switch r.IntN(40) {
					case 0:
						return nil
					case 1:
						return bytes.Repeat([]byte{byte('a' + r.IntN(3))}, 1+r.IntN(MaxKeySize))
					}
					return fmt.Appendf(nil, "key:%0*d", 1+r.IntN(10), r.IntN(keyspace))
				}
				for op := 0; op < 8000; op++ {
					if p.sp == nil && r.IntN(10) == 0 {
						p.savepoint(tr)
						spModel = maps.Clone(model)
					} else if p.sp != nil && r.IntN(8) == 0 {
						if r.IntN(2) == 0 {
							p.rollback(tr)
							model = spModel
						} else {
							p.release()
						}
					}
					k := key()
					switch x := r.IntN(20); {
					case x < 12:
						v := randomValue(r, op, ps)
						if _, _, err := tr.Put(k, v); err != nil {
							t.Fatal(err)
						}
						model[string(k)] = v
					case x < 15:
						at := randomExpiry(r, 2)
						typ := uint8(r.IntN(3))
						ok, err := tr.Update(k, func(v *Value) { v.ExpireAt, v.Type = at, typ })
						if err != nil {
							t.Fatal(err)
						}
						if mv, m := model[string(k)]; m {
							mv.ExpireAt, mv.Type = at, typ
							model[string(k)] = mv
						} else if ok {
							t.Fatalf("update of %q found a key the model lacks", k)
						}
					default:
						if _, _, err := tr.Delete(k); err != nil {
							t.Fatal(err)
						}
						delete(model, string(k))
					}
					if p.sp == nil && r.IntN(50) == 0 {
						kp.commit(t)
						checkModel(t, tr, model)
					}
				}
				if p.sp != nil {
					p.release()
				}
				kp.commit(t)
				checkModel(t, tr, model)
			})
		}
	}
}

func checkModel(t *testing.T, tr *Tree, model map[string]Value) {
	t.Helper()
	for k, mv := range model {
		v, ok, err := tr.Get([]byte(k))
		if err != nil || !ok {
			t.Fatalf("get %q: %v %v", k, ok, err)
		}
		if v.Type != mv.Type || v.ExpireAt != mv.ExpireAt || v.Version != mv.Version || !bytes.Equal(v.Data, mv.Data) {
			t.Fatalf("get %q: %+v want %+v", k, v, mv)
		}
	}
	c, n := tr.Cursor(), 0
	for ok := c.First(); ok; ok = c.Next() {
		n++
	}
	if c.Err() != nil || n != len(model) {
		t.Fatalf("tree holds %d keys, model %d: %v", n, len(model), c.Err())
	}
}
