package store

import (
	"cmp"
	"encoding/binary"
	"slices"
	"sync/atomic"
	"time"

	"github.com/digby-db/digby/btree"
	"github.com/digby-db/digby/page"
)

// maxWrite bounds one coalesced write of consecutive pages.
const maxWrite = 1 << 20

// flushJob is one flush: prepared in the writer goroutine (startFlush),
// encoded, written and synced possibly in its own goroutine (run) while the
// writer goes on applying batches, and finished in the writer
// (finishFlush). The writer's part is what needs its state (the flush
// set, the allocator); encoding the pages, the costly part, happens in run:
// done in startFlush it held the writer for 30-70 ms a second under
// SET -P 16, every reply queued behind it.
type flushJob struct {
	nodes   []*btree.Node  // the flush set this job writes
	known   []page.RunSum  // runs written before the flush (overflow, free-map chunks)
	dir     *page.FreeDir  // the free-space directory, sealed in run
	bufs    []pendingWrite // the free-map chunks, sealed in startFlush, written first by run
	meta    *page.Meta     // written last, then the one sync
	split   bool           // encode on a second goroutine while run writes: someone waits for this flush
	cached  []*btree.Node  // compacted copies of nodes, for the cache (run)
	pages   pageArray      // the backing array of the tree pages' runs
	waiters []*Pending     // Always-mode submitters acknowledged when it lands
	err     error
	done    chan struct{}
}

// idNode is a node with its page id, for sorting.
type idNode struct {
	id uint64
	n  *btree.Node
}

type pendingWrite struct {
	id  uint64
	buf []byte
}

// flush makes the newest committed state durable and waits for it.
// Holder of the writer's role only (wmu).
func (db *DB) flush() error {
	if err := db.waitFlush(); err != nil {
		db.ackWaiters(db.waiters, err)
		db.waiters = nil
		return err
	}
	job := db.startFlush()
	if job == nil {
		err := db.Failed()
		db.ackWaiters(db.waiters, err)
		db.waiters = nil
		return err
	}
	job.split = true
	job.run(db)
	return db.finishFlush(job)
}

// kickFlush starts a flush in the background unless one is in flight.
// Always-mode submitters waiting so far are acknowledged when it lands.
func (db *DB) kickFlush() {
	if j := db.inflight; j != nil {
		select {
		case <-j.done: // ended: finish it, then start the next
			db.finishFlush(j)
			if len(db.waiters) == 0 {
				// Only Always's waiters start one at once: the callers'
				// interval check read the time of the flush before.
				return
			}
		default:
			return
		}
	}
	job := db.startFlush()
	if job == nil {
		db.ackWaiters(db.waiters, db.Failed())
		db.waiters = nil
		return
	}
	db.inflight = job
	// Always-mode submitters wait for this flush: finishing it sooner
	// comes first. Otherwise one goroutine leaves a core to the writer.
	job.split = len(job.waiters) > 0
	go func() {
		job.run(db)
		close(job.done)
		// Finish it here when the writer's role is free, so that the
		// next flush (Always: the batches committed meanwhile) starts
		// now; else its holder or the writer goroutine will (kickFlush,
		// run).
		if db.wmu.TryLock() {
			if db.inflight == job {
				db.finishFlush(job)
				if len(db.waiters) > 0 {
					db.kickFlush()
				}
			}
			db.wmu.Unlock()
		}
		notify(db.ended)
	}()
}

// waitFlush waits for the flush in flight, if any, and finishes it.
func (db *DB) waitFlush() error {
	if db.inflight == nil {
		return db.Failed()
	}
	<-db.inflight.done
	return db.finishFlush(db.inflight)
}

// startFlush prepares a flush of the newest committed state (DESIGN §2 and
// docs/format.md): it takes the flush set, writes the free-space state
// but for the directory's list of runs, and builds the meta for the slot
// not holding the newest valid meta. It returns nil when there is nothing
// to flush (or the store failed).
func (db *DB) startFlush() *flushJob {
	if db.Failed() != nil {
		return nil
	}
	st := db.cur.Load()
	newest := db.newestMeta()
	if st.txn == newest.Txn {
		return nil
	}
	if db.clog != nil {
		// Batches committed from here on are past this flush's state:
		// they start a log generation (commitlog.go); the open block
		// ends in the generation before.
		if db.sealLog() != nil {
			return nil
		}
		db.clog.gen++
		db.clog.off[db.clog.gen%2] = 0
	}
	job := &flushJob{nodes: db.flushSet.take(), waiters: db.waiters, pages: db.flushBuf, done: make(chan struct{})}
	db.flushBuf = pageArray{}
	db.waiters = nil
	db.alloc.PrepareFlush(newest.Txn)
	// From here on, pages allocated so far are reachable from this flush's
	// meta: they are no longer fresh.
	db.alloc.Flushed()
	collect := func(id uint64, buf []byte) error {
		db.flushed[id] = page.RunSum{ID: id, Pages: uint32(len(buf) / db.ps), Sum: binary.LittleEndian.Uint64(buf)}
		job.bufs = append(job.bufs, pendingWrite{id, buf})
		return nil
	}
	// The directory lists every run written since the last flush: those
	// recorded so far (overflow runs, the chunks just written) and each
	// tree page, one run each.
	runs := func() int { return len(db.flushed) + len(job.nodes) }
	dir, hwm, err := db.alloc.WriteFreespace(st.txn, collect, runs)
	if err != nil {
		db.flushBuf = job.pages // this job never runs: Close releases it
		db.ackWaiters(job.waiters, db.fail(err))
		return nil
	}
	job.dir = dir
	job.known = db.flushedRuns()
	db.flushed = emptied(db.flushed, keptFlushedRuns) // listed by this flush's directory
	// One sync for pages and meta together: the directory lists every run
	// this flush wrote with its checksum, and open verifies them before
	// trusting a meta marked MetaSingleSync (see verifyFlush). The runs
	// only went to pages no meta on disk reaches, so the previous meta
	// stays complete whatever part of this flush is lost.
	job.meta = &page.Meta{
		Slot: db.olderSlot(), Version: page.FormatVersion, PageSize: uint32(db.ps), Flags: page.MetaSingleSync,
		Txn: st.txn, Catalog: st.catalog, Freedir: dir.Ref, HWM: hwm, NextVersion: st.nextVersion,
		Epoch: newest.Epoch,
	}
	return job
}

// run writes the job's free-map chunks, encodes and writes its tree
// pages, completes and writes its directory, then its meta, then syncs
// once. It touches no writer state (the nodes it encodes are committed, so
// never change), so it may run beside the writer.
//
// The pages are written as they are encoded, and the kernel is asked to
// start putting each 256 KiB written on the device (writeback): the disk
// works while later pages are encoded and written, and the sync waits only
// for the tail. Measured on bench RandPut (1,000-put durable transactions,
// about 1,000 pages a flush): 14-15 s of the run's writes and syncs
// against 18-20 s when every page was encoded, then written, then synced.
func (job *flushJob) run(db *DB) {
	wb := writeback{ps: db.ps, start: db.file.StartWriteback}
	for _, w := range job.bufs { // free-map chunks, sealed in startFlush
		if job.err = db.writeRun(w.id, w.buf); job.err != nil {
			return
		}
		wb.wrote(w.id, len(w.buf)/db.ps)
	}
	sums, err := job.writeNodes(db, &wb)
	if err != nil {
		job.err = err
		return
	}
	list := append(job.known, sums...)
	slices.SortFunc(list, func(a, b page.RunSum) int { return cmp.Compare(a.ID, b.ID) })
	dir, err := job.dir.Seal(list)
	if err != nil {
		job.err = err
		return
	}
	if job.err = db.writeRun(job.dir.Ref.ID, dir); job.err != nil {
		return
	}
	buf := make([]byte, db.ps)
	if job.err = db.file.Codec().EncodeMeta(job.meta, buf); job.err != nil {
		return
	}
	if job.err = db.writeRun(job.meta.Slot, buf); job.err != nil {
		return
	}
	// While the sync waits on the disk, copy the nodes for the cache
	// without the replaced values and spare room a chain of clones
	// gathered (a fifth of a leaf under random overwrites), where that
	// saves at least a fifth; committed nodes are only read, so this is
	// safe beside the writer. A node a later commit freed meanwhile is
	// not cached (finishFlush): under random writes to a large tree that
	// was 85% of a flush's nodes, each copied for nothing.
	compacted := make(chan []*btree.Node, 1)
	go func() { compacted <- cacheCopies(job.nodes) }()
	if job.err = db.sync(); job.err == nil {
		// Durable: answer the flush's batches here, not after the
		// writer's role gets to finishFlush (whose answers to them are
		// then no-ops; a failure to cut the file's tail there fails the
		// store, not these batches, which are on disk).
		for _, p := range job.waiters {
			p.finish(nil)
		}
	}
	job.cached = <-compacted
}

// cacheCopies returns what of a flush's nodes the cache is to take
// (finishFlush): neither the leaves a sequential load left Filled nor the
// nodes a later commit freed, and a compacted copy of each node that
// compacting makes at least a fifth smaller.
func cacheCopies(nodes []*btree.Node) []*btree.Node {
	out := make([]*btree.Node, 0, len(nodes))
	for _, n := range nodes {
		if n.Filled() || n.Freed() {
			continue
		}
		if n.CompactedSize() < n.MemSize()*4/5 {
			n = n.Compacted()
		}
		out = append(out, n)
	}
	return out
}

// finishFlush makes a written flush the newest state on disk: its pages
// move from the unflushed set to the cache, the pages it freed become
// reusable, the free tail is cut, and its waiters are acknowledged.
// Holder of the writer's role only (wmu): the writer goroutine, a leading submitter, or the flush's own goroutine once TryLock got the role.
func (db *DB) finishFlush(job *flushJob) error {
	if db.inflight == job {
		db.inflight = nil
	}
	// Its pages are written (or abandoned): the next flush reuses the
	// window, at most 2*flushHalf bytes (writeNodes), rather than fault
	// in fresh memory. (db.flushBuf is empty here: startFlush gave it to
	// this job, the only one.)
	db.flushBuf = job.pages
	job.pages = pageArray{}
	if job.err != nil {
		err := db.fail(job.err)
		db.ackWaiters(job.waiters, err)
		return err
	}
	db.metas[job.meta.Slot] = job.meta
	db.alloc.Landed()
	// A leaf a sequential load left full is not cached (run leaves it
	// out): nothing is likely to read it soon, and caching every one
	// grows the heap by the load's size, fresh memory the kernel faults
	// in page by page (a third of a 1,000,000-key load's time). A read
	// that wants it decodes it from the file then.
	for _, n := range job.cached {
		// A page freed by a commit while this flush ran is already
		// superseded: caching it would only take room until its release.
		// Cached before it leaves the unflushed set: a node cached as it
		// is keeps its remembered pointers (btree/swizzle.go).
		if !db.alloc.IsPending(n.ID) {
			db.cache.Put(n.ID, n, n.MemSize())
		}
	}
	db.umu.Lock()
	for _, n := range job.nodes {
		db.dropUnflushed(n.ID)
	}
	db.nUnflushed.Store(int64(db.unflushed.len()))
	db.umu.Unlock()
	db.release()
	var err error
	if h, ok := db.alloc.Shrink(db.shrinkMin()); ok {
		if err = db.file.Truncate(h); err == nil {
			err = db.sync()
		}
		if err != nil {
			err = db.fail(err)
		}
	}
	db.lastFlush.Store(time.Now().UnixMilli())
	db.flushes.Add(1)
	db.publishCounts()
	db.ackWaiters(job.waiters, err)
	return err
}

// ackWaiters answers submissions: a batch at its commit, Always-mode
// ones when their flush lands, commit-log ones when their records are
// synced; an error replaces the result of those that had succeeded. One
// answered already (a batch answered before a panic that applyGuarded
// answers again) is left as it was: finish answers once.
func (db *DB) ackWaiters(ps []*Pending, err error) {
	for _, p := range ps {
		p.finish(err)
	}
}

func (db *DB) sync() error {
	db.syncs.Add(1)
	return db.file.Sync()
}

// writeRecorded writes a sealed run and records its checksum for the
// flush's list of written runs.
func (db *DB) writeRecorded(id uint64, buf []byte) error {
	db.flushed[id] = page.RunSum{ID: id, Pages: uint32(len(buf) / db.ps), Sum: binary.LittleEndian.Uint64(buf)}
	return db.writeRun(id, buf)
}

// keptFlushedRuns is the most runs a flush may have listed for the next
// one to reuse their map (emptied).
const keptFlushedRuns = 4096

// flushedRuns lists the runs written since the last flush, by page id.
func (db *DB) flushedRuns() []page.RunSum {
	out := make([]page.RunSum, 0, len(db.flushed))
	for _, r := range db.flushed {
		out = append(out, r)
	}
	slices.SortFunc(out, func(a, b page.RunSum) int { return cmp.Compare(a.ID, b.ID) })
	return out
}

func (db *DB) writeRun(id uint64, buf []byte) error {
	db.written.Add(uint64(len(buf)))
	return db.file.Write(id, buf)
}

// writeNodes seals the flush set's pages in page order, coalescing
// neighbours into runs of at most maxWrite bytes, writes each run, and
// returns each page's checksum for the directory's list. The pages pass
// through a window of at most two halves of flushHalf bytes (job.pages,
// kept from one flush to the next): a run is encoded into the window,
// written, and its room reused, so a flush of any size holds at most
// 2*flushHalf bytes of encoded pages besides its nodes.
//
// Encoding (copy, checksum or seal) is the costly part of the CPU's work
// and each page is independent. A flush someone waits for encodes on a
// second goroutine while this one writes the runs it has finished, in
// order; other flushes run beside the writer and leave it the other core,
// so they encode and write in turn on this goroutine. Committed nodes
// never change, so they are read safely.
func (job *flushJob) writeNodes(db *DB, wb *writeback) ([]page.RunSum, error) {
	codec := db.file.Codec()
	// In page order; sorted as (id, node) pairs, so that the sort's
	// compares do not go to each node.
	byID := make([]idNode, len(job.nodes))
	for i, n := range job.nodes {
		byID[i] = idNode{n.ID, n}
	}
	slices.SortFunc(byID, func(a, b idNode) int { return cmp.Compare(a.id, b.id) })
	ids := make([]uint64, len(byID)) // runEnds's view
	for i, p := range byID {
		ids[i] = p.id
	}
	ps := db.ps
	half := flushHalf / ps // pages; at least a run's (maxWrite)
	n := windowPages(len(ids), half) * ps
	if cap(job.pages.buf) < n {
		job.pages.release()
		job.pages = newPageArray(n, db.opts.arrays)
	}
	win := job.pages.buf[:cap(job.pages.buf)]
	sums := make([]page.RunSum, len(ids))
	// encode seals pages [lo, hi) into the window from page slot at, and
	// notes their checksums.
	encode := func(lo, hi, at int) error {
		for i := lo; i < hi; i++ {
			b := win[(at+i-lo)*ps : (at+i-lo+1)*ps]
			if err := byID[i].n.Encode(b, codec); err != nil {
				return err
			}
			sums[i] = page.RunSum{ID: ids[i], Pages: 1, Sum: binary.LittleEndian.Uint64(b)}
		}
		return nil
	}
	write := func(lo, hi, at int) error {
		end := (at + hi - lo) * ps
		if err := db.writeRun(ids[lo], win[at*ps:end:end]); err != nil {
			return err
		}
		wb.wrote(ids[lo], hi-lo)
		return nil
	}
	if err := encodeWrite(runEnds(ids, ps, maxWrite), half, job.split && len(ids) >= encodeSplit, encode, write); err != nil {
		return nil, err
	}
	return sums, nil
}

// flushHalf is the size of each half of a flush's page window
// (writeNodes); at least maxWrite, so that a run fits one half.
const flushHalf = 4 << 20

// A run fits one half (placeRuns, windowPages): a maxWrite past flushHalf
// does not compile.
const _ = uint(flushHalf - maxWrite)

// windowPages is the size in pages of the window placeRuns needs for
// runs of n pages in all, none longer than half: n when they fit one
// turn from slot 0, else both halves whole (a turn of the second half
// may end at its end, however few pages are left: the turn before it
// may have ended early, its next run not fitting).
func windowPages(n, half int) int {
	if n <= half {
		return n
	}
	return 2 * half
}

// A runSlot is where a run's pages go in a flush's window (placeRuns).
type runSlot struct {
	at          int  // the page slot of its first page
	first, last bool // it starts, or ends, its half's turn
}

// placeRuns places the runs that ends delimits (as runEnds returns) in a
// window of two halves of half pages each: consecutive runs fill one half
// (a turn) while they fit, then the other half's turn starts, and so on
// alternately. A run longer than half pages is given a turn of its own
// (writeNodes never makes one: runs are at most maxWrite bytes).
func placeRuns(ends []int, half int) []runSlot {
	slots := make([]runSlot, len(ends))
	lo, turn, used := 0, 0, 0
	for r, hi := range ends {
		if used > 0 && used+hi-lo > half {
			slots[r-1].last = true
			turn, used = turn+1, 0
		}
		slots[r] = runSlot{at: turn%2*half + used, first: used == 0}
		used += hi - lo
		lo = hi
	}
	if len(slots) > 0 {
		slots[len(slots)-1].last = true
	}
	return slots
}

// encodeWrite encodes and writes, in order, the runs of pages that ends
// delimits (ends[r] is one past run r's last page index, as runEnds
// returns; run r starts where run r-1 ends), through a window of two
// halves of half pages placed by placeRuns: encode(lo, hi, at) encodes
// pages [lo, hi) into the window from page slot at, write(lo, hi, at)
// writes them from there. A run is written only once it is encoded, and
// a half is encoded into again only once every run of its last turn is
// written. With split, a second goroutine encodes the runs while this
// one writes those it has finished; without, each run is encoded, then
// written. It returns the first error; after it nothing more is written,
// and it returns only once the second goroutine is done.
func encodeWrite(ends []int, half int, split bool, encode, write func(lo, hi, at int) error) error {
	slots := placeRuns(ends, half)
	start := func(r int) int {
		if r == 0 {
			return 0
		}
		return ends[r-1]
	}
	if !split {
		for r, hi := range ends {
			if err := encode(start(r), hi, slots[r].at); err != nil {
				return err
			}
			if err := write(start(r), hi, slots[r].at); err != nil {
				return err
			}
		}
		return nil
	}
	// ready carries the runs encoded, in order; it holds them all, so the
	// encoder never waits for this goroutine to take one. free holds a
	// token a half whose turn is written: the encoder takes one before
	// each turn (two to start with), this goroutine gives one back after
	// each turn's last write, so turn t is encoded only once turn t-2 is
	// written.
	ready := make(chan int, len(ends))
	free := make(chan struct{}, 2)
	free <- struct{}{}
	free <- struct{}{}
	var stop atomic.Bool // a write failed: encode no further
	var encErr error
	go func() {
		defer close(ready)
		for r, hi := range ends {
			if slots[r].first {
				<-free
			}
			if stop.Load() {
				return
			}
			if encErr = encode(start(r), hi, slots[r].at); encErr != nil {
				return
			}
			ready <- r
		}
	}()
	var err error
	for r := range ready {
		if err == nil {
			if err = write(start(r), ends[r], slots[r].at); err != nil {
				stop.Store(true)
			}
		}
		if slots[r].last {
			free <- struct{}{}
		}
	}
	if err == nil {
		err = encErr
	}
	return err
}

// runEnds splits ids, sorted distinct page ids of ps bytes each, into
// runs of consecutive pages of at most maxBytes (one page at least) and
// returns, for each run in order, the index in ids one past its last page.
// A run ends where the next page does not follow it or would make it
// longer than maxBytes.
func runEnds(ids []uint64, ps, maxBytes int) []int {
	var ends []int
	from := 0 // the current run is ids[from:i]
	for i := 1; i <= len(ids); i++ {
		if i == len(ids) || ids[i] != ids[i-1]+1 || (i-from+1)*ps > maxBytes {
			ends = append(ends, i)
			from = i
		}
	}
	return ends
}

// encodeSplit is the number of pages from which a flush encodes its pages
// on a second goroutine (below it, starting one costs more than it saves).
const encodeSplit = 256

// seal writes a copy of the newest meta, marked MetaComplete, into the
// other slot. Its flush's sync has returned, so the flush is complete, and
// open will not mistake damage to that flush's pages for a crash mid-flush.
// A torn seal leaves the unsealed meta, which open verifies as usual.
func (db *DB) seal() error {
	n := db.newestMeta()
	if n == nil || n.Flags&page.MetaSingleSync == 0 || n.Flags&page.MetaComplete != 0 {
		return nil
	}
	m := *n
	m.Slot = 1 - n.Slot
	m.Flags |= page.MetaComplete
	return db.writeMeta(&m)
}

// writeMeta writes m into its slot and syncs: the commit point of a flush.
func (db *DB) writeMeta(m *page.Meta) error {
	buf := make([]byte, db.ps)
	if err := db.file.Codec().EncodeMeta(m, buf); err != nil {
		return db.fail(err)
	}
	if err := db.writeRun(m.Slot, buf); err != nil {
		return db.fail(err)
	}
	if err := db.sync(); err != nil {
		return db.fail(err)
	}
	db.metas[m.Slot] = m
	return nil
}

// shrinkMin is the smallest free tail a flush cuts off: 1/16 of the file,
// at least 1 MiB. Idle cycles cut any free tail (see background).
func (db *DB) shrinkMin() uint64 {
	if db.idleShrink {
		return 1
	}
	return max(db.alloc.HWM()/16, uint64((1<<20)/db.ps))
}

// writebackChunk is how many written bytes a flush lets gather before it
// asks the kernel to start writing them to the device
// (page.File.StartWriteback).
const writebackChunk = 256 << 10

// writeback gathers a flush's written pages into spans handed to the
// device early.
type writeback struct {
	ps     int                        // page size
	start  func(id uint64, pages int) // page.File.StartWriteback
	lo, hi uint64                     // the pages [lo, hi) written since the last start
	bytes  int
}

// wrote records pages [id, id+n) as written and starts the span's
// writeback once it holds writebackChunk bytes. A small flush (a durable
// put's few pages) never starts one: its sync does the work at once, and
// a sync_file_range of its few pages first cost it 5-10% of its time.
func (w *writeback) wrote(id uint64, n int) {
	if w.bytes == 0 {
		w.lo, w.hi = id, id
	}
	// The span covers pages not written too (the free-map chunks come
	// before the tree pages, anywhere in the file): the kernel skips
	// clean pages.
	w.lo = min(w.lo, id)
	w.hi = max(w.hi, id+uint64(n))
	w.bytes += n * w.ps
	if w.bytes >= writebackChunk {
		w.start(w.lo, int(w.hi-w.lo))
		w.bytes = 0
	}
}
