package store

import (
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"github.com/digby-db/digby/btree"
	"github.com/digby-db/digby/page"
	"github.com/pierrec/lz4/v4"
)

// state is one committed (logical) version of the database.
type state struct {
	txn         uint64
	catalog     page.Ref
	nextVersion uint64
	// tables caches the catalog entries of tables 0..15 as readers of this
	// state look them up (the state is immutable, so they never change).
	tables [16]atomic.Pointer[tableState]

	// refs counts the readers on this state; -1 once retired (no reader
	// may register on it any more). since is when the first of the
	// current readers registered (unix ns, by DB.clock).
	refs  atomic.Int64
	since atomic.Int64
	// read is set when a reader registers, and cleared by the writer's
	// background tick (readersCame).
	read atomic.Bool
}

// DB is an open database. All methods are safe for concurrent use.
type DB struct {
	dir   string
	opts  Options
	file  *page.File
	ps    int
	cache *page.Cache
	// pageBufs recycles the page-sized buffers tree pages are read into
	// (a decoded node keeps a copy of only its used bytes).
	pageBufs sync.Pool
	warmDone chan struct{} // closed when cache warming has stopped (warm.go)

	cur atomic.Pointer[state]

	// unflushed holds committed nodes not yet written (or freed before
	// being written, while readers may still reach them).
	umu        sync.RWMutex
	unflushed  nodeTable
	nUnflushed atomic.Int64 // len(unflushed), read without the lock

	// live lists, in txn order, the published states that readers may
	// still hold (the current one and older ones with readers).
	lmu  sync.Mutex
	live []*state

	// Writer-goroutine state.
	alloc    *page.Allocator
	metas    [2]*page.Meta          // on disk; nil when a slot is invalid
	flushSet flushList              // the nodes the next flush writes (flushset.go)
	flushed  map[uint64]page.RunSum // runs written since the last flush
	inflight *flushJob              // the flush being written, if any
	waiters  []*Pending             // Always-mode submitters for the next flush
	// spBuf is the savepoint every submission reuses (one at a time), and
	// undoLogs the node undo logs released savepoints gave back: batches
	// of submissions allocate them once, not per submission.
	spBuf       savepoint
	undoLogs    []*btree.UndoLog
	flushBuf    pageArray      // a landed flush's page array, for the next (flush.go)
	releasedBuf []releasedPage // the pages of the last release, reused (writer.go)
	evictBuf    []uint64       // ids release evicts from the cache, reused (writer.go)
	// txEvicts and txSuperseded are the arrays of the last transaction's
	// wtx.evicts and wtx.superseded, for the next.
	txEvicts     []uint64
	txSuperseded []*btree.Node
	txInPlace    []*btree.Node // the last transaction's wtx.inplace, for the next
	txTables     []tableEnt    // the last transaction's Tx.tables array, for the next
	spare        btree.Spare   // arrays of dropped nodes, for the writer's copies (writer.go)
	nextTxn      uint64
	lastApply    time.Time
	// Changes in place (inplace.go): whether the settings allow them,
	// and the pause after a reader waited (ipPause long, inPlacePause but
	// in tests; gateSeen: the gateWaits count last seen).
	inPlaceOK     bool
	ipPause       time.Duration
	gateSeen      uint64
	ipPausedUntil time.Time
	// gate is set while a transaction changes the current state's nodes
	// in place; readers wait on it (gateWaits counts them). torn is set
	// when such a transaction failed to commit: readers get an error.
	gate      atomic.Pointer[gate]
	gateWaits atomic.Uint64
	torn      atomic.Bool
	// expiring is how many entries the tables' expiry indexes hold, as of
	// the newest commit (HasExpiring).
	expiring atomic.Int64
	// inPlaceNodes counts the nodes transactions changed in place.
	inPlaceNodes atomic.Uint64
	idleShrink   bool // flushes from idle cycles cut any free tail

	// wmu is held by whoever acts as the writer: the writer goroutine
	// while it handles an event, or a submitter leading a batch
	// (SubmitAll). The writer's state above is used under it.
	wmu sync.Mutex
	// cmu guards waiting (submissions not yet taken into a batch, in
	// order) and leading (someone has undertaken to apply them).
	cmu     sync.Mutex
	waiting []*Pending
	leading bool
	// wake tells the writer goroutine to lead on; ended that a flush or
	// log round ended (one a leading submitter started may not be among
	// those it waits for). Both are signalled with notify.
	wake    chan struct{}
	ended   chan struct{}
	ctl     chan func()
	done    chan struct{}
	closed  atomic.Bool
	closeMu sync.RWMutex
	// lendMu is read-locked by every read transaction whose ScanCursor
	// uses the file mapping's bytes in place (scan.go), from its first
	// such cursor until View returns; Close write-locks it before closing
	// the file (which unmaps it).
	lendMu sync.RWMutex
	// scanners counts those transactions; cache warming waits while
	// there are any (warm.go).
	scanners atomic.Int32

	recovered string     // set by open when it fell back past an incomplete flush
	clog      *commitLog // the commit log, when Options.CommitLog is on

	failed    atomic.Pointer[error]
	lastFlush atomic.Int64 // unix ms
	flushes   atomic.Uint64
	slack     atomic.Int32 // the file slack in effect, for Stats (the writer's is opts.FileSlack)
	syncs     atomic.Uint64
	written   atomic.Uint64 // bytes written to the data file
	ovfReads  atomic.Uint64 // overflow runs (chunk tables, chunks) read
	populates atomic.Uint64 // populateScan's Populate calls that succeeded
	batches   atomic.Uint64 // read-ahead batches read by scans (readahead.go)
	ovfWrites atomic.Uint64 // overflow runs written

	// prefetchAhead's scratch (writer only), how many leaves it found in
	// memory, and the panics it recovered from (both for tests).
	prefetchKeys    [][]byte
	prefetchScratch TouchScratch
	prefetched      atomic.Uint64
	prefetchPanics  atomic.Uint64

	// clock is the time (unix ns) as of the writer's last tick (at most
	// 50 ms old while it is not busy): what a reader's registration
	// stamps, where time.Now cost 2-3% of a point read.
	clock atomic.Int64

	// Scans' read-ahead (readahead.go): noBatch is set once batched reads
	// proved impossible here (not tried again); amu guards idleAheads, the
	// readers kept for later scans.
	noBatch    atomic.Bool
	amu        sync.Mutex
	idleAheads []*readAhead

	pressure pressure // recent cache misses, for Prefetch's callers (prefetch.go)

	// Writer-only lz4 state for compressing chunks and inline values, and
	// the buffer overflow runs are sealed in.
	zc     lz4.Compressor
	zbuf   []byte
	cbuf   []byte        // compressInline's output
	cstate compressState // compressInline's back-off
	runBuf []byte

	// Writer figures published for Stats.
	availPages, pendingPages atomic.Uint64
	dirtyShown               atomic.Int64
}

// DataPath is the data file of a database directory.
func DataPath(dir string) string { return filepath.Join(dir, page.DataFile) }

// Open opens the database in dir, creating dir and an empty database if
// needed. A second Open of the same dir, in any process, fails with ErrLocked.
func Open(dir string, opts *Options) (*DB, error) {
	var o Options
	if opts != nil {
		o = *opts
	}
	o = o.withDefaults()
	if !page.ValidPageSize(o.PageSize) {
		return nil, fmt.Errorf("page size %d: want a power of two from %d to %d", o.PageSize, page.MinPageSize, page.MaxPageSize)
	}
	if o.FileSlack > MaxFileSlack {
		return nil, fmt.Errorf("file slack %d%%: want at most %d", o.FileSlack, MaxFileSlack)
	}
	lock, err := page.Lock(dir)
	if err != nil {
		return nil, err
	}
	if k := len(o.EncryptionKey); o.EncryptionKey != nil && k != 16 && k != 32 {
		lock.Close()
		return nil, fmt.Errorf("%w: got %d bytes", ErrKeySize, k)
	}
	path := DataPath(dir)
	if _, err := os.Stat(path); os.IsNotExist(err) {
		if err := createFile(path, o.PageSize, o.EncryptionKey); err != nil {
			lock.Close()
			return nil, err
		}
	}
	var b page.Backend
	if o.OpenFile != nil {
		b, err = o.OpenFile(path)
	} else {
		var f *os.File
		if f, err = os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o644); err == nil {
			if b, err = page.MapReads(f); err != nil {
				f.Close()
			}
		}
	}
	if err != nil {
		lock.Close()
		return nil, fmt.Errorf("open %s: %w", path, err)
	}
	f := page.NewFile(b, lock, o.PageSize)
	db := &DB{
		pressure: pressure{start: time.Now()},
		dir:      dir,
		opts:     o,
		file:     f,
		cache:    page.NewCache(o.CacheSize),
		flushed:  map[uint64]page.RunSum{},
		wake:     make(chan struct{}, 1),
		ended:    make(chan struct{}, 1),
		ctl:      make(chan func()),
		done:     make(chan struct{}),
	}
	db.pageBufs.New = func() any {
		b := make([]byte, f.PageSize())
		return &b
	}
	if err := db.load(); err != nil {
		f.Close()
		return nil, fmt.Errorf("open %s: %w", path, err)
	}
	db.countExpiring() // a replay's commits add to it
	if err := db.openLog(); err != nil {
		f.Close()
		db.flushBuf.release() // a replay's flush may have kept one
		return nil, fmt.Errorf("open %s: %w", dir, err)
	}
	db.inPlaceOK = !o.NoInPlace
	db.ipPause = inPlacePause
	db.lastFlush.Store(time.Now().UnixMilli())
	db.clock.Store(time.Now().UnixNano())
	go db.run()
	db.warmDone = make(chan struct{})
	if o.NoWarmCache {
		close(db.warmDone)
	} else {
		go db.warm()
	}
	return db, nil
}

// load reads the metas (creating them for a new file) and the allocator.
func (db *DB) load() error {
	size, err := db.file.Size()
	if err != nil {
		return err
	}
	if size == 0 {
		return fmt.Errorf("page 0: %w: empty data file", page.ErrCorrupt)
	}
	ps, err := db.detectPageSize()
	if err != nil {
		return err
	}
	db.ps = ps
	db.file.SetPageSize(ps)
	var errs [2]error
	var raw [2][]byte
	for slot := uint64(0); slot < 2; slot++ {
		buf := make([]byte, ps)
		if err := db.file.ReadRaw(slot, buf); err != nil {
			errs[slot] = err
			continue
		}
		raw[slot] = buf
	}
	codec, err := page.CodecFor(raw, db.opts.EncryptionKey)
	if err != nil {
		return err
	}
	db.file.SetCodec(codec)
	var maxEpoch uint32
	for slot, buf := range raw {
		if buf == nil {
			continue
		}
		db.metas[slot], errs[slot] = codec.DecodeMeta(buf, uint64(slot), ps)
		if errors.Is(errs[slot], page.ErrNewerFormat) || errors.Is(errs[slot], page.ErrOlderFormat) {
			return errs[slot]
		}
		if m := db.metas[slot]; m != nil {
			maxEpoch = max(maxEpoch, m.Epoch)
		}
	}
	m := db.newestMeta()
	if m != nil && m.Flags&page.MetaSingleSync != 0 && m.Flags&page.MetaComplete == 0 {
		if err := db.verifyFlush(m); err != nil {
			// The flush that wrote m did not complete: its pages did not
			// all reach the disk. The other meta is the last complete one.
			errs[m.Slot] = fmt.Errorf("page %d: meta of an incomplete flush: %w", m.Slot, err)
			db.metas[m.Slot] = nil
			bad := m
			m = db.newestMeta()
			if m != nil {
				db.recovered = fmt.Sprintf("meta %d (txn %d) belongs to an incomplete flush (%v); opened the previous state, txn %d", bad.Slot, bad.Txn, err, m.Txn)
			}
		}
	}
	if m == nil {
		if errors.Is(errs[0], page.ErrForeign) && errors.Is(errs[1], page.ErrForeign) {
			return page.ErrForeign
		}
		return fmt.Errorf("no valid meta: %w; %w", errs[0], errs[1])
	}
	if int64(m.HWM)*int64(ps) > size {
		// The tail past the file end must be free; Check verifies that.
		_ = size
	}
	if codec.Encrypted() {
		if err := db.bumpEpoch(m, maxEpoch); err != nil {
			return err
		}
	}
	a, err := page.Load(db.file.Codec(), ps, m.Freedir, m.HWM, m.Txn, func(r page.Ref, want page.Type) ([]byte, error) {
		buf, _, err := db.file.Read(r.ID, int(r.Pages), want, r.Txn)
		return buf, err
	})
	if err != nil {
		return fmt.Errorf("free space: %w", err)
	}
	a.SetSlack(db.opts.FileSlack)
	db.slack.Store(int32(max(db.opts.FileSlack, 0)))
	db.alloc = a
	db.nextTxn = m.Txn + 1
	db.publish(&state{txn: m.Txn, catalog: m.Catalog, nextVersion: m.NextVersion})
	return nil
}

// noteRecovered adds msg, if any, to what open reports it recovered
// (Recovered).
func (db *DB) noteRecovered(msg string) {
	if msg == "" {
		return
	}
	if db.recovered != "" {
		db.recovered += "; "
	}
	db.recovered += msg
}

// verifyFlush reads every run the flush that wrote m wrote, and checks it
// carries the checksum recorded in m's free directory.
func (db *DB) verifyFlush(m *page.Meta) error {
	if m.Freedir.IsZero() {
		return nil
	}
	fs, err := page.ReadFreespace(db.file.Codec(), db.ps, m.Freedir, func(r page.Ref, want page.Type) ([]byte, error) {
		buf, _, err := db.file.Read(r.ID, int(r.Pages), want, r.Txn)
		return buf, err
	})
	if err != nil {
		return err
	}
	for _, r := range fs.Flushed {
		buf, _, err := db.file.Read(r.ID, int(r.Pages), 0, 0)
		if err != nil {
			return err
		}
		if sum := binary.LittleEndian.Uint64(buf); sum != r.Sum {
			return &page.CorruptError{ID: r.ID, Reason: "not the page the last flush wrote"}
		}
	}
	return nil
}

// bumpEpoch starts the session's nonce epoch (see "nonce reuse" in
// page/codec.go for the whole argument): it writes a copy of m, the meta
// open chose, carrying epoch maxEpoch+1 (maxEpoch: the highest epoch of any
// meta that authenticated, even one rejected as an incomplete flush) into
// the other slot, fsyncs, and only then gives the file a codec that seals
// under the new epoch. The copy is sealed with a random nonce (the epoch
// is not durable while it is being written), and is marked MetaComplete:
// m's flush was complete (a sealed meta, or one open just verified), and
// the sync makes its pages durable. metas are ordered by (txn, epoch), so
// the copy is the newest meta and the next flush overwrites m, never it.
func (db *DB) bumpEpoch(m *page.Meta, maxEpoch uint32) error {
	// The codec first (it checks the epoch's range, and has no effect
	// until SetCodec), the meta that makes the epoch durable next.
	c, err := db.file.Codec().ForEpoch(maxEpoch + 1)
	if err != nil {
		return fmt.Errorf("page %d: %w", m.Slot, err)
	}
	b := *m
	b.Slot = 1 - m.Slot
	b.Epoch = maxEpoch + 1
	if b.Flags&page.MetaSingleSync != 0 {
		b.Flags |= page.MetaComplete
	}
	if err := db.writeMeta(&b); err != nil {
		return fmt.Errorf("page %d: epoch bump: %w", b.Slot, err)
	}
	db.file.SetCodec(c)
	return nil
}

// detectPageSize reads the page size from whichever meta names a valid one.
func (db *DB) detectPageSize() (int, error) {
	buf := make([]byte, page.MinPageSize)
	if err := db.file.ReadRaw(0, buf); err == nil {
		if ps, ok := page.PeekPageSize(buf); ok && page.ValidPageSize(ps) {
			return ps, nil
		}
	}
	// Page 0 is damaged: look for meta 1 at each possible page size.
	for ps := page.MinPageSize; ps <= page.MaxPageSize; ps *= 2 {
		db.file.SetPageSize(ps)
		if err := db.file.ReadRaw(1, buf); err != nil {
			continue
		}
		if got, ok := page.PeekPageSize(buf); ok && got == ps {
			return ps, nil
		}
	}
	return 0, fmt.Errorf("page 0: %w (no meta with a valid page size)", page.ErrForeign)
}

// createFile makes a new data file atomically: both metas are written to a
// temporary file, synced, and renamed into place, so a crash during creation
// leaves no half-made database. With a key the file is encrypted (its metas
// then carry a fresh random salt).
func createFile(path string, ps int, key []byte) error {
	codec, err := page.NewFileCodec(key)
	if err != nil {
		return fmt.Errorf("create %s: %w", path, err)
	}
	tmp := path + ".new"
	f, err := os.OpenFile(tmp, os.O_RDWR|os.O_CREATE|os.O_TRUNC, 0o644)
	if err != nil {
		return fmt.Errorf("create %s: %w", path, err)
	}
	buf := make([]byte, 2*ps)
	for slot := uint64(0); slot < 2; slot++ {
		m := &page.Meta{Slot: slot, Version: page.FormatVersion, PageSize: uint32(ps), HWM: 2, NextVersion: 1}
		if err = codec.EncodeMeta(m, buf[int(slot)*ps:int(slot+1)*ps]); err != nil {
			break
		}
	}
	if err == nil {
		_, err = f.WriteAt(buf, 0)
	}
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, path)
	}
	if err == nil {
		err = syncDir(filepath.Dir(path))
	}
	if err != nil {
		os.Remove(tmp)
		return fmt.Errorf("create %s: %w", path, err)
	}
	return nil
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}

// newestMeta is the valid on-disk meta with the highest txn; of two with
// the same txn, the one with the higher epoch (an epoch bump's copy), then
// the sealed one. The last meta written is always the newest.
func (db *DB) newestMeta() *page.Meta {
	a, b := db.metas[0], db.metas[1]
	switch {
	case a == nil:
		return b
	case b == nil:
		return a
	case b.Txn != a.Txn:
		if b.Txn > a.Txn {
			return b
		}
		return a
	case b.Epoch != a.Epoch:
		if b.Epoch > a.Epoch {
			return b
		}
		return a
	case b.Flags&page.MetaComplete != 0:
		return b // the sealed copy of the same state
	}
	return a
}

// olderSlot is the slot the next flush overwrites: not the newest valid one.
func (db *DB) olderSlot() uint64 {
	if n := db.newestMeta(); n != nil && n.Slot == 0 {
		return 1
	}
	return 0
}

// Recovered describes what open did when the newest meta's flush turned
// out incomplete (a crash or power loss mid-flush, or damage to a page that
// flush wrote): it opened the previous complete state. Empty otherwise.
// Servers should log it.
func (db *DB) Recovered() string { return db.recovered }

// Dir is the database directory.
func (db *DB) Dir() string { return db.dir }

// PageSize is the database's page size.
func (db *DB) PageSize() int { return db.ps }

// usable is the bytes of a page its contents may use: the page size less
// the codec's trailer.
func (db *DB) usable() int { return db.ps - db.file.Codec().Overhead() }

// Encryption names the cipher pages are sealed with: "off", "aes-128-gcm"
// or "aes-256-gcm".
func (db *DB) Encryption() string { return db.file.Codec().Cipher() }

// Failed returns the I/O error that put the store into its failed state.
func (db *DB) Failed() error {
	if p := db.failed.Load(); p != nil {
		return *p
	}
	return nil
}

func (db *DB) fail(err error) error {
	e := fmt.Errorf("%w: %w", ErrFailed, err)
	db.failed.CompareAndSwap(nil, &e)
	return db.Failed()
}

// publish makes st the current state.
func (db *DB) publish(st *state) {
	db.lmu.Lock()
	db.live = append(db.live, st)
	db.lmu.Unlock()
	db.cur.Store(st)
	db.openGate()
}

// register adds a reader at the current state and returns it. It takes no
// lock: a reader increments the state's count unless the writer retired
// the state meanwhile: it then retries on the new current state, or, while
// the retired state is still the current one (a transaction changes its
// nodes in place, inplace.go), waits for the next. It fails only when such
// a transaction failed to commit.
func (db *DB) register() (*state, error) {
	for {
		st, ok := db.tryRegister()
		if ok {
			return st, nil
		}
		if err := db.waitGate(st); err != nil {
			return nil, err
		}
	}
}

// tryRegister is register without the wait: while a transaction changes
// the current state's nodes in place it returns that state and false,
// registered on nothing.
func (db *DB) tryRegister() (*state, bool) {
	for {
		st := db.cur.Load()
		v := st.refs.Load()
		if v >= 0 {
			if st.refs.CompareAndSwap(v, v+1) {
				if v == 0 {
					st.since.Store(db.clock.Load())
				}
				if !st.read.Load() {
					st.read.Store(true)
				}
				return st, true
			}
			continue
		}
		if db.cur.Load() == st {
			return st, false
		}
	}
}

func (db *DB) unregister(st *state) { st.refs.Add(-1) }

// readersCame reports whether a reader registered on the current state
// since the last call. (A reader that registered before and is still on
// it is not counted: the pages it holds keep relocation from moving
// anything past its first step anyway.) Writer goroutine only.
func (db *DB) readersCame() bool {
	st := db.cur.Load()
	if st.read.Load() {
		st.read.Store(false)
		return true
	}
	return false
}

// oldestReader is the oldest snapshot txn a reader holds, or the current
// txn. It retires older states without readers. Writer goroutine only.
func (db *DB) oldestReader() uint64 {
	oldest, _ := db.retireIdle()
	return oldest
}

// retireIdle retires the states older than the current one that no
// reader holds (none can register on them afterwards) and returns the
// oldest txn a reader holds, or the current txn, and the newest txn of an
// older state that readers hold (0 if none). Writer goroutine only.
func (db *DB) retireIdle() (oldest, newest uint64) {
	db.lmu.Lock()
	defer db.lmu.Unlock()
	cur := db.cur.Load()
	oldest = cur.txn
	keep := db.live[:0]
	for _, st := range db.live {
		if st != cur && (st.refs.Load() < 0 || st.refs.CompareAndSwap(0, -1)) {
			continue // retired: no reader holds it, none can register on it
		}
		keep = append(keep, st)
		if st.txn < oldest {
			oldest = st.txn
		}
		if st != cur && st.txn > newest {
			newest = st.txn
		}
	}
	clear(db.live[len(keep):])
	db.live = keep
	return oldest, newest
}

// View runs fn on a read-only snapshot of the newest committed state. It
// may wait for the batch being applied to commit (when that batch changes
// the newest state's nodes in place, store/inplace.go), so, like Update,
// it must not be called from inside a write function: the function would
// wait for its own commit. A write function reads through the Tx it is
// given.
func (db *DB) View(fn func(*Tx) error) error {
	if db.closed.Load() {
		return ErrClosed
	}
	st, err := db.register()
	if err != nil {
		return err
	}
	return db.viewAt(st, fn)
}

// tryView runs fn as View does, or not at all: while the writer changes
// the newest state's nodes in place (store/inplace.go), when such a change
// failed to commit, and on a closed store it returns at once. It is for a
// look-up that may be skipped, whose result no one waits for (Prefetch):
// View would wait for that batch to commit, holding up its caller, and
// its wait would pause changes in place for a while (a reader waited), so
// that the writes after it copy their nodes.
func (db *DB) tryView(fn func(*Tx) error) {
	if db.closed.Load() {
		return
	}
	if st, ok := db.tryRegister(); ok {
		_ = db.viewAt(st, fn)
	}
}

// viewAt runs fn on a read transaction of state st, which the caller
// registered on (it unregisters here).
func (db *DB) viewAt(st *state, fn func(*Tx) error) error {
	defer db.unregister(st)
	tx := &Tx{db: db, st: st}
	defer func() {
		tx.forgetTouch()
		for _, a := range tx.aheads {
			db.endReadAhead(a)
		}
		if tx.lending {
			db.scanners.Add(-1)
			db.lendMu.RUnlock()
		}
	}()
	return fn(tx)
}

// Close flushes everything and closes the file. Pending submissions finish first.
// A DB must be closed: besides the file, it holds memory outside the Go
// heap (its flushes' page array, store/pagearray.go) that only Close gives
// back, and its writer goroutine keeps it from being collected anyway.
func (db *DB) Close() error {
	db.closeMu.Lock()
	if db.closed.Swap(true) {
		db.closeMu.Unlock()
		return ErrClosed
	}
	db.closeMu.Unlock()
	var err error
	db.ctl <- func() {
		db.waitLog()
		if err = db.flush(); err == nil {
			err = db.seal()
		}
	}
	close(db.ctl)
	<-db.done
	if db.clog != nil {
		for _, f := range db.clog.files {
			if cerr := f.Close(); err == nil && cerr != nil {
				err = cerr
			}
		}
	}
	<-db.warmDone // it sees closed and stops within one span
	if db.Failed() != nil && err == nil {
		err = db.Failed()
	}
	// Transactions using the mapping's bytes in place finish first.
	db.lendMu.Lock()
	db.closeIdleAheads()
	cerr := db.file.Close()
	db.lendMu.Unlock()
	db.flushBuf.release() // the writer is done
	if err == nil {
		err = cerr
	}
	return err
}
