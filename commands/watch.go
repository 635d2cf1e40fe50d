package commands

import (
	"encoding/binary"
	"sync"
	"sync/atomic"
)

// watchRegistry tracks WATCHed keys. Every write in the writer touches the
// key, marking its watchers dirty (Redis's touchWatchedKey); EXEC also compares
// each watched key's tuple version with the one seen at WATCH time, which
// covers what touches cannot see: FLUSHDB, SWAPDB, expiry, writes in flight
// when WATCH registered.
type watchRegistry struct {
	mu    sync.Mutex
	keys  map[string]map[*watchSet]struct{}
	count atomic.Int64
}

// watchSet is one connection's watched keys.
type watchSet struct {
	dirty atomic.Bool
	keys  []watchedKey
}

type watchedKey struct {
	db      int
	key     []byte
	version uint64 // 0 = absent at WATCH time
}

func newWatchRegistry() *watchRegistry {
	return &watchRegistry{keys: map[string]map[*watchSet]struct{}{}}
}

func watchID(db int, key []byte) string {
	b := make([]byte, 4, 4+len(key))
	binary.BigEndian.PutUint32(b, uint32(db))
	return string(append(b, key...))
}

// watch registers key for ws (created when nil) and returns ws.
func (r *watchRegistry) watch(ws *watchSet, db int, key []byte) *watchSet {
	if ws == nil {
		ws = &watchSet{}
	}
	id := watchID(db, key)
	r.mu.Lock()
	defer r.mu.Unlock()
	set := r.keys[id]
	if set == nil {
		set = map[*watchSet]struct{}{}
		r.keys[id] = set
	}
	if _, dup := set[ws]; !dup {
		set[ws] = struct{}{}
		r.count.Add(1)
		ws.keys = append(ws.keys, watchedKey{db: db, key: append([]byte{}, key...)})
	}
	return ws
}

// unwatch drops all of ws's keys.
func (r *watchRegistry) unwatch(ws *watchSet) {
	if ws == nil {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, k := range ws.keys {
		id := watchID(k.db, k.key)
		if set := r.keys[id]; set != nil {
			delete(set, ws)
			r.count.Add(-1)
			if len(set) == 0 {
				delete(r.keys, id)
			}
		}
	}
	ws.keys = nil
}

// touch marks the watchers of key dirty.
func (r *watchRegistry) touch(db int, key []byte) {
	if r.count.Load() == 0 {
		return
	}
	id := watchID(db, key)
	r.mu.Lock()
	for ws := range r.keys[id] {
		ws.dirty.Store(true)
	}
	r.mu.Unlock()
}

// watching returns the number of watched (connection, key) pairs.
func (r *watchRegistry) watching() int64 { return r.count.Load() }
