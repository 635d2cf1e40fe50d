package store

import (
	"fmt"
	"runtime"
	"runtime/debug"
	"sync"
	"time"

	"github.com/digby-db/digby/btree"
)

// relocateIdle is how long writes must pause before relocation runs.
const relocateIdle = time.Second

// relocateSteps is how many relocation steps an idle tick takes at most
// while no reader comes (background).
const relocateSteps = 16

// maxBatch bounds the submissions applied in one transaction.
const maxBatch = 4096

// Pending is a submitted write. Wait blocks until it is acknowledged: after
// its logical commit, or after the flush that holds it in Always mode.
//
// Its channel is made only when asked for (Done, or Wait before the
// answer): an event loop learns of the answer through Then and reads the
// result once it is in, so a write it serves allocates no channel.
// Invariant: answered and done change only under mu; a submission is
// answered once (finish does nothing the second time), and once answered
// its err no longer changes and done, if made, is closed.
type Pending struct {
	fn       func(*Tx) error
	err      error
	mu       sync.Mutex
	answered bool
	done     chan struct{} // made on demand (Done), closed on the answer
	// hint is the key fn will write first, and table its table (Hint);
	// more are keys it writes after it, in that table (HintMore).
	hint  []byte
	more  [][]byte
	table uint32
	// then is called once the submission is answered (Then).
	then func()
	// heavy: applied without changes in place (Heavy).
	heavy bool
}

// Heavy marks the submission as a long one (many keys, large values, a
// long EXEC): the writer applies it without changes in place, in a
// transaction of its own or one that copies throughout, so that a reader
// arriving meanwhile reads the state before it instead of waiting for it
// (inplace.go). Set it before submitting.
func (p *Pending) Heavy() { p.heavy = true }

// IsHeavy reports whether Heavy was called.
func (p *Pending) IsHeavy() bool { return p.heavy }

// Then sets fn to be called once the submission is answered (Wait then
// returns at once and Done's channel is closed), from whichever goroutine
// answers it (the writer's, a leading submitter's, a flush's or log round's once its sync returns, or the submitter's own
// when the store is closed). fn must be quick and must not submit or wait
// for writes. Set it before submitting.
func (p *Pending) Then(fn func()) { p.then = fn }

// finish answers the submission with err (unless it has an error already),
// unless it is answered already: then it does nothing.
func (p *Pending) finish(err error) {
	p.mu.Lock()
	if p.answered {
		p.mu.Unlock()
		return
	}
	if err != nil && p.err == nil {
		p.err = err
	}
	p.answered = true
	if p.done != nil {
		close(p.done)
	}
	p.mu.Unlock()
	if p.then != nil {
		p.then()
	}
}

// isAnswered reports whether finish has run.
func (p *Pending) isAnswered() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.answered
}

// Hint tells the writer the key fn will write first, in table, so that
// it can have the CPU load that key's leaf while it applies the
// submissions before this one (prefetchAhead). A hint is only that: a
// wrong one costs time, never a wrong result. Set it before submitting,
// and leave key unchanged until Wait returns.
func (p *Pending) Hint(table uint32, key []byte) { p.table, p.hint = table, key }

// HintMore adds to Hint's key the keys fn writes after it, in the same
// table (an MSET's, a DEL's of several keys): their leaves are loaded
// with the first key's. Like Hint, only a hint; it counts only with a
// Hint. Leave keys unchanged until Wait returns.
func (p *Pending) HintMore(keys [][]byte) { p.more = keys }

// Wait returns the submission's own result.
func (p *Pending) Wait() error {
	if !p.isAnswered() {
		<-p.Done()
	}
	return p.err
}

// Done is closed when the result is ready.
func (p *Pending) Done() <-chan struct{} {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.done == nil {
		p.done = make(chan struct{})
		if p.answered {
			close(p.done)
		}
	}
	return p.done
}

// Submit queues fn for the writer and returns at once. fn runs in the
// writer's transaction under its own savepoint: if it returns an error or
// panics, its changes are rolled back and Wait returns the error, while
// the rest of the batch commits. (fn may have run before Submit returns:
// see SubmitAll.)
func (db *DB) Submit(fn func(*Tx) error) *Pending {
	p := NewPending(fn)
	db.SubmitAll(p)
	return p
}

// NewPending makes a submission of fn, for SubmitAll.
func NewPending(fn func(*Tx) error) *Pending {
	return &Pending{fn: fn}
}

// SubmitAll submits ps in order, each as Submit does. Submissions are
// applied in the order they were made.
//
// They join the list of waiting submissions. When no one is applying
// that list, the caller leads: it yields once, so that connections ready
// to run add theirs, then applies the list (up to maxBatch) in one
// transaction (flat combining). A leader applies one batch: if more joined meanwhile,
// the writer goroutine leads on. This spares the two goroutine switches
// of handing a batch to the writer goroutine and its answer back (and,
// with a core idle, a thread woken to look for work), while batches form
// as they did: from the time one takes to apply. A submission must not
// be made from inside a write function: the caller would wait for itself.
//
// ps (the slice) is not kept.
func (db *DB) SubmitAll(ps ...*Pending) {
	db.closeMu.RLock()
	defer db.closeMu.RUnlock()
	if !db.join(ps) {
		return
	}
	runtime.Gosched()
	db.wmu.Lock()
	db.leadOnce()
}

// SubmitAsync submits ps in order, as SubmitAll does, but never leads:
// when no one is applying, it wakes the writer goroutine to lead, and
// returns at once. It is for callers that have other work to do while
// the writes are applied (an event loop serving many connections), and
// learn of their end through Pending.Then. ps (the slice) is not kept.
func (db *DB) SubmitAsync(ps ...*Pending) {
	db.closeMu.RLock()
	defer db.closeMu.RUnlock()
	if db.join(ps) {
		notify(db.wake)
	}
}

// SubmitLead submits ps in order, as SubmitAll does, and applies them
// itself when no one is applying and the writer's role is free at once;
// otherwise it leaves them to whoever applies, or wakes the writer
// goroutine (as SubmitAsync), and returns without waiting. Unlike
// SubmitAll it does not yield first: it is for a caller that has gathered
// its batch already (an event loop, after a pass over its connections)
// and must never wait for the writer's role (a flush's end, a SAVE).
// Callers learn of the end through Pending.Then. ps (the slice) is not kept.
func (db *DB) SubmitLead(ps ...*Pending) {
	db.closeMu.RLock()
	defer db.closeMu.RUnlock()
	if !db.join(ps) {
		return
	}
	if !db.wmu.TryLock() {
		notify(db.wake)
		return
	}
	db.leadOnce()
}

// leadOnce applies one batch for a submitter that took the writer's role
// (wmu, held), leaves the rest to the writer goroutine, and gives the
// role back.
func (db *DB) leadOnce() {
	defer db.wmu.Unlock()
	if db.lead(1) {
		notify(db.wake) // the writer goroutine leads on
	}
}

// join adds ps to the waiting submissions and reports whether the caller
// must see that they are applied (no one was leading: leading is now
// set). On a closed store it answers them with ErrClosed instead.
// closeMu is read-held.
func (db *DB) join(ps []*Pending) bool {
	if db.closed.Load() {
		for _, p := range ps {
			p.finish(ErrClosed)
		}
		return false
	}
	db.cmu.Lock()
	defer db.cmu.Unlock()
	db.waiting = append(db.waiting, ps...)
	if db.leading {
		return false
	}
	db.leading = true
	return true
}

// lead applies the waiting submissions, up to rounds batches, and reports
// whether some still wait (leading stays set: the caller must see to
// them). With none left it clears leading. wmu is held.
func (db *DB) lead(rounds int) bool {
	for ; ; rounds-- {
		db.cmu.Lock()
		if len(db.waiting) == 0 {
			db.leading = false
			db.cmu.Unlock()
			return false
		}
		if rounds == 0 {
			db.cmu.Unlock()
			return true
		}
		// apply may keep batch: later submissions append past its end.
		n := min(len(db.waiting), maxBatch)
		batch := db.waiting[:n:n]
		db.waiting = db.waiting[n:]
		db.cmu.Unlock()
		db.applyGuarded(batch)
	}
}

// applyGuarded is apply for whoever leads. A panic outside the write
// functions (they have their own recover: call), which only a bug can
// cause, would otherwise unwind a leading submitter with the writer's
// role held, and every later write, Flush and Close would wait forever
// (before submitters led, it stopped the process). It fails the store
// instead, naming the panic, and answers the batch's submissions not yet
// answered with that error: the role stays usable, and later batches are
// answered with the failure.
func (db *DB) applyGuarded(batch []*Pending) {
	defer func() {
		if r := recover(); r != nil {
			err := db.fail(fmt.Errorf("panic in the writer: %v\n%s", r, debug.Stack()))
			db.tear() // readers must not wait, nor read changes in place never committed
			db.ackWaiters(batch, err)
		}
	}()
	db.apply(batch)
}

// nothingWaiting reports whether no submission waits to be applied.
func (db *DB) nothingWaiting() bool {
	db.cmu.Lock()
	defer db.cmu.Unlock()
	return len(db.waiting) == 0
}

// Update runs fn in the writer's transaction and waits for its result.
func (db *DB) Update(fn func(*Tx) error) error { return db.Submit(fn).Wait() }

// UpdateHeavy is Update for a long write function: it is submitted heavy
// (Pending.Heavy), so no reader waits for it.
func (db *DB) UpdateHeavy(fn func(*Tx) error) error {
	p := NewPending(fn)
	p.Heavy()
	db.SubmitAll(p)
	return p.Wait()
}

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

// run is the writer goroutine: it owns the allocator and all flushing,
// and holds wmu while it acts (a leading submitter holds it instead while
// it applies its batch: SubmitAll).
func (db *DB) run() {
	defer close(db.done)
	tick := time.NewTicker(max(min(db.opts.FlushInterval/4, 50*time.Millisecond), time.Millisecond))
	defer tick.Stop()
	for {
		// The flush and log round in flight, if any, whose ends to wait
		// for. A leading submitter may finish one itself (back-pressure)
		// and start another before this goroutine gets wmu again: only
		// the one waited for is finished here.
		var flushDone, logDone chan struct{}
		db.wmu.Lock()
		flush, round := db.inflight, db.logRound()
		db.wmu.Unlock()
		if flush != nil {
			flushDone = flush.done
		}
		if round != nil {
			logDone = round.done
		}
		select {
		case <-db.ended:
			// A flush or log round ended that a leading submitter started
			// after flush and round were read: read them again.
		case <-db.wake:
			// A leading submitter left submissions to lead on. One batch
			// a turn, the next signalled again: flushes' ends and ticks
			// (the timed flush) are handled between batches. (A wake
			// while a submitter is about to lead applies its batch here;
			// it then finds the list empty.)
			db.wmu.Lock()
			if db.lead(1) {
				notify(db.wake)
			}
			db.wmu.Unlock()
		case <-flushDone:
			db.wmu.Lock()
			if db.inflight == flush {
				db.finishFlush(flush)
				if len(db.waiters) > 0 {
					db.kickFlush()
				}
			}
			db.wmu.Unlock()
		case <-logDone:
			db.wmu.Lock()
			if db.logRound() == round {
				db.finishLog(round)
			}
			db.wmu.Unlock()
		case fn, ok := <-db.ctl:
			db.wmu.Lock()
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
				db.wmu.Unlock()
				return
			}
			if db.closed.Load() {
				db.lead(-1) // what was submitted before Close
			}
			fn()
			db.wmu.Unlock()
		case <-tick.C:
			db.clock.Store(time.Now().UnixNano())
			if !db.closed.Load() { // Close's last flush and seal come last
				db.wmu.Lock()
				db.background(false)
				db.wmu.Unlock()
			}
		}
	}
}

// notify signals ch (wake or ended) without waiting: one signal pending
// is enough, as each makes the writer goroutine look again.
func notify(ch chan struct{}) {
	select {
	case ch <- struct{}{}:
	default:
	}
}

// logRound is the commit log's round in flight, if any.
func (db *DB) logRound() *logRound {
	if db.clog == nil {
		return nil
	}
	return db.clog.inflight
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
	for db.nothingWaiting() {
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
	// have paused for a while (it competes with them otherwise), and one
	// step a tick only while readers come (each step's copies and publish
	// cost their look-ups: the branches they find are new, with no
	// remembered children).
	steps := relocateSteps
	if db.readersCame() {
		steps = 1
	}
	for i := 0; i < steps && db.nothingWaiting() && (force || time.Since(db.lastApply) >= relocateIdle); i++ {
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
	if db.opts.Durability != Always && db.dirtyBytes() > db.opts.DirtyCap {
		db.flush()
	}
}

func (db *DB) beginWrite() *Tx {
	st := db.cur.Load()
	w := &wtx{db: db, txn: db.nextTxn, dirty: map[uint64]*btree.Node{}, ownerTable: noOwner, evicts: db.txEvicts[:0], superseded: db.txSuperseded[:0], ip: ipOff, inplace: db.txInPlace[:0]}
	return &Tx{
		db: db, st: st, w: w,
		catalog:     btree.Tree{P: w, Root: st.catalog},
		tables:      tableStates{ents: db.txTables[:0]},
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
	for len(batch) > 0 {
		batch = db.applyPart(batch)
	}
}

// applyPart applies batch, or a first part of it, in one transaction and
// returns the rest. A transaction changing nodes in place ends early, after
// the submission it is running, when a reader starts waiting for it
// (inplace.go): the reader waits for one submission, not a whole batch. It
// ends before a heavy submission (Pending.Heavy), which then runs in a
// transaction that copies: no reader waits for it.
func (db *DB) applyPart(batch []*Pending) (rest []*Pending) {
	if err := db.Failed(); err != nil {
		db.ackWaiters(batch, err)
		return nil
	}
	tx := db.beginWrite()
	tx.w.ip = ipUnknown // the batch's transaction may change nodes in place (inplace.go)
	rec := db.logBuffer()
	tx.w.log = rec
	for i, p := range batch {
		if i%prefetchWindow == 0 {
			if i == 0 {
				db.prefetchAhead(tx, batch[:min(prefetchWindow, len(batch))])
			}
			db.prefetchAhead(tx, batch[min(i+prefetchWindow, len(batch)):min(i+2*prefetchWindow, len(batch))])
		}
		if p.heavy {
			if tx.w.ip == ipOn {
				// Readers arriving while it runs would wait for it: it
				// goes on in a new transaction (i > 0: the first
				// submission finds ipUnknown).
				batch, rest = batch[:i], batch[i:]
				break
			}
			tx.w.ip = ipOff
		}
		tx.savepoint()
		if err := call(p.fn, tx); err != nil {
			tx.rollback()
			p.err = err
		} else {
			tx.release()
		}
		if tx.w.ip == ipOn && i+1 < len(batch) && db.gateWaits.Load() != db.gateSeen {
			batch, rest = batch[:i+1], batch[i+1:]
			break
		}
	}
	tx.w.log = nil // the catalog's update at commit is derived, not logged
	// Idle time counts from the end of the last batch: a batch that ran
	// a second or more must not make the writer look idle right after it
	// (background relocation).
	db.lastApply = time.Now()
	if err := db.commit(tx); err != nil {
		err = db.fail(err)
		db.ackWaiters(batch, err)
		db.ackWaiters(rest, err)
		return nil
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
	if db.dirtyBytes() > db.opts.DirtyCap {
		// Back-pressure: wait for the flush in flight, then start the next.
		db.waitFlush()
		db.kickFlush()
	}
	return rest
}

// prefetchWindow is how many submissions' hinted keys prefetchAhead
// prefetches at once: the writer prefetches one window ahead of the
// submissions it applies.
const prefetchWindow = 16

// prefetchAhead has the CPU start loading the leaves of ps's hinted keys
// (Hint and HintMore; Table.Prefetch), a run of one table at a time;
// submissions without a hint are passed over. A panic in it fails no
// write (a hint is only a hint): it is counted (prefetchPanics), for
// tests.
func (db *DB) prefetchAhead(tx *Tx, ps []*Pending) {
	defer func() {
		if r := recover(); r != nil {
			db.prefetchPanics.Add(1)
		}
	}()
	keys := db.prefetchKeys[:0]
	defer func() {
		clear(keys)
		db.prefetchKeys = keys[:0]
	}()
	table := uint32(0)
	for _, p := range ps {
		if p.hint == nil {
			continue
		}
		if len(keys) > 0 && p.table != table {
			db.prefetched.Add(uint64(tx.Table(table).Prefetch(keys, &db.prefetchScratch)))
			clear(keys)
			keys = keys[:0]
		}
		table = p.table
		keys = append(keys, p.hint)
		keys = append(keys, p.more...)
	}
	if len(keys) > 0 {
		db.prefetched.Add(uint64(tx.Table(table).Prefetch(keys, &db.prefetchScratch)))
	}
}

// commit publishes tx's changes in memory (a logical commit).
func (db *DB) commit(tx *Tx) error {
	w := tx.w
	if err := tx.writeCatalog(); err != nil {
		db.tear()
		return err
	}
	// A transaction that entered in-place mode publishes even with no
	// change left: its readers wait for the next state.
	if len(w.dirty) == 0 && len(w.freed) == 0 && tx.nextVersion == tx.st.nextVersion && tx.catalog.Root == tx.st.catalog && w.ip != ipOn {
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
	for _, n := range w.superseded {
		db.flushSet.drop(n)
	}
	db.cache.RemoveAll(w.evicts)
	db.txEvicts, db.txSuperseded = kept(w.evicts, maxKeptReleased), kept(w.superseded, maxKeptReleased)
	// Each node of w.dirty counts the unflushed set as its holder from
	// its making (HeldNew; remembered children, btree/swizzle.go).
	db.umu.Lock()
	for id, n := range w.dirty {
		if old, ok := db.unflushed.get(id); ok && old != n {
			old.Held(false)
		}
		db.unflushed.set(id, n)
	}
	db.nUnflushed.Store(int64(db.unflushed.len()))
	db.umu.Unlock()
	for _, n := range w.dirty {
		db.flushSet.add(n) // nodes changed in place are not in w.dirty: in the set already
	}
	db.inPlaceNodes.Add(uint64(len(w.inplace)))
	w.endInPlace()
	db.txInPlace = kept(w.inplace, maxKeptReleased)
	tx.tables.reset(keptSavepointNodes)
	db.txTables = tx.tables.ents
	db.expiring.Add(tx.expiringDelta) // before the state that holds it is seen
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
	n, ok := db.unflushed.get(id)
	if ok {
		db.unflushed.del(id)
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
	db.nUnflushed.Store(int64(db.unflushed.len()))
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
// everything committed before it. A file slack left to the mode
// (Options.FileSlack 0) changes with it.
func (db *DB) SetDurability(d Durability) error {
	if d != Always && d != Everysec && d != No {
		return fmt.Errorf("unknown durability mode %d", d)
	}
	return db.control(func() error {
		db.opts.Durability = d
		if s := slackFor(d); db.opts.slackAuto && s != db.opts.FileSlack {
			db.opts.FileSlack = s
			db.alloc.SetSlack(s)
			db.slack.Store(int32(s))
		}
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
