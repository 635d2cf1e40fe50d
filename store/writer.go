package store

import (
	"fmt"
	"runtime"
	"runtime/debug"
	"time"

	"github.com/digby-db/digby/btree"
)

// relocateIdle is how long writes must pause before relocation runs.
const relocateIdle = time.Second

// maxBatch bounds the submissions applied in one transaction.
const maxBatch = 4096

// Pending is a submitted write. Wait blocks until it is acknowledged: after
// its logical commit, or after the flush that holds it in Always mode.
type Pending struct {
	fn   func(*Tx) error
	err  error
	done chan struct{}
}

// Wait returns the submission's own result.
func (p *Pending) Wait() error {
	<-p.done
	return p.err
}

// Done is closed when the result is ready.
func (p *Pending) Done() <-chan struct{} { return p.done }

// Submit queues fn for the writer and returns at once. fn runs in the
// writer's transaction under its own savepoint: if it returns an error or
// panics, its changes are rolled back and Wait returns the error, while
// the rest of the batch commits.
func (db *DB) Submit(fn func(*Tx) error) *Pending {
	p := &Pending{fn: fn, done: make(chan struct{})}
	db.closeMu.RLock()
	defer db.closeMu.RUnlock()
	if db.closed.Load() {
		p.err = ErrClosed
		close(p.done)
		return p
	}
	db.queue <- p
	return p
}

// Update runs fn in the writer's transaction and waits for its result.
func (db *DB) Update(fn func(*Tx) error) error { return db.Submit(fn).Wait() }

// Flush makes every committed write durable. It waits for the writer, so
// it must not be called from inside a write function (nor may Update,
// Check or Close).
func (db *DB) Flush() error { return db.control(db.flush) }

// control runs fn in the writer goroutine and returns its error.
func (db *DB) control(fn func() error) (err error) {
	db.closeMu.RLock()
	if db.closed.Load() {
		db.closeMu.RUnlock()
		return ErrClosed
	}
	done := make(chan struct{})
	db.ctl <- func() { err = fn(); close(done) }
	db.closeMu.RUnlock()
	<-done
	return err
}

// run is the writer goroutine: it owns the allocator and all flushing.
func (db *DB) run() {
	defer close(db.done)
	tick := time.NewTicker(max(min(db.opts.FlushInterval/4, 50*time.Millisecond), time.Millisecond))
	defer tick.Stop()
	for {
		var flushDone, logDone chan struct{}
		if db.inflight != nil {
			flushDone = db.inflight.done
		}
		if db.clog != nil && db.clog.inflight != nil {
			logDone = db.clog.inflight.done
		}
		select {
		case p := <-db.queue:
			batch := []*Pending{p}
			// Let submitters that are runnable (often woken by the last
			// batch, on this P) enqueue before draining: bigger batches.
			runtime.Gosched()
		drain:
			for len(batch) < maxBatch {
				select {
				case p := <-db.queue:
					batch = append(batch, p)
				default:
					break drain
				}
			}
			db.apply(batch)
		case <-flushDone:
			db.finishFlush(db.inflight)
			if len(db.waiters) > 0 {
				db.kickFlush()
			}
		case <-logDone:
			db.finishLog(db.clog.inflight)
		case fn, ok := <-db.ctl:
			if !ok {
				// Closing: a flush or log round still in flight (one a
				// tick started beside Close's own) lands before Close
				// closes the files under it.
				if db.inflight != nil {
					<-db.inflight.done
					db.finishFlush(db.inflight)
				}
				if db.clog != nil && db.clog.inflight != nil {
					<-db.clog.inflight.done
					db.finishLog(db.clog.inflight)
				}
				return
			}
			if db.closed.Load() {
				db.drainQueue()
			}
			fn()
		case <-tick.C:
			db.clock.Store(time.Now().UnixNano())
			if !db.closed.Load() { // Close's last flush and seal come last
				db.background(false)
			}
		}
	}
}

// drainQueue applies what was submitted before Close.
func (db *DB) drainQueue() {
	for {
		select {
		case p := <-db.queue:
			db.apply([]*Pending{p})
		default:
			return
		}
	}
}

// background runs when the writer is idle: timed flushes and drop steps.
func (db *DB) background(force bool) {
	if db.Failed() != nil {
		return
	}
	// After a pause in writes, a flush may cut any free tail.
	db.idleShrink = force || time.Since(db.lastApply) >= relocateIdle
	defer func() { db.idleShrink = false }()
	if db.opts.Durability != No && time.Since(time.UnixMilli(db.lastFlush.Load())) >= db.opts.FlushInterval {
		// Everysec's timed flush; in Always mode this makes idle work
		// (drops, relocation) durable so the file can shrink.
		db.kickFlush()
	}
	// Free dropped trees in bounded, committed steps while nothing waits.
	for len(db.queue) == 0 {
		more, err := db.dropStep(dropBudget)
		if err != nil {
			db.fail(err)
			return
		}
		if !more {
			break
		}
	}
	// Move high pages lower so the free tail can be cut off, once writes
	// have paused for a while (it competes with them otherwise).
	for i := 0; i < 16 && len(db.queue) == 0 && (force || time.Since(db.lastApply) >= relocateIdle); i++ {
		moved, err := db.relocateStep()
		if err != nil {
			db.fail(err)
			return
		}
		if !moved {
			break
		}
	}
	// Freed pages wait for flushes; with no commits there would be none,
	// and they would never become reusable (nor the tail cut): after a
	// pause, flush an empty commit. Pages a reader held are released here
	// too (commits and flushes release them, and none may come), so that
	// relocation and the next flush can use them and cut the tail.
	idle := force || time.Since(db.lastApply) >= relocateIdle
	if idle {
		db.release()
	}
	if idle && db.cur.Load().txn == db.newestMeta().Txn && (db.alloc.PendingBeyondMeta() || db.alloc.PendingAtTail() || db.alloc.MoveMetaOffTail()) {
		db.publish(&state{txn: db.nextTxn, catalog: db.cur.Load().catalog, nextVersion: db.cur.Load().nextVersion})
		db.nextTxn++
		db.idleShrink = true
		if err := db.flush(); err != nil {
			return
		}
	}
	if db.opts.Durability != Always && db.dirtyBytes > db.opts.DirtyCap {
		db.flush()
	}
}

func (db *DB) beginWrite() *Tx {
	st := db.cur.Load()
	w := &wtx{db: db, txn: db.nextTxn, dirty: map[uint64]*btree.Node{}, ownerTable: noOwner}
	return &Tx{
		db: db, st: st, w: w,
		catalog:     btree.Tree{P: w, Root: st.catalog},
		tables:      map[uint32]tableState{},
		nextVersion: st.nextVersion,
	}
}

func call(fn func(*Tx) error, tx *Tx) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("panic in write: %v\n%s", r, debug.Stack())
		}
	}()
	return fn(tx)
}

// apply runs a batch in one transaction with a savepoint per submission.
// In Always mode the batch is acknowledged when the flush that holds it
// lands, or, with the commit log, once its records are synced (logCommit);
// a flush runs beside the writer, which goes on with the next batches
// (group commit across flushes). Otherwise it is acknowledged on
// commit, and a flush starts when one is due or dirty memory passes its cap.
func (db *DB) apply(batch []*Pending) {
	if err := db.Failed(); err != nil {
		db.ackWaiters(batch, err)
		return
	}
	tx := db.beginWrite()
	rec := db.logBuffer()
	tx.w.log = rec
	for _, p := range batch {
		tx.savepoint()
		if err := call(p.fn, tx); err != nil {
			tx.rollback()
			p.err = err
		} else {
			tx.release()
		}
	}
	tx.w.log = nil // the catalog's update at commit is derived, not logged
	// Idle time counts from the end of the last batch: a batch that ran
	// a second or more must not make the writer look idle right after it
	// (background relocation).
	db.lastApply = time.Now()
	if err := db.commit(tx); err != nil {
		db.ackWaiters(batch, db.fail(err))
		return
	}
	switch {
	case db.clog != nil && db.logCommit(tx, rec, batch):
		// Answered through the commit log (commitlog.go).
	case db.opts.Durability == Always:
		db.waiters = append(db.waiters, batch...)
		db.kickFlush()
	default:
		db.ackWaiters(batch, nil)
		if db.opts.Durability == Everysec && time.Since(time.UnixMilli(db.lastFlush.Load())) >= db.opts.FlushInterval {
			db.kickFlush()
		}
	}
	if db.dirtyBytes > db.opts.DirtyCap {
		// Back-pressure: wait for the flush in flight, then start the next.
		db.waitFlush()
		db.kickFlush()
	}
}

// commit publishes tx's changes in memory (a logical commit).
func (db *DB) commit(tx *Tx) error {
	if err := tx.writeCatalog(); err != nil {
		return err
	}
	w := tx.w
	if len(w.dirty) == 0 && len(w.freed) == 0 && tx.nextVersion == tx.st.nextVersion && tx.catalog.Root == tx.st.catalog {
		return nil
	}
	// Superseded versions leave the cache now: only readers of older
	// snapshots can want them, and they read them from the file (intact
	// until reuse, which waits for them). Those re-reads are forgotten at
	// release; a flush in flight does not cache the pages freed meanwhile
	// (finishFlush). A page of the flush set was allocated since the last
	// flush started and never written: nothing cached it (allocate), so
	// only the others are looked for. Under random overwrites nearly every
	// page freed is such a page (a leaf copied again by a later batch).
	evict := db.evictBuf[:0]
	for _, id := range w.freed {
		if _, ok := db.flushSet[id]; ok {
			delete(db.flushSet, id)
			db.dirtyBytes -= int64(db.ps)
			continue
		}
		evict = append(evict, id)
	}
	db.evict(evict)
	db.umu.Lock()
	for id, n := range w.dirty {
		if old, ok := db.unflushed[id]; ok {
			if old == n {
				continue
			}
			old.Held(false)
		}
		db.unflushed[id] = n
		n.Held(true) // remembered children (btree/swizzle.go)
	}
	db.nUnflushed.Store(int64(len(db.unflushed)))
	db.umu.Unlock()
	for id, n := range w.dirty {
		db.flushSet[id] = n
		db.dirtyBytes += int64(db.ps)
	}
	db.publish(&state{txn: w.txn, catalog: tx.catalog.Root, nextVersion: tx.nextVersion})
	db.nextTxn++
	db.release()
	if db.nextTxn%64 == 0 {
		db.publishCounts() // AvailCount is a popcount: not on every commit
	}
	return nil
}

// dropUnflushed removes id's node from the unflushed set, telling it
// (btree/swizzle.go), and returns it (nil if it was not there). db.umu is
// held.
func (db *DB) dropUnflushed(id uint64) *btree.Node {
	n, ok := db.unflushed[id]
	if ok {
		delete(db.unflushed, id)
		n.Held(false)
	}
	return n
}

// maxKeptReleased bounds the id list release keeps for reuse.
const maxKeptReleased = 1 << 16

// release makes held pages no reader can reach allocatable again, and
// forgets their nodes (an older snapshot's reader may have cached one
// again since commit dropped it).
func (db *DB) release() {
	rel := db.releasedBuf[:0]
	db.alloc.Release(db.oldestReader(), func(id, freedIn uint64) { rel = append(rel, releasedPage{id, freedIn}) })
	if cap(rel) <= maxKeptReleased { // not the list of a huge drop
		db.releasedBuf = rel[:0]
	}
	if len(rel) == 0 {
		return
	}
	// A page still in the unflushed set was never written, so never read
	// from the file nor cached (commit): only the others are looked for.
	// Its node is reachable from no snapshot a reader holds (released) nor
	// from any flush (a page a flush took is in no flush set any more, and
	// finishFlush dropped it from the unflushed set before it could be
	// released): its arrays are reused by later copies (btree.Spare). Only
	// a node made before the txn that freed its page is given: were a page
	// ever freed twice, a node made since under the reused id is live.
	evict := db.evictBuf[:0]
	db.umu.Lock()
	for _, r := range rel {
		if n := db.dropUnflushed(r.id); n != nil {
			if n.Txn < r.freedIn {
				db.spare.Give(n)
			}
		} else {
			evict = append(evict, r.id)
		}
	}
	db.nUnflushed.Store(int64(len(db.unflushed)))
	db.umu.Unlock()
	db.evict(evict)
}

// evict drops pages from the cache; ids is db.evictBuf's array, kept for
// the next call unless a huge drop grew it.
func (db *DB) evict(ids []uint64) {
	db.cache.RemoveAll(ids)
	if cap(ids) <= maxKeptReleased {
		db.evictBuf = ids[:0]
	}
}

// releasedPage is a page release() made reusable, with the txn that freed it.
type releasedPage struct{ id, freedIn uint64 }

// SetDurability changes the durability mode of an open database (Redis's
// CONFIG SET appendfsync). Writes acknowledged before it keep the promise
// they were made under: Always-mode submitters already waiting are still
// acknowledged only when their flush lands. Leaving No or Everysec for
// Always does not flush at once; the first Always batch flushes
// everything committed before it.
func (db *DB) SetDurability(d Durability) error {
	if d != Always && d != Everysec && d != No {
		return fmt.Errorf("unknown durability mode %d", d)
	}
	return db.control(func() error {
		db.opts.Durability = d
		return nil
	})
}

// SetCacheSize changes the page cache's bound (Redis users' CONFIG SET);
// a smaller bound evicts at once.
func (db *DB) SetCacheSize(n int64) error {
	if n <= 0 {
		return fmt.Errorf("cache size %d: must be positive", n)
	}
	db.cache.SetLimit(n)
	return nil
}
