package page

import (
	"sync"
	"sync/atomic"
)

// cacheShards spreads the cache over independent locks so that concurrent
// readers rarely contend.
const cacheShards = 16

// Cache holds decoded, verified pages keyed by page id, bounded in bytes.
// Each of its shards (holding at most 1/16 of the bound) evicts with the
// CLOCK algorithm: a hit only sets a reference bit, under a read lock, so
// concurrent readers do not serialize on hits. Committed pages are
// immutable: the caller drops an entry (RemoveAll) once its page is no
// longer current. It is safe for concurrent use.
type Cache struct {
	limit  atomic.Int64
	shards [cacheShards]cacheShard
	hits   atomic.Uint64
	misses atomic.Uint64
}

type cacheShard struct {
	mu    sync.RWMutex
	limit int64
	bytes int64
	items map[uint64]*cacheEntry
	ring  []*cacheEntry
	hand  int
	_     [40]byte // keep shards on separate cache lines
}

type cacheEntry struct {
	id   uint64
	val  any
	size int64
	pos  int // index in ring
	ref  atomic.Bool
}

// NewCache makes a cache holding at most limit bytes of entries.
func NewCache(limit int64) *Cache {
	c := &Cache{}
	c.limit.Store(limit)
	for i := range c.shards {
		c.shards[i] = cacheShard{limit: limit / cacheShards, items: make(map[uint64]*cacheEntry)}
	}
	return c
}

func (c *Cache) shard(id uint64) *cacheShard {
	return &c.shards[(id*0x9E3779B97F4A7C15)>>60]
}

// Get returns the entry for id and counts a hit or a miss.
func (c *Cache) Get(id uint64) (any, bool) {
	s := c.shard(id)
	s.mu.RLock()
	e, ok := s.items[id]
	var v any
	if ok {
		v = e.val
		if !e.ref.Load() {
			e.ref.Store(true)
		}
	}
	s.mu.RUnlock()
	if ok {
		c.hits.Add(1)
		return v, true
	}
	c.misses.Add(1)
	return nil, false
}

// SetLimit changes the bound to limit bytes, evicting at once what no
// longer fits.
func (c *Cache) SetLimit(limit int64) {
	c.limit.Store(limit)
	for i := range c.shards {
		s := &c.shards[i]
		s.mu.Lock()
		s.limit = limit / cacheShards
		s.evict(0)
		s.mu.Unlock()
	}
}

// Peek returns the entry for id without counting a hit or a miss and
// without marking it used.
func (c *Cache) Peek(id uint64) (any, bool) {
	s := c.shard(id)
	s.mu.RLock()
	defer s.mu.RUnlock()
	if e, ok := s.items[id]; ok {
		return e.val, true // val changes under the lock (Put)
	}
	return nil, false
}

// Put stores val for id, charged size bytes, evicting as needed.
func (c *Cache) Put(id uint64, val any, size int64) {
	s := c.shard(id)
	s.mu.Lock()
	defer s.mu.Unlock()
	if size > s.limit { // under the lock: SetLimit changes it
		return
	}
	if e, ok := s.items[id]; ok {
		s.bytes += size - e.size
		held(e.val, false)
		held(val, true)
		e.val, e.size = val, size
		e.ref.Store(true)
		return
	}
	s.evict(size)
	e := &cacheEntry{id: id, val: val, size: size, pos: len(s.ring)}
	s.ring = append(s.ring, e)
	s.items[id] = e
	s.bytes += size
	held(val, true)
}

// Referenced is implemented by cached values that their users can reach
// without a Get (btree nodes a read descent finds through a pointer it
// remembered): TakeRef reports whether the value was used since the last
// call, and clears that. Eviction counts it as the entry's reference bit,
// so that values used that way are not taken for cold ones.
type Referenced interface{ TakeRef() bool }

// Held is implemented by cached values that must know whether the cache
// holds them: Held(true) when Put stores the value, Held(false) when the
// cache lets go of it (eviction, RemoveAll, a Put replacing it). Both are
// called with a shard's lock held: Held must not call back into the
// cache. btree nodes use it so that pointers to them that readers
// remember never keep a node in memory the cache has dropped.
type Held interface{ Held(bool) }

// held tells v, if it is Held, whether the cache holds it.
func held(v any, in bool) {
	if h, ok := v.(Held); ok {
		h.Held(in)
	}
}

// referenced reports (and clears) whether e was used since the hand last
// passed it.
func (e *cacheEntry) referenced() bool {
	used := e.ref.Load()
	if used {
		e.ref.Store(false)
	}
	if r, ok := e.val.(Referenced); ok && r.TakeRef() {
		used = true
	}
	return used
}

// evict drops entries by the CLOCK rule (a referenced entry gets a second
// chance) until size more bytes fit the shard's limit or it is empty.
// The shard's lock is held.
func (s *cacheShard) evict(size int64) {
	for s.bytes+size > s.limit && len(s.ring) > 0 {
		if s.hand >= len(s.ring) {
			s.hand = 0
		}
		v := s.ring[s.hand]
		if v.referenced() {
			s.hand++
			continue
		}
		s.drop(v)
	}
}

// drop removes e from the shard (lock held).
func (s *cacheShard) drop(e *cacheEntry) {
	last := len(s.ring) - 1
	s.ring[e.pos] = s.ring[last]
	s.ring[e.pos].pos = e.pos
	s.ring[last] = nil
	s.ring = s.ring[:last]
	delete(s.items, e.id)
	s.bytes -= e.size
	held(e.val, false)
}

// RemoveAll drops every id in ids, taking each shard's lock once.
func (c *Cache) RemoveAll(ids []uint64) {
	if len(ids) == 0 {
		return
	}
	for i := range c.shards {
		s := &c.shards[i]
		locked := false
		for _, id := range ids {
			if c.shard(id) != s {
				continue
			}
			if !locked {
				s.mu.Lock()
				locked = true
			}
			if e, ok := s.items[id]; ok {
				s.drop(e)
			}
		}
		if locked {
			s.mu.Unlock()
		}
	}
}

// CacheStats are the cache's counters.
type CacheStats struct {
	Limit, Bytes int64
	Hits, Misses uint64
	Entries      int
}

// Stats returns the current counters.
func (c *Cache) Stats() CacheStats {
	st := CacheStats{Limit: c.limit.Load(), Hits: c.hits.Load(), Misses: c.misses.Load()}
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
