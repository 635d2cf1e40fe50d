package btree

import (
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/digby-db/digby/page"
)

// ccPager is a memPager that counts its changes (ChangeCounter) and the
// nodes it is asked for.
type ccPager struct {
	*memPager
	changes, nodes uint64
}

func (p *ccPager) Changes() uint64 { return p.changes }
func (p *ccPager) Node(r page.Ref) (*Node, error) {
	p.nodes++
	return p.memPager.Node(r)
}
func (p *ccPager) Writable(n *Node) (*Node, error) {
	p.changes++
	return p.memPager.Writable(n)
}
func (p *ccPager) NewNode(leaf bool) (*Node, error) {
	p.changes++
	return p.memPager.NewNode(leaf)
}
func (p *ccPager) FreeNode(n *Node) {
	p.changes++
	p.memPager.FreeNode(n)
}

// TestFingerSavesDescent: a put (or delete) right after a look-up of its
// key asks the pager for no node (it starts from the kept path), present
// key or not;
// a put of another key, or of the key after another change, descends.
func TestFingerSavesDescent(t *testing.T) {
	p := &ccPager{memPager: newMemPager(4096)}
	tr := &Tree{P: p, Finger: &Finger{}}
	for i := range 5000 {
		if _, _, err := tr.Put(fmt.Appendf(nil, "key-%05d", i), Value{Data: []byte("v")}); err != nil {
			t.Fatal(err)
		}
	}
	p.commit(t)
	for _, k := range []string{"key-01234", "key-01234x"} { // present, absent
		if _, _, err := tr.GetRaw([]byte(k)); err != nil {
			t.Fatal(err)
		}
		before := p.nodes
		if _, _, err := tr.Put([]byte(k), Value{Data: []byte("w")}); err != nil {
			t.Fatal(err)
		}
		if got := p.nodes - before; got != 0 {
			t.Errorf("put of %s after its look-up read %d nodes, want 0", k, got)
		}
	}
	// A delete after the look-up of its key: from the kept path too.
	tr.GetRaw([]byte("key-00777"))
	before0 := p.nodes
	if _, ok, err := tr.Delete([]byte("key-00777")); err != nil || !ok {
		t.Fatalf("delete: %v %v", ok, err)
	}
	if got := p.nodes - before0; got != 1 { // the root, by collapseRoot
		t.Errorf("delete after its key's look-up read %d nodes, want 1", got)
	}
	// Another key's put: descends.
	tr.GetRaw([]byte("key-00001"))
	before := p.nodes
	tr.Put([]byte("key-00002"), Value{Data: []byte("w")})
	if p.nodes == before {
		t.Error("put of another key than the look-up's read no node")
	}
	// The same key's put in another tree sharing the finger (another
	// table of the transaction): lands in that tree.
	other := &Tree{P: p, Finger: tr.Finger}
	for i := range 3000 {
		other.Put(fmt.Appendf(nil, "key-%05d", i), Value{Data: []byte("o")})
	}
	tr.GetRaw([]byte("key-00005"))
	other.Put([]byte("key-00005"), Value{Data: []byte("x")})
	if v, _, _ := other.GetRaw([]byte("key-00005")); string(v.Data) != "x" {
		t.Errorf("other tree's key-00005 = %q, want x", v.Data)
	}
	if v, _, _ := tr.GetRaw([]byte("key-00005")); string(v.Data) != "v" {
		t.Errorf("first tree's key-00005 = %q, want v", v.Data)
	}
	// A change between look-up and put: descends.
	tr.GetRaw([]byte("key-00003"))
	tr.Put([]byte("key-04000"), Value{Data: []byte("w")})
	before = p.nodes
	tr.Put([]byte("key-00003"), Value{Data: []byte("w")})
	if p.nodes == before {
		t.Error("put after another change read no node")
	}
}

// TestFingerModel: random look-ups, puts (often of the key just looked
// up, with values that split and shrink leaves), deletes and commits,
// against a map, with the finger on: a kept path is only used while
// valid.
func TestFingerModel(t *testing.T) {
	for seed := range uint64(10) {
		t.Run(fmt.Sprint(seed), func(t *testing.T) {
			r := rand.New(rand.NewPCG(seed, 5))
			p := &ccPager{memPager: newMemPager(4096)}
			tr := &Tree{P: p, Finger: &Finger{}}
			model := map[string]string{}
			space := 50 + r.IntN(4000)
			last := ""
			for op := range 20000 {
				k := fmt.Sprintf("k%06d", r.IntN(space))
				if last != "" && r.IntN(2) == 0 {
					k = last // the key just looked up
				}
				switch x := r.IntN(10); {
				case x < 4:
					v, ok, err := tr.GetRaw([]byte(k))
					if err != nil {
						t.Fatal(err)
					}
					if want, in := model[k]; ok != in || (ok && string(v.Data) != want) {
						t.Fatalf("op %d: get %s = %q %v, want %q %v", op, k, v.Data, ok, want, in)
					}
					last = k
				case x < 8:
					v := fmt.Sprint(op) + string(make([]byte, r.IntN(200)))
					if _, _, err := tr.Put([]byte(k), Value{Data: []byte(v)}); err != nil {
						t.Fatal(err)
					}
					model[k] = v
				case x < 9:
					if _, _, err := tr.Delete([]byte(k)); err != nil {
						t.Fatal(err)
					}
					delete(model, k)
				default:
					p.commit(t)
				}
			}
			p.commit(t)
			n := 0
			c := tr.Cursor()
			for ok := c.First(); ok; ok = c.Next() {
				k := string(c.Key())
				v, err := c.Value()
				if err != nil {
					t.Fatal(err)
				}
				if want, in := model[k]; !in || string(v.Data) != want {
					t.Fatalf("key %s: %q, want %q (%v)", k, v.Data, want, in)
				}
				n++
			}
			if err := c.Err(); err != nil {
				t.Fatal(err)
			}
			if n != len(model) {
				t.Fatalf("%d keys, want %d", n, len(model))
			}
		})
	}
}
