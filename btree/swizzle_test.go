package btree

import (
	"fmt"
	"runtime"
	"testing"
	"time"

	"github.com/digby-db/digby/page"
)

// countPager is memPager for reading, keeping every node it decoded (as a
// cache would, telling it page.Held) and counting the calls.
type countPager struct {
	*memPager
	calls int
	nodes map[page.Ref]*Node
}

func (p *countPager) Node(r page.Ref) (*Node, error) {
	p.calls++
	if n, ok := p.nodes[r]; ok {
		return n, nil
	}
	n, err := p.memPager.Node(r)
	if err == nil {
		p.nodes[r] = n
		n.Held(true)
	}
	return n, err
}

// TestPublishedRemembersChildren: descents of a Published tree ask the
// pager only for the root once they have passed a path before, and give
// the answers an unmarked tree gives; a snapshot taken before the writer
// changed the tree keeps answering as of then, the new one as of now.
func TestPublishedRemembersChildren(t *testing.T) {
	const n = 5000
	mp, w := committedTree(t, n)
	cp := &countPager{memPager: mp, nodes: map[page.Ref]*Node{}}
	old := &Tree{P: cp, Root: w.Root, Published: true}
	get := func(tr *Tree, i int) string {
		t.Helper()
		v, ok, err := tr.Get([]byte(fmt.Sprintf("key-%05d", i)))
		if err != nil {
			t.Fatal(err)
		}
		if !ok {
			return "-"
		}
		return string(v.Data)
	}
	for i := 0; i < n; i++ {
		if got := get(old, i); got != fmt.Sprint(i) {
			t.Fatalf("key %d = %q", i, got)
		}
	}
	if cp.calls <= n {
		t.Fatalf("first pass: %d pager calls for %d gets of a multi-level tree", cp.calls, n)
	}
	cp.calls = 0
	for i := 0; i < n; i++ {
		if got := get(old, i); got != fmt.Sprint(i) {
			t.Fatalf("second pass: key %d = %q", i, got)
		}
	}
	if cp.calls != n {
		t.Fatalf("second pass: %d pager calls for %d gets, want one (the root) each", cp.calls, n)
	}

	// A cursor pass after a first one asks only for the root.
	for pass := 0; pass < 2; pass++ {
		cp.calls = 0
		c, i := old.Cursor(), 0
		for ok := c.First(); ok; ok = c.Next() {
			if string(c.Key()) != fmt.Sprintf("key-%05d", i) {
				t.Fatalf("cursor pass %d: key %d is %q", pass, i, c.Key())
			}
			i++
		}
		if c.Err() != nil || i != n {
			t.Fatalf("cursor pass %d: %d keys, %v", pass, i, c.Err())
		}
	}
	if cp.calls != 1 {
		t.Fatalf("second cursor pass: %d pager calls, want 1 (the root)", cp.calls)
	}

	// The writer changes the tree; the old snapshot's nodes stay (cp
	// holds them) and its remembered children with them.
	for i := 0; i < n; i += 3 {
		if _, _, err := w.Delete([]byte(fmt.Sprintf("key-%05d", i))); err != nil {
			t.Fatal(err)
		}
	}
	for i := 1; i < n; i += 3 {
		if _, _, err := w.Put([]byte(fmt.Sprintf("key-%05d", i)), Value{Data: []byte("new")}); err != nil {
			t.Fatal(err)
		}
	}
	mp.commit(t)
	cur := &Tree{P: cp, Root: w.Root, Published: true}
	for round := 0; round < 2; round++ {
		for i := 0; i < n; i++ {
			want := fmt.Sprint(i)
			if got := get(old, i); got != want {
				t.Fatalf("old snapshot: key %d = %q, want %q", i, got, want)
			}
			switch i % 3 {
			case 0:
				want = "-"
			case 1:
				want = "new"
			}
			if got := get(cur, i); got != want {
				t.Fatalf("new snapshot: key %d = %q, want %q", i, got, want)
			}
		}
	}
}

// TestRememberedChildChecked: a remembered node that is not the entry's
// child (another page id or txn) is not used; a node no holder holds is
// not remembered, and one its last holder lets go of is forgotten by
// every branch that remembered it, and then freed by the collector.
func TestRememberedChildChecked(t *testing.T) {
	b := &Node{ID: 10, Txn: 5, kids: []page.Ref{{ID: 11, Txn: 5, Pages: 1}, {ID: 12, Txn: 4, Pages: 1}}, ents: make([]ent, 2)}
	right := &Node{ID: 11, Txn: 5, Leaf: true}
	right.Held(true)
	b.rememberKid(0, right)
	other := &Node{ID: 12, Txn: 5, Leaf: true} // txn differs
	other.Held(true)
	b.rememberKid(1, other)
	if b.kidNode(0) != right {
		t.Fatal("remembered child not returned")
	}
	if b.kidNode(1) != nil {
		t.Fatal("child of another txn used")
	}

	b.rememberKid(1, &Node{ID: 12, Txn: 4, Leaf: true}) // not held by the cache
	if b.kidNode(1) != nil {
		t.Fatal("a child the cache does not hold was remembered")
	}

	// Two branches (two versions of one) remember a child; the cache lets
	// go of it: both forget it, and nothing keeps it alive.
	b2 := &Node{ID: 13, Txn: 6, kids: b.kids, ents: b.ents}
	kid := &Node{ID: 12, Txn: 4, Leaf: true}
	freed := make(chan struct{})
	runtime.AddCleanup(kid, func(ch chan struct{}) { close(ch) }, freed)
	kid.Held(true)
	b.rememberKid(1, kid)
	b2.rememberKid(1, kid)
	if b.kidNode(1) != kid || b2.kidNode(1) != kid {
		t.Fatal("held child not remembered")
	}
	kid.Held(true) // a second holder (the store's unflushed set, say)
	kid.Held(false)
	if b.kidNode(1) != kid || b2.kidNode(1) != kid {
		t.Fatal("a child still held by one holder was forgotten")
	}
	kid.Held(false)
	if b.kidNode(1) != nil || b2.kidNode(1) != nil {
		t.Fatal("a child its last holder let go of is still remembered")
	}
	b.rememberKid(1, kid)
	if b.kidNode(1) != nil {
		t.Fatal("a child the cache let go of was remembered again")
	}
	kid = nil
	for i := 0; i < 20; i++ {
		runtime.GC()
		select {
		case <-freed:
			runtime.KeepAlive(right)
			runtime.KeepAlive(b2)
			return
		case <-time.After(10 * time.Millisecond):
		}
	}
	t.Fatal("a child the cache let go of was kept alive by the branches that remembered it")
}

// TestRememberedBacksPruned: a node the cache keeps while the writer
// copies its parent again and again is remembered by each copy; the
// entries of copies that are gone are dropped, so its list stays short.
func TestRememberedBacksPruned(t *testing.T) {
	kid := &Node{ID: 12, Txn: 4, Leaf: true}
	kid.Held(true)
	for v := 0; v < 1000; v++ {
		b := &Node{ID: 10, Txn: uint64(5 + v), kids: []page.Ref{{ID: 12, Txn: 4, Pages: 1}}, ents: make([]ent, 1)}
		b.rememberKid(0, kid)
		if v%100 == 99 {
			runtime.GC()
		}
	}
	kid.hmu.Lock()
	n := len(kid.backs)
	kid.hmu.Unlock()
	if n > 200 {
		t.Fatalf("%d branch entries listed for one node after 1000 copies of its branch", n)
	}
}

// TestBacksPruneAmortized: when no entry can be dropped (the branch copies
// are garbage the collector has not freed yet), prunes happen only as the
// list doubles, so N remembers scan O(N) entries in all, not O(N^2).
func TestBacksPruneAmortized(t *testing.T) {
	const n = 30000
	live, scanned, prunes := 0, 0, 0
	for length := 0; length < n; length++ {
		if shouldPrune(length, live) {
			prunes++
			scanned += length
			live = length // nothing dropped
		}
	}
	if scanned > 4*n || prunes > 16 {
		t.Fatalf("%d remembers: %d prunes scanning %d entries", n, prunes, scanned)
	}
	// And a list whose entries do go is pruned back to what is live.
	if !shouldPrune(backsPrune, 0) || shouldPrune(backsPrune-1, 0) {
		t.Fatalf("an unpruned list of %d is not pruned, or one of %d is", backsPrune, backsPrune-1)
	}
}
