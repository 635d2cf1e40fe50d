package store

import (
	"fmt"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/digby-db/digby/btree"
)

// TestRememberedChildrenHeld: readers remember children in branches
// (btree/swizzle.go) while the writer commits, flushes replace unflushed
// nodes with cached copies, and a small cache evicts: afterwards no
// branch the store hands out remembers a node that neither the cache nor
// the unflushed set holds, so remembered pointers keep nothing in memory
// past the store's bounds. Every read is checked against the writes.
func TestRememberedChildrenHeld(t *testing.T) {
	db, err := Open(t.TempDir(), &Options{Durability: No, CacheSize: 128 << 10, NoWarmCache: true})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	const n = 20_000
	key := func(i int) []byte { return []byte(fmt.Sprintf("key-%06d", i)) }
	var gen [n]atomic.Int64 // the newest value written under each key, as a number
	updateRange(t, db, 0, n, 1, 1000, func(tx *Tx, i int) error { return putString(tx, 0, key(i), []byte("0")) })

	stop := make(chan struct{})
	var wg sync.WaitGroup
	var readErr atomic.Pointer[error]
	for g := 0; g < 2; g++ {
		wg.Add(1)
		go func(seed uint64) {
			defer wg.Done()
			r := rand.New(rand.NewPCG(seed, 1))
			for {
				select {
				case <-stop:
					return
				default:
				}
				var idx, low [100]int64
				for j := range idx {
					idx[j] = int64(r.IntN(n))
					low[j] = gen[idx[j]].Load() // committed before the snapshot begins
				}
				err := db.View(func(tx *Tx) error {
					for j, i := range idx {
						tu, ok, err := tx.Table(0).Get(key(int(i)))
						if err != nil {
							return err
						}
						var v int64
						if _, err := fmt.Sscan(string(tu.Value), &v); !ok || err != nil || v < low[j] {
							return fmt.Errorf("key %d: found %v, %q, want at least %d", i, ok, tu.Value, low[j])
						}
					}
					return nil
				})
				if err != nil {
					readErr.Store(&err)
					return
				}
			}
		}(uint64(g))
	}
	r := rand.New(rand.NewPCG(9, 9))
	for round := 1; round <= 60; round++ {
		idx := make([]int, 200)
		for k := range idx {
			idx[k] = r.IntN(n)
		}
		err := db.Update(func(tx *Tx) error {
			for _, i := range idx {
				if err := putString(tx, 0, key(i), []byte(fmt.Sprint(round))); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		for _, i := range idx {
			gen[i].Store(int64(round))
		}
		if round%7 == 0 {
			if err := db.Flush(); err != nil {
				t.Fatal(err)
			}
		}
	}
	close(stop)
	wg.Wait()
	if p := readErr.Load(); p != nil {
		t.Fatal(*p)
	}
	if st := db.Stats(); st.CacheHits+st.CacheMisses == 0 {
		t.Fatal("the readers never used the cache")
	}

	// Deterministic checks on branch objects the test keeps: readers
	// remember every child, then the holders let go (a flush moves the
	// unflushed nodes to the cache, the cache is emptied): no kept branch
	// may remember a child no holder holds.
	for _, step := range []string{"flush", "evict"} {
		if step == "flush" { // leave some of the tree unflushed
			updateRange(t, db, 0, n, 97, 1000, func(tx *Tx, i int) error { return putString(tx, 0, key(i), []byte("99")) })
			for i := 0; i < n; i += 97 {
				gen[i].Store(99)
			}
		}
		db.cache.SetLimit(64 << 20) // room for every node while remembering
		kept := keptBranches(t, db)
		readAll(t, db, n, key)
		remembered := 0
		for _, b := range kept {
			k, bad := b.Remembered()
			if bad > 0 {
				t.Fatalf("before %s: branch page %d remembers %d children no holder holds", step, b.ID, bad)
			}
			remembered += k
		}
		if remembered < len(kept) {
			t.Fatalf("before %s: %d branches remember %d children", step, len(kept), remembered)
		}
		switch step {
		case "flush":
			if err := db.Flush(); err != nil {
				t.Fatal(err)
			}
		case "evict":
			db.cache.SetLimit(0)
		}
		for _, b := range kept {
			if _, bad := b.Remembered(); bad > 0 {
				t.Fatalf("after %s: branch page %d remembers %d children no holder holds", step, b.ID, bad)
			}
		}
	}
}

// keptBranches returns the branch nodes of table 0 as the store hands
// them to readers now.
func keptBranches(t *testing.T, db *DB) []*btree.Node {
	t.Helper()
	var out []*btree.Node
	err := db.View(func(tx *Tx) error {
		s, err := tx.Table(0).state()
		if err != nil {
			return err
		}
		p := readPager{db}
		root, err := p.Node(s.root)
		if err != nil {
			return err
		}
		stack := []*btree.Node{root}
		for len(stack) > 0 {
			nd := stack[len(stack)-1]
			stack = stack[:len(stack)-1]
			if nd.Leaf {
				continue
			}
			out = append(out, nd)
			for i := 0; i < nd.Len(); i++ {
				c, err := p.Node(nd.Kid(i))
				if err != nil {
					return err
				}
				stack = append(stack, c)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(out) < 2 {
		t.Fatalf("%d branches: the tree is too small for the test", len(out))
	}
	return out
}

// readAll gets every key in one read snapshot (each descent remembers).
func readAll(t *testing.T, db *DB, n int, key func(int) []byte) {
	t.Helper()
	err := db.View(func(tx *Tx) error {
		for i := 0; i < n; i++ {
			if _, ok, err := tx.Table(0).Get(key(i)); !ok || err != nil {
				return fmt.Errorf("key %d: %v %v", i, ok, err)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}
