package store

import (
	"cmp"
	"encoding/binary"
	"slices"
	"time"

	"github.com/digby-db/digby/page"
)

// maxWrite bounds one coalesced write of consecutive pages.
const maxWrite = 1 << 20

// flush makes the newest committed state durable (DESIGN §2):
// write every unflushed page and the free-space state; sync; write the meta
// into the slot not holding the newest valid meta; sync. A crash anywhere
// leaves the previous meta and all it reaches intact. Writer goroutine only.
func (db *DB) flush() error {
	if err := db.Failed(); err != nil {
		return err
	}
	st := db.cur.Load()
	newest := db.newestMeta()
	if st.txn == newest.Txn {
		return nil
	}
	db.alloc.PrepareFlush(newest.Txn)
	if err := db.writeNodes(); err != nil {
		return db.fail(err)
	}
	dir, hwm, err := db.alloc.WriteFreespace(st.txn, db.writeRecorded, db.flushedRuns)
	if err != nil {
		return db.fail(err)
	}
	// One sync for pages and meta together: the directory lists every run
	// this flush wrote with its checksum, and open verifies them before
	// trusting a meta marked MetaSingleSync (see verifyFlush). The runs
	// only went to pages no meta on disk reaches, so the previous meta
	// stays complete whatever part of this flush is lost.
	m := &page.Meta{
		Slot: db.olderSlot(), Version: page.FormatVersion, PageSize: uint32(db.ps), Flags: page.MetaSingleSync,
		Txn: st.txn, Catalog: st.catalog, Freedir: dir, HWM: hwm, NextVersion: st.nextVersion,
		Epoch: newest.Epoch,
	}
	if err := db.writeMeta(m); err != nil {
		return err
	}
	clear(db.flushed)
	db.alloc.Flushed()
	// The pages are on disk now: serve them from the cache.
	db.umu.Lock()
	for id := range db.flushSet {
		delete(db.unflushed, id)
	}
	db.nUnflushed.Store(int64(len(db.unflushed)))
	db.umu.Unlock()
	for id, n := range db.flushSet {
		db.cache.Put(id, n, n.MemSize())
	}
	clear(db.flushSet)
	db.dirtyBytes = 0
	db.release()
	if h, ok := db.alloc.Shrink(db.shrinkMin()); ok {
		if err := db.file.Truncate(h); err != nil {
			return db.fail(err)
		}
		if err := db.sync(); err != nil {
			return db.fail(err)
		}
	}
	db.lastFlush.Store(time.Now().UnixMilli())
	db.flushes.Add(1)
	db.publishCounts()
	return nil
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

// writeNodes writes the flush set in page order, coalescing neighbours.
func (db *DB) writeNodes() error {
	ids := make([]uint64, 0, len(db.flushSet))
	for id := range db.flushSet {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	ps := db.ps
	buf := make([]byte, 0, min(maxWrite, len(ids)*ps))
	var start uint64
	for i, id := range ids {
		if len(buf) > 0 && (id != start+uint64(len(buf)/ps) || len(buf)+ps > maxWrite) {
			if err := db.writeRun(start, buf); err != nil {
				return err
			}
			buf = buf[:0]
		}
		if len(buf) == 0 {
			start = id
		}
		buf = buf[:len(buf)+ps]
		pg := buf[len(buf)-ps:]
		db.flushSet[ids[i]].Encode(pg)
		db.flushed[id] = page.RunSum{ID: id, Pages: 1, Sum: binary.LittleEndian.Uint64(pg)}
	}
	if len(buf) > 0 {
		return db.writeRun(start, buf)
	}
	return nil
}

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
	m.Encode(buf)
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
