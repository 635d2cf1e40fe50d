package btree

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math/rand"
	"testing"

	"github.com/digby-db/digby/page"
)

// hashedKey is a key shaped as the server stores them: an 8-byte hash
// first (so bound interpolates), then the name.
func hashedKey(r *rand.Rand, i int) []byte {
	k := make([]byte, 8, 16)
	binary.BigEndian.PutUint64(k, r.Uint64())
	return binary.BigEndian.AppendUint64(k, uint64(i))
}

// TestTouchCounts checks Touch's count of present keys against a model,
// over trees of hashed and of sequential keys, committed and with
// unflushed nodes, through remembered children and without, and that it
// leaves every lookup's answer as it was.
func TestTouchCounts(t *testing.T) {
	for seed := int64(1); seed <= 6; seed++ {
		r := rand.New(rand.NewSource(seed))
		mp := newMemPager(4096)
		w := &Tree{P: mp}
		model := map[string][]byte{}
		var present [][]byte
		n := 500 + r.Intn(4000)
		for i := 0; i < n; i++ {
			k := hashedKey(r, i)
			if seed%2 == 0 {
				k = binary.BigEndian.AppendUint64(nil, uint64(i)*3)
			}
			v := []byte{byte(i), byte(i >> 8)}
			if _, _, err := w.Put(k, Value{Data: v}); err != nil {
				t.Fatal(err)
			}
			model[string(k)], present = v, append(present, k)
			if i == n/2 && seed%3 != 0 {
				mp.commit(t) // the rest stays in dirty nodes
			}
		}
		var s TouchScratch
		for _, pub := range []bool{false, true} {
			tr := &Tree{P: mp, Root: w.Root, Published: pub}
			for round := 0; round < 50; round++ {
				var keys [][]byte
				want := 0
				for range 1 + r.Intn(40) {
					if r.Intn(3) == 0 {
						keys = append(keys, hashedKey(r, -1)) // absent
						continue
					}
					keys = append(keys, present[r.Intn(len(present))])
					want++
				}
				if got := tr.Touch(keys, &s); got != want {
					t.Fatalf("seed %d published %v: Touch counted %d of %d present keys", seed, pub, got, want)
				}
				hits := s.Hits()
				if len(hits) != len(keys) {
					t.Fatalf("seed %d: %d hits for %d keys", seed, len(hits), len(keys))
				}
				for i, k := range keys {
					v, ok, err := tr.Get(k)
					if err != nil || ok != (model[string(k)] != nil) || string(v.Data) != string(model[string(k)]) {
						t.Fatalf("seed %d: after Touch, Get(%x) = %q %v %v, want %q", seed, k, v.Data, ok, err, model[string(k)])
					}
					h := hits[i]
					if h.Failed || (h.N != nil) != ok || (ok && string(h.N.Val(h.I).Data) != string(v.Data)) {
						t.Fatalf("seed %d: Touch's hit for %x: %+v, lookup %q %v", seed, k, h, v.Data, ok)
					}
				}
				s.Forget()
				if len(s.Hits()) != 0 {
					t.Fatal("Forget kept hits")
				}
			}
		}
		for _, w := range s.walks {
			if w.n != nil {
				t.Fatal("Touch kept a node in its scratch")
			}
		}
	}
}

// failPager fails reading the pages in bad.
type failPager struct {
	*memPager
	bad map[uint64]bool
}

func (p failPager) Node(r page.Ref) (*Node, error) {
	if p.bad[r.ID] {
		return nil, errors.New("injected read error")
	}
	return p.memPager.Node(r)
}

// TestTouchReadErrors: keys under a page that cannot be read are not
// counted, the others are, and Touch neither panics nor reports.
func TestTouchReadErrors(t *testing.T) {
	mp, w := committedTree(t, 3000)
	root, err := mp.Node(w.Root)
	if err != nil || root.Leaf {
		t.Fatalf("want a branch root: %v", err)
	}
	bad := root.Kid(1).ID
	fp := failPager{mp, map[uint64]bool{bad: true}}
	tr := &Tree{P: fp, Root: w.Root}
	var keys [][]byte
	want := 0
	for i := 0; i < 3000; i += 7 {
		k := []byte(fmt.Sprintf("key-%05d", i))
		keys = append(keys, k)
		if c := root.child(k); c != 1 {
			want++
		}
	}
	var s TouchScratch
	if got := tr.Touch(keys, &s); got != want || want == len(keys) {
		t.Fatalf("Touch counted %d, want %d of %d", got, want, len(keys))
	}
	for i, h := range s.Hits() {
		if failed := root.child(keys[i]) == 1; h.Failed != failed || (h.N == nil) != failed {
			t.Fatalf("key %s: hit %+v, under the unreadable page: %v", keys[i], h, failed)
		}
	}
	fp.bad[w.Root.ID] = true
	if got := tr.Touch(keys, &s); got != 0 || len(s.Hits()) != 0 {
		t.Fatalf("with the root unreadable, Touch counted %d, %d hits", got, len(s.Hits()))
	}
	if got := (&Tree{P: mp}).Touch(keys, &s); got != 0 {
		t.Fatalf("an empty tree: Touch counted %d", got)
	}
}
