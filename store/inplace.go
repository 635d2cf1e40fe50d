package store

import (
	"bytes"
	"fmt"
	"runtime"
	"time"

	"github.com/digby-db/digby/btree"
)

// Changes in place (docs/format.md, "Changes in place").
//
// A committed node is copied before it changes (wtx.Writable) because a
// reader of a snapshot may be reading it, or a flush encoding it. Under
// Everysec and No durability most changes hit nodes that neither can
// reach: committed since the last flush started, and reachable from no
// snapshot a reader holds (under Always, those of the batches applied
// while a flush is in flight). A transaction changes such nodes where they
// are, without the copy, the page allocation and free, and the parent's
// new reference (nothing above a node changed in place changes).
//
// A node in the flush set is one no flush has taken: committed, not
// written and not being written (a flush takes the set as it starts).
// Before the first change in place a transaction makes sure that no
// reader can reach the nodes it changes, now or until it commits
// (enterInPlace):
//
//   - older states without readers are retired, as oldestReader does, so
//     that a reader that read db.cur before a publish cannot register on
//     one late; floor is then the newest txn of an older state that has
//     readers (a node of a later txn is in none of their trees);
//   - the current state, the transaction's base, is retired too (refs -1,
//     only while it has no reader): a reader arriving before the commit
//     publishes the next state waits on db.gate, which publish opens.
//
// A node of the flush set and of a txn past floor may then change in
// place. It keeps its id and txn (the references to it stay valid), is
// marked markInPlace until commit (it is in the unflushed and flush sets
// already, so it does not join the transaction's dirty set, which holds
// only the transaction's own nodes), and a savepoint records its changes
// for rollback, as for a node made earlier in the transaction. Should the
// commit fail after such changes, or the writer panic, the current state
// holds changes never committed: the store fails, and readers get the
// error (db.torn, tear) instead of the state.
//
// A reader that starts waiting ends the transaction early: the batch
// commits after the submission running and goes on in a new transaction
// (DB.applyPart), so a reader waits for one submission, not a batch. It
// also pauses changes in place for inPlacePause, so that a mixed load's
// reads do not wait again and again. A submission marked heavy
// (Pending.Heavy: many keys, large values) is never one a reader waits
// for: a transaction changing nodes in place ends before it, and it runs
// in one that copies. A View from inside a write function (against its
// contract) would wait for itself: it fails with ErrViewInWrite instead
// (waitGate). Only the batches' transactions (DB.apply) change nodes in
// place: the background steps (relocation, drops) and the commit log's
// replay at open copy as before. Under the commit log a batch changes
// nodes in place as under Everysec: its redo records are logical (a put,
// a delete, an expiry), and the nodes it changes are in no flush and on
// no page, so neither a replay nor a fallback to the older meta meets
// them.
//
// Invariants: while db.gate is set its state is db.cur, retired, and the
// writer is in a transaction changing nodes in place; a node with
// markInPlace is in the unflushed set and in the flush set (or, freed by
// the transaction, superseded), never in the transaction's dirty set.

// inPlacePause is how long changes in place stop after a reader waited
// for a transaction making them.
const inPlacePause = 50 * time.Millisecond

// A transaction's in-place mode (wtx.ip).
const (
	ipUnknown = iota // not tried yet
	ipOn             // current state retired: nodes past ipFloor change in place
	ipOff            // copies only
)

// gate holds readers while the writer changes the nodes of st (the
// current state) in place; publish closes ch.
type gate struct {
	st *state
	ch chan struct{}
}

// inPlace reports whether committed node n, not of this transaction, may
// change in place, entering in-place mode on first use.
func (w *wtx) inPlace(n *btree.Node) bool {
	if !w.db.flushSet.in(n) || w.ip == ipOff {
		return false // written, or being written: its page is on disk or going there
	}
	if w.ip == ipUnknown {
		w.ip, w.ipFloor = w.db.enterInPlace()
	}
	return w.ip == ipOn && n.Txn > w.ipFloor
}

// enterInPlace retires the states no reader holds, the current one
// included, and returns ipOn and the floor past which nodes may change in
// place, or ipOff when they may not (the current state has readers, a
// reader waited lately, or the store's settings rule it out).
func (db *DB) enterInPlace() (int, uint64) {
	if !db.inPlaceOK {
		return ipOff, 0
	}
	if w := db.gateWaits.Load(); w != db.gateSeen {
		db.gateSeen = w
		db.ipPausedUntil = time.Now().Add(db.ipPause)
	}
	if db.lastApply.Before(db.ipPausedUntil) {
		return ipOff, 0
	}
	_, floor := db.retireIdle()
	cur := db.cur.Load()
	if floor >= cur.txn {
		return ipOff, 0
	}
	g := &gate{st: cur, ch: make(chan struct{})}
	db.gate.Store(g)
	if !cur.refs.CompareAndSwap(0, -1) {
		db.gate.Store(nil)
		return ipOff, 0
	}
	return ipOn, floor
}

// openGate lets the readers waiting on the gate, if any, go on (to the
// state just published, or to the error when the store is torn).
func (db *DB) openGate() {
	if g := db.gate.Swap(nil); g != nil {
		close(g.ch)
	}
}

// tear is called when a transaction ends without publishing (its commit
// failed, or the writer panicked): if it changed nodes in place, the
// current state holds changes never committed, and readers get an error
// (waitGate) instead of waiting for a publish that will not come.
func (db *DB) tear() {
	if db.gate.Load() != nil {
		db.torn.Store(true)
		db.openGate()
	}
}

// waitGate waits while st, the current state, is retired for changes in
// place. It returns at once when the gate is not (or no longer) st's: the
// caller looks again. A wait longer than selfCheckDelay checks whether
// the caller is the write function of the transaction it waits for (a
// View inside a write function, against View's contract), which would
// wait for itself: it fails with ErrViewInWrite instead.
func (db *DB) waitGate(st *state) error {
	if db.torn.Load() {
		return fmt.Errorf("%w: a transaction changing nodes in place failed to commit; reopen the store", ErrFailed)
	}
	g := db.gate.Load()
	if g == nil || g.st != st {
		runtime.Gosched()
		return nil
	}
	db.gateWaits.Add(1)
	t := time.NewTimer(selfCheckDelay)
	defer t.Stop()
	select {
	case <-g.ch:
		return nil
	case <-t.C:
	}
	if insideWrite() {
		return ErrViewInWrite
	}
	<-g.ch
	return nil
}

// selfCheckDelay is how long a reader waits at the gate before it checks
// whether it waits for itself.
const selfCheckDelay = 20 * time.Millisecond

// insideWrite reports whether the calling goroutine is running a write
// function (call is on its stack): then it holds the writer's role.
func insideWrite() bool {
	buf := make([]byte, 1<<20)
	n := runtime.Stack(buf, false)
	return bytes.Contains(buf[:n], []byte("github.com/digby-db/digby/store.call("))
}

// endInPlace clears the marks of the nodes w changed in place (commit).
func (w *wtx) endInPlace() {
	for _, n := range w.inplace {
		n.Mark &^= markInPlace
	}
}
