package store

import (
	"sync/atomic"
	"time"

	"github.com/digby-db/digby/page"
)

// The writer is one goroutine: a page its transaction must read from the
// file (a cache miss: read, verify, decode) stalls every write queued
// behind it. When the data outgrows the cache, a caller that knows which
// keys a write will touch can Prefetch them first, in its own goroutine,
// so that the reads happen in parallel and the writer finds the pages
// cached. CacheUnderPressure says when that is worth its cost (an extra
// descent that finds everything cached is wasted work).

// pressureWindow is how often CacheUnderPressure re-reads the cache's
// counters.
const pressureWindow = 100 * time.Millisecond

// pressure tracks the cache's recent miss rate.
type pressure struct {
	start        time.Time    // the clock's origin (monotonic)
	at           atomic.Int64 // ns since start of the last evaluation
	hits, misses atomic.Uint64
	high         atomic.Bool
}

// CacheUnderPressure reports whether lookups over the last ~100 ms missed
// the page cache often: more than one in 20, and at least 100 misses.
// It is cheap to call on every write.
func (db *DB) CacheUnderPressure() bool {
	p := &db.pressure
	now := int64(time.Since(p.start))
	if last := p.at.Load(); now-last >= int64(pressureWindow) && p.at.CompareAndSwap(last, now) {
		p.update(db.cache.Stats())
	}
	return p.high.Load()
}

// update judges the lookups counted since the last update (since the
// counters were reset, if they were: CONFIG RESETSTAT).
func (p *pressure) update(st page.CacheStats) {
	h, m := st.Hits, st.Misses
	if ph, pm := p.hits.Swap(h), p.misses.Swap(m); ph <= h && pm <= m {
		h, m = h-ph, m-pm
	}
	p.high.Store(m >= 100 && m*20 > h+m)
}

// Prefetch reads the pages on the paths to keys in table into the cache,
// as of the newest committed state, so that a write about to touch them
// finds them there. It changes nothing; errors are left for the write to
// meet. Its descents do not follow remembered children (btree/swizzle.go):
// its point is to put each page in the cache and mark it used there, and a
// remembered pointer skips the cache.
//
// It does nothing while the writer changes the newest state's nodes in
// place (tryView): waiting for that batch would hold up the caller (a
// server loop, with all its connections) and pause changes in place, so
// that the writes it means to speed up would copy their nodes instead.
func (db *DB) Prefetch(table uint32, keys ...[]byte) {
	db.tryView(func(tx *Tx) error {
		tx.noRemember = true
		t := tx.Table(table)
		for _, k := range keys {
			t.GetMeta(k)
		}
		return nil
	})
}
