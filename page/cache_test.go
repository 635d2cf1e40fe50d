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
