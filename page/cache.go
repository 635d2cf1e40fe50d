package page

import (
	"container/list"
	"sync"
	"sync/atomic"
)

// cacheShards spreads the cache over independent locks so that concurrent
// readers rarely contend.
const cacheShards = 16

// Cache holds decoded, verified pages keyed by page id, bounded in bytes,
// evicting the least recently used within each of its shards (each shard
// holds at most 1/16 of the bound). Committed pages are immutable, so an
// entry is invalidated only when its page id is handed out again (Remove).
// It is safe for concurrent use.
type Cache struct {
	limit  int64
	shards [cacheShards]cacheShard
	hits   atomic.Uint64
	misses atomic.Uint64
}

type cacheShard struct {
	mu    sync.Mutex
	limit int64
	bytes int64
	ll    *list.List
	items map[uint64]*list.Element
	_     [40]byte // keep shards on separate cache lines
}

type cacheEntry struct {
	id   uint64
	val  any
	size int64
}

// NewCache makes a cache holding at most limit bytes of entries.
func NewCache(limit int64) *Cache {
	c := &Cache{limit: limit}
	for i := range c.shards {
		c.shards[i] = cacheShard{limit: limit / cacheShards, ll: list.New(), items: make(map[uint64]*list.Element)}
	}
	return c
}

func (c *Cache) shard(id uint64) *cacheShard {
	return &c.shards[(id*0x9E3779B97F4A7C15)>>60]
}

// Get returns the entry for id and counts a hit or a miss.
func (c *Cache) Get(id uint64) (any, bool) {
	s := c.shard(id)
	s.mu.Lock()
	e, ok := s.items[id]
	if ok {
		s.ll.MoveToFront(e)
		v := e.Value.(*cacheEntry).val
		s.mu.Unlock()
		c.hits.Add(1)
		return v, true
	}
	s.mu.Unlock()
	c.misses.Add(1)
	return nil, false
}

// Put stores val for id, charged size bytes, evicting as needed.
func (c *Cache) Put(id uint64, val any, size int64) {
	s := c.shard(id)
	if size > s.limit {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if e, ok := s.items[id]; ok {
		ent := e.Value.(*cacheEntry)
		s.bytes += size - ent.size
		ent.val, ent.size = val, size
		s.ll.MoveToFront(e)
	} else {
		s.items[id] = s.ll.PushFront(&cacheEntry{id: id, val: val, size: size})
		s.bytes += size
	}
	for s.bytes > s.limit {
		e := s.ll.Back()
		ent := e.Value.(*cacheEntry)
		s.ll.Remove(e)
		delete(s.items, ent.id)
		s.bytes -= ent.size
	}
}

// Remove drops id (its page id is being reused).
func (c *Cache) Remove(id uint64) {
	s := c.shard(id)
	s.mu.Lock()
	if e, ok := s.items[id]; ok {
		s.ll.Remove(e)
		delete(s.items, id)
		s.bytes -= e.Value.(*cacheEntry).size
	}
	s.mu.Unlock()
}

// CacheStats are the cache's counters.
type CacheStats struct {
	Limit, Bytes int64
	Hits, Misses uint64
	Entries      int
}

// Stats returns the current counters.
func (c *Cache) Stats() CacheStats {
	st := CacheStats{Limit: c.limit, Hits: c.hits.Load(), Misses: c.misses.Load()}
	for i := range c.shards {
		s := &c.shards[i]
		s.mu.Lock()
		st.Bytes += s.bytes
		st.Entries += len(s.items)
		s.mu.Unlock()
	}
	return st
}

// ResetStats zeroes the hit and miss counters.
func (c *Cache) ResetStats() { c.hits.Store(0); c.misses.Store(0) }
