package commands

import (
	"slices"
	"strconv"

	"github.com/digby-db/digby/store"
)

// Heavy writes (docs/format.md, "Changes in place"). A write submitted
// heavy (store.Pending.Heavy) runs in a transaction that copies, so that
// a reader arriving meanwhile reads the state before it rather than wait
// for it. A write is heavy by what it carries (heavyWrite: its arguments
// pass heavyArgs or heavyBytes; redis-benchmark's ten-key MSET stays
// under) or by what it does (its command's weigher).

const (
	heavyArgs  = 64
	heavyBytes = 64 << 10
)

// A weigher reports whether a write of its command with args, on table
// db, is heavy for what it does rather than what it carries. Commands
// whose work follows their arguments have none (command.weigh nil).
type weigher func(e *Engine, db int, args [][]byte) bool

// heavy reports whether the write cmd with args, on table db, is heavy.
func (e *Engine) heavy(db int, cmd *command, args [][]byte) bool {
	return heavyWrite(args) || cmd.weigh != nil && cmd.weigh(e, db, args)
}

// heavyWrite reports whether the writes of cmds (arguments each) together
// pass heavyArgs arguments or heavyBytes bytes.
func heavyWrite(cmds ...[][]byte) bool {
	n, size := 0, 0
	for _, args := range cmds {
		n += len(args)
		for _, a := range args {
			size += len(a)
		}
		if n > heavyArgs || size > heavyBytes {
			return true
		}
	}
	return false
}

// heavyQueue reports whether an EXEC of queue, queued on table db, is
// heavy: its commands' arguments together (heavyWrite), or one of them by
// its weigher (following the queue's SELECTs).
func (e *Engine) heavyQueue(db int, queue [][][]byte) bool {
	if heavyWrite(queue...) {
		return true
	}
	for _, args := range queue {
		cmd, rejected := e.resolve(args)
		switch {
		case rejected != "":
		case cmd.name == "select" && len(args) == 2:
			if n, err := strconv.Atoi(string(args[1])); err == nil && n >= 0 {
				db = n
			}
		case cmd.kind == kindWrite && cmd.weigh != nil && cmd.weigh(e, db, args):
			return true
		}
	}
	return false
}

// alwaysHeavy weighs RENAME, RENAMENX, COPY and MOVE (a whole value read
// and written) and DBSIZE (it may purge up to dbsizePurge due keys).
func alwaysHeavy(*Engine, int, [][]byte) bool { return true }

// setRangeHeavy weighs SETRANGE: past heavyBytes it makes a value that
// long.
func setRangeHeavy(_ *Engine, _ int, args [][]byte) bool {
	if len(args) != 4 {
		return false
	}
	off, err := strconv.ParseInt(string(args[2]), 10, 64)
	return err == nil && off > heavyBytes-int64(len(args[3]))
}

// getHeavy weighs GETSET, GETDEL and GETEX, which read whole the value
// they return: heavy when it is longer than heavyBytes.
func getHeavy(e *Engine, db int, args [][]byte) bool {
	return len(args) >= 2 && e.longValue(db, args[1])
}

// setHeavy weighs SET: with its GET option it reads the value it returns,
// as getHeavy; without it (nearly every SET) it costs a length check.
func setHeavy(e *Engine, db int, args [][]byte) bool {
	if len(args) < 4 || !slices.ContainsFunc(args[3:], func(a []byte) bool { return eqFold(a, "get") }) {
		return false
	}
	return e.longValue(db, args[1])
}

// longValue reports whether key holds a value longer than heavyBytes in
// table db, looked up in the newest snapshot before submitting (a hint:
// the value may change before the write runs). It waits for a batch
// changing that snapshot in place (View), pausing those changes: guessing
// short when it cannot look (as store.DB.Prefetch skips) would let a
// GETSET of a huge value run among them, and a reader wait for all of
// its reading.
func (e *Engine) longValue(db int, key []byte) bool {
	if uint64(len(key)) > MaxKeyLen {
		return false
	}
	long := false
	_ = e.db.View(func(tx *store.Tx) error {
		t, ok, err := tx.Table(uint32(db)).GetMeta(storedKey(key))
		long = err == nil && ok && t.Len > heavyBytes
		return nil
	})
	return long
}
