package page

import (
	"fmt"
	"sync"
	"testing"
)

// TestCacheBound: the cache never holds more than its bound, keeps what is
// used, and forgets removed ids.
func TestCacheBound(t *testing.T) {
	c := NewCache(16 * 100)
	for i := uint64(0); i < 1000; i++ {
		c.Put(i, i, 10)
		if st := c.Stats(); st.Bytes > 1600 {
			t.Fatalf("after %d puts the cache holds %d bytes", i+1, st.Bytes)
		}
	}
	// A hot entry survives a sweep of cold ones in its shard.
	c.Put(5000, "hot", 10)
	for i := uint64(10000); i < 10400; i++ {
		c.Get(5000)
		c.Put(i, i, 10)
	}
	if v, ok := c.Get(5000); !ok || v != "hot" {
		t.Fatalf("hot entry evicted")
	}
	c.RemoveAll([]uint64{5000})
	if _, ok := c.Get(5000); ok {
		t.Fatal("removed entry still cached")
	}
	// Every cached entry maps to its own value.
	for i := uint64(10000); i < 10400; i++ {
		if v, ok := c.Get(i); ok && v != any(i) {
			t.Fatalf("id %d holds %v", i, v)
		}
	}
}

func TestCacheConcurrent(t *testing.T) {
	c := NewCache(1 << 16)
	var wg sync.WaitGroup
	for g := 0; g < 4; g++ {
		wg.Add(1)
		go func(g int) {
			defer wg.Done()
			for i := 0; i < 20000; i++ {
				id := uint64((i * 7919 * (g + 1)) % 5000)
				if v, ok := c.Get(id); ok && v != fmt.Sprint(id) {
					t.Errorf("id %d holds %v", id, v)
					return
				}
				c.Put(id, fmt.Sprint(id), 64)
				if v, ok := c.Peek(id); ok && v != fmt.Sprint(id) {
					t.Errorf("peek %d: %v", id, v)
					return
				}
				if i%97 == 0 {
					c.RemoveAll([]uint64{id})
				}
				if g == 0 && i%1000 == 0 { // bounds change under the others
					c.SetLimit(int64(1+i%3) << 15)
				}
			}
		}(g)
	}
	wg.Wait()
	c.SetLimit(1 << 16)
	if st := c.Stats(); st.Bytes > 1<<16 {
		t.Fatalf("cache holds %d bytes over its bound", st.Bytes)
	}
	c.SetLimit(1 << 12) // a smaller bound evicts at once
	if st := c.Stats(); st.Bytes > 1<<12 || st.Limit != 1<<12 {
		t.Fatalf("after SetLimit(4096): %d bytes, limit %d", st.Bytes, st.Limit)
	}
}

// TestCacheRemoveAll drops exactly the ids asked for, across shards, and
// keeps the byte count right.
func TestCacheRemoveAll(t *testing.T) {
	c := NewCache(1 << 20)
	for i := uint64(0); i < 200; i++ {
		c.Put(i, i, 10)
	}
	var gone []uint64
	for i := uint64(0); i < 200; i += 3 {
		gone = append(gone, i)
	}
	gone = append(gone, 999, 3) // absent and repeated ids are harmless
	c.RemoveAll(gone)
	c.RemoveAll(nil)
	for i := uint64(0); i < 200; i++ {
		_, ok := c.Get(i)
		if want := i%3 != 0; ok != want {
			t.Fatalf("id %d cached: %v, want %v", i, ok, want)
		}
	}
	if st := c.Stats(); st.Entries != 133 || st.Bytes != 1330 {
		t.Fatalf("%d entries, %d bytes after RemoveAll; want 133, 1330", st.Entries, st.Bytes)
	}
}

// usedVal is a cached value used without Get while used is set.
type usedVal struct{ used bool }

func (v *usedVal) TakeRef() bool { u := v.used; v.used = false; return u }

// TestCacheReferenced: eviction counts a value's own use (Referenced) as
// a hit: of entries never got again, the one its user marked used stays
// while the others make room.
func TestCacheReferenced(t *testing.T) {
	c := NewCache(cacheShards * 1000) // 10 entries of 100 bytes a shard
	hot := &usedVal{}
	var ids []uint64
	for id := uint64(0); len(ids) < 10; id++ {
		if c.shard(id) == c.shard(0) {
			ids = append(ids, id)
		}
	}
	c.Put(ids[0], hot, 100)
	for _, id := range ids[1:] {
		c.Put(id, &usedVal{}, 100)
	}
	// Let the hand take every reference bit Put set, then add more than
	// the shard holds, marking the hot value used before each.
	for k := uint64(1); k <= 30; k++ {
		hot.used = true
		id := ids[9] + k*cacheShards*64
		for c.shard(id) != c.shard(0) {
			id++
		}
		c.Put(id, &usedVal{}, 100)
	}
	if _, ok := c.Peek(ids[0]); !ok {
		t.Fatal("a value marked used was evicted")
	}
	if _, ok := c.Peek(ids[1]); ok {
		t.Fatal("an unused value survived 30 insertions into a shard of 10")
	}
}

// heldVal records what the cache tells it (Held).
type heldVal struct {
	id   uint64
	held bool
	told int
}

func (v *heldVal) Held(in bool) { v.held = in; v.told++ }

// TestCacheHeld: a Held value learns when the cache takes it and when it
// lets go of it, by eviction, RemoveAll, SetLimit or a Put replacing it,
// and is never told it is held while it is not.
func TestCacheHeld(t *testing.T) {
	c := NewCache(16 * 100)
	vals := map[uint64]*heldVal{}
	inCache := func(v *heldVal) bool {
		got, ok := c.Peek(v.id)
		return ok && got == any(v)
	}
	check := func(when string) {
		t.Helper()
		for _, v := range vals {
			if v.held != inCache(v) {
				t.Fatalf("%s: value %d told held=%v, in the cache %v", when, v.id, v.held, inCache(v))
			}
		}
	}
	for i := uint64(0); i < 500; i++ {
		v := &heldVal{id: i}
		vals[i] = v
		c.Put(i, v, 10)
	}
	check("after evicting puts")
	old := vals[499]
	nv := &heldVal{id: 499}
	c.Put(499, nv, 10)
	if old.held || !nv.held {
		t.Fatalf("replaced: old held=%v, new held=%v", old.held, nv.held)
	}
	vals[499] = nv
	c.RemoveAll([]uint64{498, 497})
	check("after RemoveAll")
	c.SetLimit(16 * 20)
	check("after SetLimit")
	c.Put(7000, &heldVal{id: 7000}, 1<<20) // larger than a shard: not taken
	if v, ok := c.Peek(7000); ok {
		t.Fatalf("oversized value cached: %v", v)
	}
}
