package store

import (
	"cmp"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"time"

	"github.com/digby-db/digby/btree"
	"github.com/digby-db/digby/page"
)

// The commit log (Options.CommitLog; docs/format.md, "Commit log").
//
// Without it, an Always-mode batch is acknowledged once the flush holding
// it lands: every page the batch changed (a leaf per random key, their
// branches, the free-space metadata) and the meta, then one fsync. With it,
// the batch's changes are appended to a log file as redo records and that
// append alone is synced; the tree is flushed once a FlushInterval, as in
// Everysec. The price is at open: the records past the newest meta are
// replayed (about one flush interval of writes at most), where a database
// without the log opens instantly. That is why it is opt-in.
//
// Files and generations. Two files, digby.log.0 and digby.log.1. A
// generation starts with every flush (startFlush): the flush makes durable
// every commit up to its state's txn, and the batches committed after it
// are logged in the new generation, in file gen%2 from offset 0. That
// overwrites generation gen-2, whose commits the previous flush made
// durable; that flush landed before this one started (one flush in flight
// at a time), and once a meta has landed open never needs an older one's
// records (it falls back past a newest meta only when that meta is torn or
// its flush incomplete, and then lands on the meta before it, which the
// generation still in the other file continues). Writes to the log files
// go in commit order, one round (writes, then the sync of each file
// written) at a time.
//
// Blocks. A block is one page run sealed by the data file's codec (xxhash64
// or AES-GCM; nonces come from the same counter as the data file's pages,
// so no (key, nonce) pair repeats): header id = its page index in its log
// file, txn = the last commit it holds, type TypeLog; body: prev txn u64,
// next tuple version u64, record count u32, records' length u32, records.
// A block holds the batches committed while the round before it was in
// flight (one block and one write a round, not one a batch: a third of the
// bytes under SET -P 1); prev is the txn of the last commit before its
// first batch that changed what a reader sees, logged or not. A commit the
// log does not hold, and a new generation, end the block being gathered.
//
// Replay (open): every block that verifies, from both files, with txn past
// the meta's, in txn order. The first must have prev <= the meta's txn and
// each next one prev = the txn of the one before it; a break ends the
// replay: a block that did not reach the disk was never acknowledged, and
// neither was any after it. The replayed state is flushed and both files
// are truncated before anything is logged again: txn ids lost in a crash
// are handed out again, and a stale block must never chain into new ones.
//
// What is logged. Table.put, deleteTK and setExpireTK record their result
// (the tuple written, the tree key deleted, the new expiry and version).
// The stale expiry-index entries ExpireDue drops change nothing a reader
// sees and are not logged. Any other change in a batch (ClearTable,
// SwapTables, a value whose bytes the record would not hold, any page
// change outside those operations) makes the batch unloggable: it is
// acknowledged by the flush that holds it, as without the log. Logging
// resumes only once a landed meta holds every change the log lacks
// (unloggedAt <= the newest meta's txn), so no logged block ever builds on
// a change that is neither in the log nor on disk. Meanwhile loggable
// batches are still written to the log (and acknowledged by their flush):
// the log stays whole from the missing change on, so logging resumes as
// soon as the flush holding it lands, however busy the writer.

// Redo record kinds.
const (
	logOpPut    byte = 1
	logOpDelete byte = 2
	logOpExpire byte = 3
	// logOpPutCompressed is logOpPut of a value in its compressed stored
	// form (compress.go), replayed as it is.
	logOpPutCompressed byte = 4
)

const (
	// maxLogValue is the largest value (or key) a record carries; a
	// larger one makes its batch unloggable (its flush is cheap next to
	// writing it anyway).
	maxLogValue = 1 << 20
	// logBodyFixed: prev txn, next version, record count, records' length.
	logBodyFixed = 8 + 8 + 4 + 4
	// maxLogFile is the size past which a log file starts a flush (and
	// so a new generation): it bounds the replay at open.
	maxLogFile = 64 << 20
	// maxLogBlock bounds one batch's records; a bigger batch is
	// acknowledged by a flush instead.
	maxLogBlock = 16 << 20
	// logExtend is the step a log file grows by (with zeros).
	logExtend = 1 << 20
)

// LogPath is commit log file i (0 or 1) of a database directory.
func LogPath(dir string, i int) string {
	return filepath.Join(dir, fmt.Sprintf("%s.%d", logBase, i))
}

const logBase = "digby.log"

// txLog collects the redo records of one write transaction's submissions.
type txLog struct {
	recs       []byte
	n          uint32
	unloggable bool
	depth      int // > 0 inside an operation that records itself
}

func (l *txLog) reset() {
	l.recs, l.n, l.unloggable, l.depth = l.recs[:0], 0, false, 0
}

// begin and end bracket an operation that records its own result: page
// changes inside it are covered by its record.
func (l *txLog) begin() {
	if l != nil {
		l.depth++
	}
}

func (l *txLog) end() {
	if l != nil {
		l.depth--
	}
}

// endErr ends a recording operation that returns *err: one that failed
// may have changed pages without recording them, so the batch is not
// loggable (its caller may go on).
func (l *txLog) endErr(err *error) {
	if l != nil {
		l.depth--
		if *err != nil {
			l.unloggable = true
		}
	}
}

// touched is called for every page the transaction changes: outside a
// recording operation, the change is not in the log.
func (l *txLog) touched() {
	if l != nil && l.depth == 0 {
		l.unloggable = true
	}
}

func (l *txLog) head(op byte, table uint32, key []byte) {
	l.recs = append(l.recs, op)
	l.recs = binary.LittleEndian.AppendUint32(l.recs, table)
	l.recs = binary.LittleEndian.AppendUint32(l.recs, uint32(len(key)))
	l.recs = append(l.recs, key...)
	l.n++
	if len(l.recs) > maxLogBlock {
		l.unloggable = true
	}
}

// put records key (the whole key) written with v.
func (l *txLog) put(table uint32, key []byte, v *btree.Value) {
	if l == nil || l.unloggable {
		return
	}
	if !v.Ovf.IsZero() || (v.Data == nil && v.Len > 0) || len(v.Data) > maxLogValue || len(key) > maxLogValue {
		l.unloggable = true // the record would not hold the value's bytes
		return
	}
	op := logOpPut
	if v.Compressed {
		op = logOpPutCompressed
	}
	l.head(op, table, key)
	l.recs = append(l.recs, v.Type)
	l.recs = binary.LittleEndian.AppendUint64(l.recs, v.Version)
	l.recs = binary.LittleEndian.AppendUint64(l.recs, uint64(v.ExpireAt))
	l.recs = binary.LittleEndian.AppendUint32(l.recs, uint32(len(v.Data)))
	l.recs = append(l.recs, v.Data...)
	if len(l.recs) > maxLogBlock {
		l.unloggable = true
	}
}

// del records the deletion of tree key tk.
func (l *txLog) del(table uint32, tk []byte) {
	if l == nil || l.unloggable {
		return
	}
	l.head(logOpDelete, table, tk)
}

// expire records tree key tk's new expiry and version.
func (l *txLog) expire(table uint32, tk []byte, at int64, version uint64) {
	if l == nil || l.unloggable {
		return
	}
	l.head(logOpExpire, table, tk)
	l.recs = binary.LittleEndian.AppendUint64(l.recs, uint64(at))
	l.recs = binary.LittleEndian.AppendUint64(l.recs, version)
}

// logMark is a savepoint's position in a txLog.
type logMark struct {
	len        int
	n          uint32
	unloggable bool
}

func (l *txLog) mark() logMark {
	if l == nil {
		return logMark{}
	}
	return logMark{len(l.recs), l.n, l.unloggable}
}

func (l *txLog) rollback(m logMark) {
	if l != nil {
		l.recs, l.n, l.unloggable, l.depth = l.recs[:m.len], m.n, m.unloggable, 0
	}
}

// encodeLogBlock seals a block holding l's records at page index id of its
// file, for commit txn.
func encodeLogBlock(c *page.Codec, ps int, id, txn, prev, nextVersion uint64, l *txLog) ([]byte, error) {
	if uint64(len(l.recs)) > math.MaxUint32 {
		return nil, fmt.Errorf("log block of %d bytes", len(l.recs))
	}
	size := page.HeaderSize + logBodyFixed + len(l.recs) + c.Overhead()
	pages := (size + ps - 1) / ps
	buf := make([]byte, pages*ps)
	page.PutHeader(buf, page.Header{ID: id, Txn: txn, Type: page.TypeLog, Overflow: uint32(pages - 1)})
	b := buf[page.HeaderSize:]
	binary.LittleEndian.PutUint64(b, prev)
	binary.LittleEndian.PutUint64(b[8:], nextVersion)
	binary.LittleEndian.PutUint32(b[16:], l.n)
	binary.LittleEndian.PutUint32(b[20:], uint32(len(l.recs)))
	copy(b[logBodyFixed:], l.recs)
	if err := c.Seal(buf); err != nil {
		return nil, err
	}
	return buf, nil
}

// logBlock is a verified, decoded block.
type logBlock struct {
	file        int
	id          uint64 // page index in its file
	txn, prev   uint64
	nextVersion uint64
	n           uint32
	recs        []byte
}

// decodeLogBlock decodes the body of a run Codec.Open verified.
func decodeLogBlock(body []byte, h page.Header) (logBlock, error) {
	b := body[page.HeaderSize:]
	if len(b) < logBodyFixed {
		return logBlock{}, &page.CorruptError{ID: h.ID, Reason: "log block shorter than its header"}
	}
	size := binary.LittleEndian.Uint32(b[20:])
	if uint64(size) > uint64(len(b)-logBodyFixed) {
		return logBlock{}, &page.CorruptError{ID: h.ID, Reason: fmt.Sprintf("log block records of %d bytes overrun the block", size)}
	}
	return logBlock{
		id: h.ID, txn: h.Txn,
		prev:        binary.LittleEndian.Uint64(b),
		nextVersion: binary.LittleEndian.Uint64(b[8:]),
		n:           binary.LittleEndian.Uint32(b[16:]),
		recs:        b[logBodyFixed : logBodyFixed+int(size)],
	}, nil
}

// readLogFile returns the blocks of one log file that verify, from its
// start up to the first that does not, and, unless that is the end of the
// file or a page of zeros (where the file was grown ahead), why it is not
// a block: a block torn by a crash, or a damaged one.
func readLogFile(b page.Backend, c *page.Codec, ps int) ([]logBlock, string) {
	var out []logBlock
	head := make([]byte, ps)
	maxPages := (maxLogBlock+logBodyFixed+page.HeaderSize+c.Overhead())/ps + 1
	for off := int64(0); ; {
		id := uint64(off) / uint64(ps)
		stop := func(reason string) string { return fmt.Sprintf("page %d: %s", id, reason) }
		if n, _ := b.ReadAt(head, off); n != ps {
			if n > 0 {
				return out, stop("cut short")
			}
			return out, ""
		}
		if !slices.ContainsFunc(head, func(x byte) bool { return x != 0 }) {
			return out, ""
		}
		h := page.ReadHeader(head)
		// Overflow compared as uint64: h is not verified yet, and on 32-bit
		// Pages (int) would wrap past 2^31 pages.
		if h.Type != page.TypeLog || h.ID != id || uint64(h.Overflow)+1 > uint64(maxPages) {
			return out, stop("not a log block")
		}
		buf := make([]byte, h.Pages()*ps)
		if n, _ := b.ReadAt(buf, off); n != len(buf) {
			return out, stop("cut short")
		}
		body, h, err := c.Open(buf, id, page.TypeLog, 0, ps)
		if err != nil {
			return out, stop(err.Error())
		}
		blk, err := decodeLogBlock(body, h)
		if err != nil {
			return out, stop(err.Error())
		}
		out = append(out, blk)
		off += int64(len(buf))
	}
}

// replayChain orders the blocks past txn and keeps the chain that
// continues it: the first with prev <= txn, each next with prev = the txn
// of the one before. It also returns why it stopped early, if it did.
func replayChain(blocks []logBlock, txn uint64) ([]logBlock, string) {
	var past []logBlock
	for _, b := range blocks {
		if b.txn > txn {
			past = append(past, b)
		}
	}
	slices.SortFunc(past, func(a, b logBlock) int { return cmp.Compare(a.txn, b.txn) })
	last := txn
	for i, b := range past {
		if (i == 0 && b.prev > txn) || (i > 0 && b.prev != last) {
			return past[:i], fmt.Sprintf("log block of txn %d (%s page %d) follows txn %d, not %d: %d blocks from it not replayed", b.txn, logName(b.file), b.id, b.prev, last, len(past)-i)
		}
		last = b.txn
	}
	return past, ""
}

func logName(i int) string { return fmt.Sprintf("%s.%d", logBase, i) }

// errLogRecord reports a record that does not parse.
var errLogRecord = errors.New("malformed log record")

// applyLogBlock applies a block's records in tx (the writer's, not logged).
func applyLogBlock(tx *Tx, b logBlock) error {
	r := b.recs
	bad := func(i uint32) error {
		return fmt.Errorf("%s page %d (txn %d), record %d: %w: %w", logName(b.file), b.id, b.txn, i, errLogRecord, ErrCorrupt)
	}
	le := binary.LittleEndian
	for i := uint32(0); i < b.n; i++ {
		if len(r) < 9 {
			return bad(i)
		}
		op, table, klen := r[0], le.Uint32(r[1:]), le.Uint32(r[5:])
		r = r[9:]
		if uint64(len(r)) < uint64(klen) {
			return bad(i)
		}
		key := r[:klen]
		r = r[klen:]
		t := tx.Table(table)
		switch op {
		case logOpPut, logOpPutCompressed:
			if len(r) < 21 {
				return bad(i)
			}
			v := btree.Value{Type: r[0], Version: le.Uint64(r[1:]), ExpireAt: int64(le.Uint64(r[9:]))}
			vlen := le.Uint32(r[17:])
			r = r[21:]
			if uint64(len(r)) < uint64(vlen) || v.Version == 0 {
				return bad(i)
			}
			v.Data, v.Len = r[:vlen:vlen], uint64(vlen)
			r = r[vlen:]
			if v.Compressed = op == logOpPutCompressed; v.Compressed {
				// Stored as it is: it must decode, and fit a leaf.
				if _, err := decodeCompressed(v.Data); err != nil || int(vlen) > btree.InlineMax(tx.db.usable()) {
					return bad(i)
				}
			}
			if err := t.put(key, &v); err != nil {
				return err
			}
		case logOpDelete:
			if _, err := t.deleteTK(key); err != nil {
				return err
			}
		case logOpExpire:
			if len(r) < 16 {
				return bad(i)
			}
			at, version := int64(le.Uint64(r)), le.Uint64(r[8:])
			r = r[16:]
			if _, err := t.setExpireTK(key, at, version); err != nil {
				return err
			}
		default:
			return bad(i)
		}
	}
	if len(r) != 0 {
		return bad(b.n)
	}
	if b.nextVersion > tx.nextVersion {
		tx.nextVersion = b.nextVersion
	}
	return nil
}

// commitLog is the writer's log state (writer goroutine only, but for the
// round in flight, which only reads its writes).
type commitLog struct {
	files [2]page.Backend
	off   [2]int64 // next block's offset in each file
	size  [2]int64 // each file's size as written so far
	gen   uint64   // blocks go to file gen%2
	// lastLogical is the txn of the last commit that changed what readers
	// see; unloggedAt that of the last such commit the log does not hold.
	lastLogical, unloggedAt uint64
	queue                   []logWrite
	inflight                *logRound
	buf                     txLog // reused by every batch
	// open gathers the batches committed while a round is in flight into
	// one block, sealed when the next round starts (one block, one write
	// a round, not one a batch): its records, the commits it covers
	// (openPrev, txn], and the waiters they acknowledge.
	open              txLog
	openActive        bool
	openPrev, openTxn uint64
	openNextVersion   uint64
	openWaiters       []*Pending
	// Counters for Stats (read by any goroutine).
	blocks, bytes, syncs atomic.Uint64
}

type logWrite struct {
	file    int
	off     int64
	buf     []byte // nil: only waiters
	zeros   bool   // buf grows the file ahead, not a block
	waiters []*Pending
}

// logRound writes queued blocks in order, then syncs each file written.
type logRound struct {
	writes []logWrite
	err    error
	done   chan struct{}
}

func (r *logRound) run(files [2]page.Backend) {
	defer close(r.done)
	var touched [2]bool
	for _, w := range r.writes {
		if w.buf == nil {
			continue // only waiters
		}
		if _, err := files[w.file].WriteAt(w.buf, w.off); err != nil {
			r.err = fmt.Errorf("%s: write at %d: %w", logName(w.file), w.off, err)
			return
		}
		touched[w.file] = true
	}
	for i, f := range files {
		if touched[i] {
			if err := page.SyncBackend(f); err != nil {
				r.err = fmt.Errorf("%s: %w", logName(i), err)
				return
			}
		}
	}
	// Durable: answer the round's batches here, not after the writer
	// goroutine gets to finishLog (it may wait for wmu while a submitter
	// leads a batch). finishLog's answers to them are then no-ops.
	for _, w := range r.writes {
		for _, p := range w.waiters {
			p.finish(nil)
		}
	}
}

// openLogs opens (creating) both log files.
func openLogs(dir string, open func(string) (page.Backend, error)) ([2]page.Backend, error) {
	var files [2]page.Backend
	for i := range files {
		var err error
		if open != nil {
			files[i], err = open(LogPath(dir, i))
		} else {
			files[i], err = os.OpenFile(LogPath(dir, i), os.O_RDWR|os.O_CREATE, 0o644)
		}
		if err != nil {
			for _, f := range files[:i] {
				f.Close()
			}
			return files, fmt.Errorf("open %s: %w", LogPath(dir, i), err)
		}
	}
	return files, nil
}

// logging reports whether a batch may be acknowledged through the log:
// the option is on, the mode is Always, and a landed meta holds every
// change the log lacks.
func (db *DB) logging() bool {
	c := db.clog
	if c == nil || db.opts.Durability != Always || db.Failed() != nil {
		return false
	}
	m := db.newestMeta()
	return m != nil && c.unloggedAt <= m.Txn
}

// logBuffer is where a batch collects its records: with the commit log in
// Always mode every batch does, whether or not its records may answer it
// (logCommit); nil otherwise.
func (db *DB) logBuffer() *txLog {
	if db.clog == nil || db.opts.Durability != Always || db.Failed() != nil {
		return nil
	}
	db.clog.buf.reset()
	return &db.clog.buf
}

// logCommit takes the batch committed in tx, with the records rec
// collected (nil if none were), to the log. It reports whether the batch
// is answered here: through the log when logging is on, or with the error
// of a log it could not add to; otherwise the caller answers it (in Always
// mode, by the flush that holds it).
func (db *DB) logCommit(tx *Tx, rec *txLog, batch []*Pending) bool {
	c, txn := db.clog, tx.w.txn
	changed := db.cur.Load().txn == txn
	// A store that failed during the batch (an overflow write) answers
	// it with the failure, as a flush would.
	if rec == nil || db.Failed() != nil || (changed && rec.unloggable) {
		if changed {
			// Not in the log: logging waits until a landed meta holds
			// it. The open block ends before it.
			db.sealLog()
			c.unloggedAt, c.lastLogical = txn, txn
		}
		return false
	}
	answer := db.logging()
	if !changed {
		if answer {
			db.logWait(batch)
		}
		return answer
	}
	// While logging waits for a flush to hold the last change the log
	// lacks, the batch is answered by its flush, but its records are
	// logged all the same: the log stays whole from that change on, and
	// logging resumes as soon as the flush lands (were loggable batches
	// counted as missing too, under steady writes each flush would land
	// a batch short and logging would never resume).
	var waiters []*Pending
	if answer {
		waiters = batch
	}
	if err := db.logBatch(txn, tx.nextVersion, rec, waiters); err != nil {
		db.ackWaiters(batch, db.fail(err))
		return true
	}
	return answer
}

// logBatch adds the batch committed as txn to the open block (its waiters,
// if any, acknowledged when that block is synced), and starts a flush when
// one is due (as Everysec does) or the log file has grown past maxLogFile.
func (db *DB) logBatch(txn, nextVersion uint64, rec *txLog, batch []*Pending) error {
	c := db.clog
	if c.openActive && len(c.open.recs)+len(rec.recs) > maxLogBlock {
		// A block stays within what a replay reads (a batch alone
		// does: past maxLogBlock it is unloggable).
		if err := db.sealLog(); err != nil {
			return err
		}
	}
	if !c.openActive {
		c.open.reset()
		c.openActive, c.openPrev, c.openWaiters = true, c.lastLogical, nil
	}
	c.open.recs = append(c.open.recs, rec.recs...)
	c.open.n += rec.n
	c.openTxn, c.openNextVersion = txn, nextVersion
	c.openWaiters = append(c.openWaiters, batch...)
	c.lastLogical = txn
	db.kickLog()
	f := int(c.gen % 2)
	if c.off[f] >= maxLogFile || time.Since(time.UnixMilli(db.lastFlush.Load())) >= db.opts.FlushInterval {
		db.kickFlush()
	}
	return nil
}

// sealLog encodes the open block, if any, and queues its write (after
// growing the file ahead if needed). It must run before anything that
// separates the open block from what follows: a round's start, a commit
// the log does not hold, a new generation. On error the store has failed
// and the block's waiters are answered with it.
func (db *DB) sealLog() error {
	c := db.clog
	if !c.openActive {
		return nil
	}
	c.openActive = false
	f := int(c.gen % 2)
	buf, err := encodeLogBlock(db.file.Codec(), db.ps, uint64(c.off[f])/uint64(db.ps), c.openTxn, c.openPrev, c.openNextVersion, &c.open)
	if err != nil {
		err = db.fail(err)
		db.ackWaiters(c.openWaiters, err)
		return err
	}
	if end := c.off[f] + int64(len(buf)); end > c.size[f] {
		// Grow the file ahead with zeros, logExtend at a time: a sync
		// of an append also writes the file's new size (a journal
		// commit on ext4), one of blocks written over allocated space
		// only the data. (A zero page ends a replay's read: type 0.)
		n := max(end-c.size[f], logExtend)
		c.queue = append(c.queue, logWrite{file: f, off: c.size[f], buf: make([]byte, n), zeros: true})
		c.size[f] += n
	}
	c.queue = append(c.queue, logWrite{file: f, off: c.off[f], buf: buf, waiters: c.openWaiters})
	c.off[f] += int64(len(buf))
	c.openWaiters = nil
	return nil
}

// logWait acknowledges a batch that changed nothing once every block
// before it is synced, as it would be were it logged: what it read is then
// durable too.
func (db *DB) logWait(batch []*Pending) {
	c := db.clog
	if c.openActive {
		c.openWaiters = append(c.openWaiters, batch...)
	} else {
		c.queue = append(c.queue, logWrite{file: -1, waiters: batch})
	}
	db.kickLog()
}

// kickLog starts a round with everything queued unless one is in flight.
// A round that has ended is finished first (whoever holds the writer's
// role first after its end does it, which starts the next).
func (db *DB) kickLog() {
	c := db.clog
	if r := c.inflight; r != nil {
		select {
		case <-r.done:
			db.finishLog(r) // kicks again
		default:
		}
		return
	}
	if err := db.sealLog(); err != nil {
		for _, w := range c.queue { // the store failed: nothing more is written
			db.ackWaiters(w.waiters, err)
		}
		c.queue = nil
		return
	}
	if len(c.queue) == 0 {
		return
	}
	r := &logRound{writes: c.queue, done: make(chan struct{})}
	c.queue = nil
	c.inflight = r
	go func() {
		r.run(c.files)
		// Finish it here when the writer's role is free, so the next
		// round starts now; else its holder or the writer goroutine
		// will (kickLog, run).
		if db.wmu.TryLock() {
			if db.logRound() == r {
				db.finishLog(r)
			}
			db.wmu.Unlock()
		}
		notify(db.ended)
	}()
}

// finishLog acknowledges a round's batches and starts the next round. A
// write or sync error fails the store (and every batch queued behind).
func (db *DB) finishLog(r *logRound) {
	c := db.clog
	c.inflight = nil
	var err error
	if r.err != nil {
		err = db.fail(r.err)
	}
	synced := false
	for _, w := range r.writes {
		if w.buf != nil && !w.zeros {
			c.blocks.Add(1)
			c.bytes.Add(uint64(len(w.buf)))
		}
		synced = synced || w.buf != nil
		db.ackWaiters(w.waiters, err)
	}
	if synced && err == nil {
		c.syncs.Add(1)
	}
	if err != nil {
		for _, w := range c.queue {
			db.ackWaiters(w.waiters, err)
		}
		c.queue = nil
		if c.openActive {
			c.openActive = false
			db.ackWaiters(c.openWaiters, err)
			c.openWaiters = nil
		}
		return
	}
	db.kickLog()
}

// waitLog writes and syncs everything queued, and waits for it.
func (db *DB) waitLog() {
	c := db.clog
	for c != nil && (c.inflight != nil || len(c.queue) > 0 || c.openActive) {
		db.kickLog()
		r := c.inflight
		if r == nil {
			return // the store failed: everything was answered
		}
		<-r.done
		db.finishLog(r)
	}
}

// openLog replays the commit log past the meta open chose, if the files
// exist, flushes the result and empties the files; then, with
// Options.CommitLog, keeps them for logging (creating them if needed).
// It runs in Open before the writer goroutine starts.
func (db *DB) openLog() error {
	exist := false
	for i := range 2 {
		if _, err := os.Stat(LogPath(db.dir, i)); err == nil {
			exist = true
		}
	}
	if !exist && !db.opts.CommitLog {
		return nil
	}
	files, err := openLogs(db.dir, db.opts.OpenFile)
	if err != nil {
		return err
	}
	keep := false
	defer func() {
		if !keep {
			for _, f := range files {
				f.Close()
			}
		}
	}()
	var blocks []logBlock
	var ends []string
	for i, f := range files {
		bs, end := readLogFile(f, db.file.Codec(), db.ps)
		for _, b := range bs {
			b.file = i
			blocks = append(blocks, b)
		}
		if end != "" {
			ends = append(ends, fmt.Sprintf("%s ends at %s", logName(i), end))
		}
	}
	from := db.cur.Load().txn
	chain, broken := replayChain(blocks, from)
	if len(ends) > 0 && (len(chain) > 0 || broken != "") {
		// Where the log stopped matters only if it held something to
		// replay: a torn last block after a crash, or damage.
		if broken != "" {
			ends = append([]string{broken}, ends...)
		}
		broken = strings.Join(ends, "; ")
	}
	if len(chain) > 0 {
		// The replay commits past every block read, so that once its
		// flush lands no block in the files is past the meta: a crash
		// before they are emptied below must neither replay the chain a
		// second time nor let a block that followed a lost one (a torn
		// block, a batch the log did not hold) chain onto the replay's
		// commit, whose txn would otherwise be the lost one's.
		for _, b := range blocks {
			db.nextTxn = max(db.nextTxn, b.txn+1)
		}
		tx := db.beginWrite()
		for _, b := range chain {
			if err := applyLogBlock(tx, b); err != nil {
				return err
			}
		}
		if err := db.commit(tx); err != nil {
			return fmt.Errorf("replaying the commit log: %w", err)
		}
		if err := db.flush(); err != nil {
			return fmt.Errorf("flushing the replayed commit log: %w", err)
		}
		db.noteRecovered(fmt.Sprintf("replayed %d commit log blocks (txns %d to %d) onto txn %d", len(chain), chain[0].txn, chain[len(chain)-1].txn, from))
	}
	db.noteRecovered(broken)
	// Nothing in the files may chain into the txns handed out from here
	// on (those a crash lost are handed out again): empty them durably.
	for i, f := range files {
		if err := f.Truncate(0); err != nil {
			return fmt.Errorf("%s: truncate: %w", logName(i), err)
		}
		if err := page.SyncBackend(f); err != nil {
			return fmt.Errorf("%s: %w", logName(i), err)
		}
	}
	if !db.opts.CommitLog {
		for i, f := range files {
			f.Close()
			if err := os.Remove(LogPath(db.dir, i)); err != nil && !os.IsNotExist(err) {
				return err
			}
		}
		keep = true // closed already
		return syncDir(db.dir)
	}
	if !exist {
		// New files: their directory entries must be durable before a
		// write is acknowledged through them.
		if err := syncDir(db.dir); err != nil {
			return fmt.Errorf("%s: %w", db.dir, err)
		}
	}
	keep = true
	db.clog = &commitLog{files: files, lastLogical: db.cur.Load().txn}
	return nil
}
