package page

import (
	"container/list"
	"sync"
	"sync/atomic"
)

// Cache holds decoded, verified pages keyed by page id, bounded in bytes,
// evicting the least recently used. Committed pages are immutable, so an
// entry is invalidated only when its page id is handed out again (Remove).
// It is safe for concurrent use.
type Cache struct {
	mu     sync.Mutex
	limit  int64
	bytes  int64
	ll     *list.List
	items  map[uint64]*list.Element
	hits   atomic.Uint64
	misses atomic.Uint64
}

type cacheEntry struct {
	id   uint64
	val  any
	size int64
}

// NewCache makes a cache holding at most limit bytes of entries.
func NewCache(limit int64) *Cache {
	return &Cache{limit: limit, ll: list.New(), items: make(map[uint64]*list.Element)}
}

// Get returns the entry for id and counts a hit or a miss.
func (c *Cache) Get(id uint64) (any, bool) {
	c.mu.Lock()
	e, ok := c.items[id]
	if ok {
		c.ll.MoveToFront(e)
		v := e.Value.(*cacheEntry).val
		c.mu.Unlock()
		c.hits.Add(1)
		return v, true
	}
	c.mu.Unlock()
	c.misses.Add(1)
	return nil, false
}

// Put stores val for id, charged size bytes, evicting as needed.
func (c *Cache) Put(id uint64, val any, size int64) {
	if size > c.limit {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if e, ok := c.items[id]; ok {
		ent := e.Value.(*cacheEntry)
		c.bytes += size - ent.size
		ent.val, ent.size = val, size
		c.ll.MoveToFront(e)
	} else {
		c.items[id] = c.ll.PushFront(&cacheEntry{id: id, val: val, size: size})
		c.bytes += size
	}
	for c.bytes > c.limit {
		e := c.ll.Back()
		ent := e.Value.(*cacheEntry)
		c.ll.Remove(e)
		delete(c.items, ent.id)
		c.bytes -= ent.size
	}
}

// Remove drops id (its page id is being reused).
func (c *Cache) Remove(id uint64) {
	c.mu.Lock()
	if e, ok := c.items[id]; ok {
		c.ll.Remove(e)
		delete(c.items, id)
		c.bytes -= e.Value.(*cacheEntry).size
	}
	c.mu.Unlock()
}

// CacheStats are the cache's counters.
type CacheStats struct {
	Limit, Bytes int64
	Hits, Misses uint64
	Entries      int
}

// Stats returns the current counters.
func (c *Cache) Stats() CacheStats {
	c.mu.Lock()
	defer c.mu.Unlock()
	return CacheStats{Limit: c.limit, Bytes: c.bytes, Hits: c.hits.Load(), Misses: c.misses.Load(), Entries: len(c.items)}
}

// ResetStats zeroes the hit and miss counters.
func (c *Cache) ResetStats() { c.hits.Store(0); c.misses.Store(0) }
