package store

import "time"

// Stats are the database's counters, for INFO and benchmarks.
type Stats struct {
	PageSize        int
	Encryption      string // "off", "aes-128-gcm" or "aes-256-gcm"
	FileSize        int64
	FileSlack       int   // percent of the file kept free for placement, in effect now (Options.FileSlack; 0 = none)
	CacheSize       int64 // the bound
	CacheBytes      int64
	CacheHits       uint64
	CacheMisses     uint64
	FreePages       uint64 // allocatable now
	PendingPages    uint64 // freed, waiting for the reuse rule
	DirtyBytes      int64
	DirtyCap        int64 // Options.DirtyCap (with its default applied)
	Readers         int
	OldestReaderAge time.Duration
	LastFlush       time.Time
	Flushes         uint64
	Syncs           uint64
	BytesWritten    uint64
	OverflowReads   uint64 // overflow runs (chunk tables and chunks) read from the file
	OverflowWrites  uint64 // overflow runs written
	// ScanPopulates counts the long scans that asked the kernel to map
	// the whole data file in at once (populateScan; the first for a
	// mapping does the work, later ones find it done).
	ScanPopulates uint64
	// ScanBatches counts the batches of pages long scans read ahead in
	// one system call each (readahead.go).
	ScanBatches uint64
	TxID        uint64
	Failed      error
	// Commit log (Options.CommitLog): whether it is on, the blocks
	// written (one per round of writes: the batches committed while the
	// round before was in flight), their bytes, and the rounds synced
	// (one or two fdatasyncs each).
	CommitLog                     bool
	LogBlocks, LogBytes, LogSyncs uint64
	// PrefetchedLeaves counts the leaves of hinted writes (Pending.Hint)
	// the writer found in memory and had the CPU load ahead of them.
	PrefetchedLeaves uint64
	// InPlaceNodes counts the committed nodes transactions changed in
	// place instead of copying them (Options.NoInPlace).
	InPlaceNodes uint64
}

// Stats returns the current counters without waiting for the writer (the
// allocator figures are as of the last commit or flush), so it may be called
// from inside a write function.
func (db *DB) Stats() Stats {
	cs := db.cache.Stats()
	s := Stats{
		PageSize: db.ps, Encryption: db.Encryption(), FileSlack: int(db.slack.Load()), CacheSize: cs.Limit, CacheBytes: cs.Bytes, CacheHits: cs.Hits, CacheMisses: cs.Misses,
		LastFlush: time.UnixMilli(db.lastFlush.Load()), Flushes: db.flushes.Load(), Syncs: db.syncs.Load(),
		BytesWritten: db.written.Load(), OverflowReads: db.ovfReads.Load(), OverflowWrites: db.ovfWrites.Load(), ScanPopulates: db.populates.Load(), ScanBatches: db.batches.Load(), PrefetchedLeaves: db.prefetched.Load(), InPlaceNodes: db.inPlaceNodes.Load(), TxID: db.cur.Load().txn, Failed: db.Failed(),
	}
	if sz, err := db.file.Size(); err == nil {
		s.FileSize = sz
	}
	if c := db.clog; c != nil {
		s.CommitLog = true
		s.LogBlocks, s.LogBytes, s.LogSyncs = c.blocks.Load(), c.bytes.Load(), c.syncs.Load()
	}
	db.lmu.Lock()
	now := time.Now().UnixNano()
	for _, st := range db.live {
		if n := st.refs.Load(); n > 0 {
			s.Readers += int(n)
			if age := time.Duration(now - st.since.Load()); age > s.OldestReaderAge {
				s.OldestReaderAge = age
			}
		}
	}
	db.lmu.Unlock()
	s.FreePages = db.availPages.Load()
	s.PendingPages = db.pendingPages.Load()
	s.DirtyBytes = db.dirtyShown.Load()
	s.DirtyCap = db.opts.DirtyCap
	return s
}

// ResetStats zeroes the cache hit and miss counters.
func (db *DB) ResetStats() { db.cache.ResetStats() }

// publishCounts copies the writer's allocator figures for Stats. Writer only.
func (db *DB) publishCounts() {
	db.availPages.Store(db.alloc.AvailCount())
	_, p := db.alloc.FreeCounts()
	db.pendingPages.Store(p)
	db.dirtyShown.Store(db.dirtyBytes())
}
