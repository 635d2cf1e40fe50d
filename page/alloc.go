package page

import (
	"cmp"
	"encoding/binary"
	"fmt"
	"slices"
)

// Allocator tracks free pages in memory and persists them at each flush.
//
// The reuse rule (DESIGN §2). A page that txn T stops referencing is "freed
// at T". It may be handed out again only when both hold:
//
//	(a) no registered reader has a snapshot older than T (its tree may still
//	    reach the page), and
//	(b) on disk, the OLDER of the two metas has txn id >= T: open falls back
//	    to that meta if the next meta write tears, so everything it reaches
//	    must stay intact.
//
// The allocator implements (b) with three stages. Freed pages wait in
// pending, tagged with T. A flush that writes meta M while the newest meta on
// disk is P moves every pending page with T <= P.Txn into diskFree (after M
// lands, the older meta is P, which does not reach them) and persists them as
// free; pages freed after P stay pending and are persisted as such. Pages in
// diskFree but still reachable by a reader wait in held until (a) holds;
// only then are they in avail, the set allocation draws from (lowest first).
// A flush's own metadata pages come from avail before the move, so they too
// obey (b).
//
// Pages allocated since the last flush and freed again before the next
// one ("fresh") were never reachable from a meta on disk, so rule (b) does
// not apply to them: they wait in freshFree for rule (a) only. Without this,
// a random-insert workload that shadows many leaves per second would grow
// the file by everything it shadows between two flushes.
//
// Persistent form: the bitmap diskFree is cut into chunks of
// (pageSize-HeaderSize-codec overhead)*8 bits, one page each, rewritten copy-on-write only
// when changed, so a flush costs O(changed chunks + pending), not O(free
// space). A directory run lists the chunk refs and the pending ids. Pages used
// by the directory and the chunks are subtracted on load, so their own
// allocation need not dirty the bitmap.
//
// An Allocator belongs to the single writer; it is not safe for concurrent use.
type Allocator struct {
	codec    *Codec // seals the chunks and the directory
	pageSize int
	hwm      uint64 // pages [0,hwm) exist as far as allocation knows
	diskFree bitset
	avail    bitset
	dirty    map[uint64]struct{} // chunk numbers changed since the last flush
	chunks   []Ref               // persisted chunk pages by chunk number
	dir      Ref                 // persisted directory run
	pending  []Freed             // freed, not yet free on disk; ascending Txn
	pendBits bitset              // the ids in pending, for O(1) membership
	held     []Freed             // free on disk, waiting for readers; ascending Txn
	lowHint  uint64
	// Dense allocation (dense.go): the 64-page group single pages are
	// taken from, the lowest group that may be dense, and whether
	// allocation is lowest-first instead (relocation).
	cur       uint64
	denseHint [len(denseLevels)]uint64
	lowFirst  bool
	availN    uint64 // pages in avail
	waitN     uint64 // freed pages not yet in avail (pending, staged, held, freshFree)
	slack     int    // percent of the file kept free for dense placement; 0 = off
	fresh     bitset // allocated since the last flush: no meta on disk reaches them
	freshIDs  []uint64
	freshFree []Freed             // fresh pages freed again: need only rule (a)
	metaFreed int                 // pages the last flush's metadata replaced (pending)
	staged    []Freed             // moved to diskFree by a flush whose meta has not landed
	metaPages map[uint64]struct{} // pages of the current directory and chunks
	// metaTopHWM is hwm when MoveMetaOffTail last moved metadata off the
	// file's end; 0 since Alloc (metadata's own allocation leaves it).
	metaTopHWM uint64
}

// Freed is a batch of page ids freed at one txn.
type Freed struct {
	Txn uint64
	IDs []uint64
}

// NewAllocator makes the allocator of an empty file: pages 0 and 1 (metas)
// in use. c seals the free-space pages it writes.
func NewAllocator(c *Codec, pageSize int) *Allocator {
	return &Allocator{codec: c, pageSize: pageSize, hwm: 2, dirty: map[uint64]struct{}{}, metaPages: map[uint64]struct{}{}}
}

func (a *Allocator) chunkBits() uint64 { return chunkBits(a.codec, a.pageSize) }

// chunkBits is the number of pages one free-map chunk page covers.
func chunkBits(c *Codec, pageSize int) uint64 {
	return uint64(pageSize-HeaderSize-c.Overhead()) * 8
}

func (a *Allocator) markDirty(id uint64) { a.dirty[id/a.chunkBits()] = struct{}{} }

// HWM is the number of pages the file spans for allocation.
func (a *Allocator) HWM() uint64 { return a.hwm }

// Alloc hands out a run of n free pages, extending the file if none: the
// lowest run, but for single pages outside SetLowFirst, which come from a
// mostly free group of 64 pages where there is one (dense.go).
func (a *Allocator) Alloc(n int) uint64 {
	id := a.alloc(n)
	a.metaTopHWM = 0
	for i := id; i < id+uint64(n); i++ {
		a.fresh.set(i)
		a.freshIDs = append(a.freshIDs, i)
	}
	return id
}

func (a *Allocator) alloc(n int) uint64 {
	if n == 1 && a.slack > 0 && !a.lowFirst {
		if id, ok := a.placeSingle(); ok {
			return id
		}
	}
	if id, ok := a.avail.run(a.lowHint, n, a.hwm); ok {
		a.take(id, n)
		if n == 1 {
			a.lowHint = id + 1
		}
		return id
	}
	if n == 1 {
		a.lowHint = a.hwm
	}
	id := a.hwm
	a.hwm += uint64(n)
	return id
}

// take makes the n allocatable pages at id allocated.
func (a *Allocator) take(id uint64, n int) {
	for i := id; i < id+uint64(n); i++ {
		a.takeAvail(i)
		a.diskFree.clear(i)
		a.markDirty(i)
	}
}

// Unalloc returns pages handed out by Alloc in the current txn (a rollback).
func (a *Allocator) Unalloc(id uint64, n int) {
	for i := id; i < id+uint64(n); i++ {
		a.fresh.clear(i)
		a.giveAvail(i)
		a.diskFree.set(i)
		a.markDirty(i)
	}
	if id < a.lowHint {
		a.lowHint = id
	}
}

// Free records that txn stops referencing the n pages at id.
func (a *Allocator) Free(txn, id uint64, n int) {
	if n > 0 && a.fresh.has(id) {
		if len(a.freshFree) == 0 || a.freshFree[len(a.freshFree)-1].Txn != txn {
			a.freshFree = append(a.freshFree, Freed{Txn: txn})
		}
		p := &a.freshFree[len(a.freshFree)-1]
		for i := id; i < id+uint64(n); i++ {
			p.IDs = append(p.IDs, i)
			a.fresh.clear(i)
		}
		a.waitN += uint64(n)
		return
	}
	a.waitN += uint64(n)
	if len(a.pending) == 0 || a.pending[len(a.pending)-1].Txn != txn {
		a.pending = append(a.pending, Freed{Txn: txn})
	}
	p := &a.pending[len(a.pending)-1]
	for i := id; i < id+uint64(n); i++ {
		p.IDs = append(p.IDs, i)
		a.pendBits.set(i)
	}
}

// Mark is a point in the pending list a savepoint can roll back to.
type Mark struct{ entries, ids, fentries, fids int }

// Mark returns the current position of the pending list.
func (a *Allocator) Mark() Mark {
	m := Mark{entries: len(a.pending), fentries: len(a.freshFree)}
	if m.entries > 0 {
		m.ids = len(a.pending[m.entries-1].IDs)
	}
	if m.fentries > 0 {
		m.fids = len(a.freshFree[m.fentries-1].IDs)
	}
	return m
}

// Unfree forgets the frees recorded since m.
func (a *Allocator) Unfree(m Mark) {
	for i := m.entries; i < len(a.pending); i++ {
		for _, id := range a.pending[i].IDs {
			a.pendBits.clear(id)
		}
		a.waitN -= uint64(len(a.pending[i].IDs))
	}
	a.pending = a.pending[:m.entries]
	if m.entries > 0 {
		p := &a.pending[m.entries-1]
		for _, id := range p.IDs[m.ids:] {
			a.pendBits.clear(id)
		}
		a.waitN -= uint64(len(p.IDs) - m.ids)
		p.IDs = p.IDs[:m.ids]
	}
	refresh := func(ids []uint64) {
		for _, id := range ids {
			a.fresh.set(id)
		}
		a.waitN -= uint64(len(ids))
	}
	for i := m.fentries; i < len(a.freshFree); i++ {
		refresh(a.freshFree[i].IDs)
	}
	a.freshFree = a.freshFree[:m.fentries]
	if m.fentries > 0 {
		p := &a.freshFree[m.fentries-1]
		refresh(p.IDs[m.fids:])
		p.IDs = p.IDs[:m.fids]
	}
}

// Release moves held pages freed at or before oldest (the oldest reader's
// snapshot txn, or the current txn when there is none) into avail, and
// reports each id released, with the txn that freed it, so caches can
// forget them.
func (a *Allocator) Release(oldest uint64, released func(id, freedIn uint64)) {
	k := 0
	for _, f := range a.freshFree {
		if f.Txn > oldest {
			break
		}
		a.waitN -= uint64(len(f.IDs))
		for _, id := range f.IDs {
			a.giveAvail(id)
			a.diskFree.set(id)
			a.markDirty(id)
			if id < a.lowHint {
				a.lowHint = id
			}
			if released != nil {
				released(id, f.Txn)
			}
		}
		k++
	}
	a.freshFree = slices.Delete(a.freshFree, 0, k)
	n := 0
	for _, f := range a.held {
		if f.Txn > oldest {
			break
		}
		a.waitN -= uint64(len(f.IDs))
		for _, id := range f.IDs {
			if id >= a.hwm {
				continue
			}
			a.giveAvail(id)
			if id < a.lowHint {
				a.lowHint = id
			}
			if released != nil {
				released(id, f.Txn)
			}
		}
		n++
	}
	a.held = a.held[n:]
}

// Flushed ends a flush cycle: pages allocated so far are now reachable
// from a meta on disk (or were freed and sit in freshFree/pending).
func (a *Allocator) Flushed() {
	for _, id := range a.freshIDs {
		a.fresh.clear(id)
	}
	a.freshIDs = a.freshIDs[:0]
}

// PrepareFlush moves pending pages freed at or before newest (the txn of the
// newest meta already on disk) into diskFree and held. Call it at the start
// of a flush, before the flush's own allocations.
func (a *Allocator) PrepareFlush(newest uint64) {
	// Fresh pages freed again are unreachable from every meta: free on
	// disk now, allocatable once readers let go.
	for _, f := range a.freshFree {
		for _, id := range f.IDs {
			a.diskFree.set(id)
			a.markDirty(id)
		}
		a.held = append(a.held, f)
	}
	a.freshFree = a.freshFree[:0]
	n := 0
	for _, f := range a.pending {
		if f.Txn > newest {
			break
		}
		for _, id := range f.IDs {
			a.diskFree.set(id)
			a.pendBits.clear(id)
			a.markDirty(id)
		}
		a.staged = append(a.staged, f)
		n++
	}
	a.pending = slices.Delete(a.pending, 0, n)
	slices.SortStableFunc(a.held, func(x, y Freed) int { return cmp.Compare(x.Txn, y.Txn) })
}

// Landed tells the allocator that the meta of the flush prepared last is
// durable: the pages that flush moved out of pending may now be released
// to readers' rule alone (until then rule (b) holds them back).
func (a *Allocator) Landed() {
	a.held = append(a.held, a.staged...)
	a.staged = a.staged[:0]
	slices.SortStableFunc(a.held, func(x, y Freed) int { return cmp.Compare(x.Txn, y.Txn) })
}

// FreeCounts returns the pages free on disk and the pages pending.
func (a *Allocator) FreeCounts() (free, pending uint64) {
	for _, f := range a.pending {
		pending += uint64(len(f.IDs))
	}
	for _, f := range a.freshFree {
		pending += uint64(len(f.IDs))
	}
	return a.diskFree.count(), pending
}

// PendingBeyondMeta reports whether pages other than those the last
// flush's own metadata replaced wait for a flush: an idle writer then
// flushes (with an empty commit) so they become reusable.
func (a *Allocator) PendingBeyondMeta() bool {
	n := 0
	for _, f := range a.pending {
		n += len(f.IDs)
	}
	return n > a.metaFreed
}

// PendingAtTail reports whether the page that keeps the free tail from
// being cut is pending (typically free-space metadata the last flush
// replaced) while a lower page is allocatable: one more flush frees it and
// lets the tail go, and the metadata that flush writes goes lower, so an
// idle writer asking again after it gets false. That page may be the last
// of the file, the free pages all below it: until stop 20 that case was
// left out, and a file whose last flush had put its metadata at the end
// (the pages below were still pending then) kept its whole free tail.
func (a *Allocator) PendingAtTail() bool {
	h := a.avail.highestClearBelow(a.hwm)
	if h < 3 || !a.pendBits.has(h-1) {
		return false
	}
	low, ok := a.LowestFree()
	return ok && low < h-1
}

// MoveMetaOffTail marks the free-space metadata that ends the file (a
// chunk: RewriteMeta; every flush writes a new directory anyway) to move
// at the next flush, and reports whether it did: only when a lower page is
// allocatable, so that flush writes it there and lets the tail go. A flush
// that found no allocatable page put its metadata at the end of the file.
// It does so again only once the file is smaller than at the last time, or
// after an allocation (metaTopHWM): in a file too tight for the metadata
// to go lower, it would only move from one end page to another, a flush
// every idle tick.
func (a *Allocator) MoveMetaOffTail() bool {
	if a.metaTopHWM != 0 && a.hwm >= a.metaTopHWM {
		return false
	}
	h := a.avail.highestClearBelow(a.hwm)
	if h < 3 || !a.IsMetaPage(h-1) {
		return false
	}
	if low, ok := a.LowestFree(); !ok || low >= h-1 {
		return false
	}
	a.RewriteMeta(h - 1)
	a.metaTopHWM = a.hwm
	return true
}

// AvailCount is the number of pages allocation can draw from now.
func (a *Allocator) AvailCount() uint64 { return a.availN }

// WriteFreespace allocates and encodes the persistent free-space state for
// a flush of txn: it writes the changed free-map chunks through write,
// allocates the directory run and fills it but for its list of written
// runs, and returns that directory (complete it with FreeDir.Seal, then
// write it) and the high-water mark to store in the meta. The pages it
// replaces are freed at txn.
//
// runs, called after the chunks are written, is the number of runs the
// flush will list (every run written since the last flush, chunks
// included), which sizes the directory; open verifies each listed run's
// checksum before it trusts the flush (see RunSum). The list itself comes
// at Seal, so that the tree pages can be encoded (and their checksums
// known) beside the writer.
func (a *Allocator) WriteFreespace(txn uint64, write func(id uint64, buf []byte) error, runs func() int) (*FreeDir, uint64, error) {
	cb := a.chunkBits()
	need := (a.hwm + cb - 1) / cb
	for uint64(len(a.chunks)) < need {
		a.chunks = append(a.chunks, Ref{})
	}
	var dirty []uint64
	for c := range a.dirty {
		if c < need {
			dirty = append(dirty, c)
		}
	}
	clear(a.dirty)
	slices.Sort(dirty)
	var oldMeta []uint64
	newMeta := map[uint64]struct{}{}
	for _, c := range dirty {
		if old := a.chunks[c]; !old.IsZero() {
			oldMeta = append(oldMeta, old.ID)
		}
		id := a.allocMeta(1)
		a.chunks[c] = Ref{ID: id, Txn: txn, Pages: 1}
	}
	if !a.dir.IsZero() {
		for i := uint64(0); i < uint64(a.dir.Pages); i++ {
			oldMeta = append(oldMeta, a.dir.ID+i)
		}
	}
	a.metaFreed = len(oldMeta)
	for _, id := range oldMeta {
		delete(a.metaPages, id)
		a.pendBits.set(id)
	}
	if len(oldMeta) > 0 {
		a.Free(txn, oldMeta[0], 0) // make sure the txn entry exists
		p := &a.pending[len(a.pending)-1]
		p.IDs = append(p.IDs, oldMeta...)
		a.waitN += uint64(len(oldMeta))
	}
	// The chunk table may have grown with allocMeta extending the file.
	need = (a.hwm + cb - 1) / cb
	for uint64(len(a.chunks)) < need {
		a.chunks = append(a.chunks, Ref{})
	}
	// Chunk pages.
	for _, c := range dirty {
		buf := make([]byte, a.pageSize)
		PutHeader(buf, Header{ID: a.chunks[c].ID, Txn: txn, Type: TypeFreemap})
		body := buf[HeaderSize:]
		lo := c * cb / 64
		for w := uint64(0); w < cb/64 && lo+w < uint64(len(a.diskFree)); w++ {
			binary.LittleEndian.PutUint64(body[w*8:], a.diskFree[lo+w])
		}
		if err := a.codec.Seal(buf); err != nil {
			return nil, 0, err
		}
		if err := write(a.chunks[c].ID, buf); err != nil {
			return nil, 0, err
		}
	}
	var pend []uint64
	for _, f := range a.pending {
		pend = append(pend, f.IDs...)
	}
	nruns := runs()
	size := HeaderSize + 16 + len(a.chunks)*20 + 8 + len(pend)*8 + 8 + nruns*runSumSize + a.codec.Overhead()
	pages := (size + a.pageSize - 1) / a.pageSize
	dirID := a.allocMeta(pages)
	a.dir = Ref{ID: dirID, Txn: txn, Pages: uint32(pages)}
	for _, c := range dirty {
		newMeta[a.chunks[c].ID] = struct{}{}
	}
	for i := uint64(0); i < uint64(pages); i++ {
		newMeta[dirID+i] = struct{}{}
	}
	// Directory run, but for the list of runs.
	buf := make([]byte, pages*a.pageSize)
	PutHeader(buf, Header{ID: dirID, Txn: txn, Type: TypeFreedir, Overflow: uint32(pages - 1)})
	b := buf[HeaderSize:]
	binary.LittleEndian.PutUint64(b, a.hwm)
	binary.LittleEndian.PutUint64(b[8:], uint64(len(a.chunks)))
	off := 16
	for _, r := range a.chunks {
		putRef(b[off:], r)
		off += 20
	}
	binary.LittleEndian.PutUint64(b[off:], uint64(len(pend)))
	off += 8
	for _, id := range pend {
		binary.LittleEndian.PutUint64(b[off:], id)
		off += 8
	}
	for id := range newMeta {
		a.metaPages[id] = struct{}{}
	}
	for _, r := range a.chunks {
		if !r.IsZero() {
			a.metaPages[r.ID] = struct{}{}
		}
	}
	return &FreeDir{Ref: a.dir, buf: buf, off: HeaderSize + off, max: nruns, codec: a.codec}, a.usedHWM(), nil
}

// FreeDir is a flush's free-space directory run, allocated and filled but
// for its list of written runs. It owns its bytes (nothing of the
// allocator), so Seal may run in another goroutine while the allocator
// changes.
type FreeDir struct {
	Ref   Ref // where the run goes
	buf   []byte
	off   int // where the list of runs goes
	max   int // the runs the directory was sized for
	codec *Codec
}

// Seal writes list (at most the number of runs WriteFreespace was told)
// into the directory and seals it; it returns the run to write at Ref.
func (d *FreeDir) Seal(list []RunSum) ([]byte, error) {
	if len(list) > d.max {
		return nil, fmt.Errorf("page %d: free-space directory sized for %d runs, given %d", d.Ref.ID, d.max, len(list))
	}
	b, off := d.buf, d.off
	binary.LittleEndian.PutUint64(b[off:], uint64(len(list)))
	off += 8
	for _, r := range list {
		binary.LittleEndian.PutUint64(b[off:], r.ID)
		binary.LittleEndian.PutUint32(b[off+8:], r.Pages)
		binary.LittleEndian.PutUint64(b[off+12:], r.Sum)
		off += runSumSize
	}
	if err := d.codec.Seal(b); err != nil {
		return nil, err
	}
	return b, nil
}

// allocMeta allocates pages for free-space metadata without dirtying the
// bitmap: load subtracts metadata pages, so their bits may stay stale.
func (a *Allocator) allocMeta(n int) uint64 {
	if id, ok := a.avail.run(a.lowHint, n, a.hwm); ok {
		for i := id; i < id+uint64(n); i++ {
			a.takeAvail(i)
			a.diskFree.clear(i)
		}
		return id
	}
	id := a.hwm
	a.hwm += uint64(n)
	return id
}

// usedHWM is 1 + the highest page not free on disk: the file's logical end.
func (a *Allocator) usedHWM() uint64 {
	h := a.diskFree.highestClearBelow(a.hwm)
	if h < 2 {
		h = 2
	}
	return h
}

// Shrink gives back the free tail: it returns the new page count when at
// least minPages pages at the end of the file are all allocatable now, and
// drops them. (A small tail is kept: cutting it at every flush would make
// the file shrink and regrow, and its size change part of every sync.)
func (a *Allocator) Shrink(minPages uint64) (uint64, bool) {
	h := a.avail.highestClearBelow(a.hwm)
	if h < 2 {
		h = 2
	}
	if h >= a.hwm || a.hwm-h < max(minPages, 1) {
		return a.hwm, false
	}
	a.avail.clearFrom(h)
	a.availN = a.avail.count()
	a.diskFree.clearFrom(h)
	for i := h; i < a.hwm; i += a.chunkBits() {
		a.markDirty(i)
	}
	a.hwm = h
	if a.lowHint > h {
		a.lowHint = h
	}
	return h, true
}

// ReadRun reads one verified run: used by Load and Check.
type ReadRun func(r Ref, want Type) ([]byte, error)

// Load rebuilds the allocator from the directory a meta points at. hwm is
// the meta's high-water mark and txn its txn id (pending pages are tagged
// with it: reusable after the next flush). c is the file's codec.
func Load(c *Codec, pageSize int, dir Ref, hwm, txn uint64, read ReadRun) (*Allocator, error) {
	a := NewAllocator(c, pageSize)
	a.hwm = hwm
	if dir.IsZero() {
		return a, nil
	}
	st, err := ReadFreespace(c, pageSize, dir, read)
	if err != nil {
		return nil, err
	}
	a.dir = dir
	a.chunks = st.Chunks
	a.diskFree = st.Free
	// A meta's high-water mark leaves out the file's free tail (usedHWM)
	// while the chunks on disk still mark it free. Past the mark nothing
	// is allocatable until the file grows again, and the pages it grows
	// by are allocated: the chunks that mark them free on disk are
	// written again at the next flush, or a later open would find live
	// pages free (hand them out twice). (Within a session the bits past
	// the allocator's mark are clear on disk too once this flush, or a
	// Shrink's, has written them: growth needs no chunk written.)
	for i := hwm; i < uint64(len(a.diskFree))*64; i++ {
		if a.diskFree.has(i) {
			a.markDirty(i)
			i = (i/a.chunkBits()+1)*a.chunkBits() - 1 // on to the next chunk
		}
	}
	a.diskFree.clearFrom(hwm)
	for id := range st.MetaPages {
		a.diskFree.clear(id)
		a.metaPages[id] = struct{}{}
	}
	for _, id := range st.Pending {
		if id >= hwm {
			return nil, corrupt(dir.ID, "pending page %d past the high-water mark %d", id, hwm)
		}
		a.diskFree.clear(id)
	}
	a.diskFree.clear(0)
	a.diskFree.clear(1)
	a.avail = slices.Clone(a.diskFree)
	a.availN = a.avail.count()
	if len(st.Pending) > 0 {
		a.pending = []Freed{{Txn: txn, IDs: st.Pending}}
		a.waitN = uint64(len(st.Pending))
		for _, id := range st.Pending {
			a.pendBits.set(id)
		}
	}
	return a, nil
}

// Freespace is the decoded persistent free-space state.
type Freespace struct {
	Chunks    []Ref
	Free      bitset
	Pending   []uint64
	MetaPages map[uint64]struct{}
	Flushed   []RunSum // runs the flush that wrote this directory wrote
}

// RunSum names a run written by a flush and the checksum it was written
// with. A flush that syncs once writes pages and meta together; open reads
// every listed run and compares checksums, so a meta whose pages did not
// all reach the disk is recognised and the previous meta used instead.
type RunSum struct {
	ID    uint64
	Pages uint32
	Sum   uint64
}

const runSumSize = 20

// IsFree reports whether the bitmap marks id free (metadata pages excluded by the caller).
func (f *Freespace) IsFree(id uint64) bool { return f.Free.has(id) }

// ReadFreespace decodes the directory at dir and its chunks, as read (and
// opened) by read from a file sealed with codec.
func ReadFreespace(codec *Codec, pageSize int, dir Ref, read ReadRun) (*Freespace, error) {
	buf, err := read(dir, TypeFreedir)
	if err != nil {
		return nil, err
	}
	b := buf[HeaderSize:]
	if len(b) < 16 {
		return nil, corrupt(dir.ID, "free directory too short")
	}
	nchunks := binary.LittleEndian.Uint64(b[8:])
	if nchunks > uint64(len(b)-16)/20 {
		return nil, corrupt(dir.ID, "free directory claims %d chunks", nchunks)
	}
	st := &Freespace{MetaPages: map[uint64]struct{}{}}
	for i := uint64(0); i < uint64(dir.Pages); i++ {
		st.MetaPages[dir.ID+i] = struct{}{}
	}
	off := 16
	cb := chunkBits(codec, pageSize)
	for c := uint64(0); c < nchunks; c++ {
		r := getRef(b[off:])
		off += 20
		st.Chunks = append(st.Chunks, r)
		if r.IsZero() {
			continue
		}
		st.MetaPages[r.ID] = struct{}{}
		cbuf, err := read(r, TypeFreemap)
		if err != nil {
			return nil, fmt.Errorf("free map chunk %d: %w", c, err)
		}
		body := cbuf[HeaderSize:]
		st.Free.grow((c + 1) * cb)
		lo := c * cb / 64
		for w := uint64(0); w < cb/64; w++ {
			st.Free[lo+w] = binary.LittleEndian.Uint64(body[w*8:])
		}
	}
	if off+8 > len(b) {
		return nil, corrupt(dir.ID, "free directory truncated")
	}
	np := binary.LittleEndian.Uint64(b[off:])
	off += 8
	if np > uint64(len(b)-off)/8 {
		return nil, corrupt(dir.ID, "free directory claims %d pending pages", np)
	}
	for i := uint64(0); i < np; i++ {
		st.Pending = append(st.Pending, binary.LittleEndian.Uint64(b[off:]))
		off += 8
	}
	if off+8 > len(b) {
		return nil, corrupt(dir.ID, "free directory truncated")
	}
	nr := binary.LittleEndian.Uint64(b[off:])
	off += 8
	if nr > uint64(len(b)-off)/runSumSize {
		return nil, corrupt(dir.ID, "free directory claims %d flushed runs", nr)
	}
	for i := uint64(0); i < nr; i++ {
		st.Flushed = append(st.Flushed, RunSum{ID: binary.LittleEndian.Uint64(b[off:]), Pages: binary.LittleEndian.Uint32(b[off+8:]), Sum: binary.LittleEndian.Uint64(b[off+12:])})
		off += runSumSize
	}
	return st, nil
}

// Relocatable reports whether id is in use (not free, held or pending) and
// so a candidate for moving lower; and the count of allocatable pages.
func (a *Allocator) Relocatable(id uint64) bool {
	return id >= 2 && id < a.hwm && !a.diskFree.has(id) && !a.avail.has(id) && !a.pendBits.has(id)
}

// IsPending reports whether id was freed and waits for a flush to make it
// free on disk.
func (a *Allocator) IsPending(id uint64) bool { return a.pendBits.has(id) }

// IsMetaPage reports whether id holds free-space metadata; RewriteChunkOf
// makes the chunk page id is (if any) move at the next flush.
func (a *Allocator) IsMetaPage(id uint64) bool {
	_, ok := a.metaPages[id]
	return ok
}

// RewriteMeta marks the chunk stored at page id dirty so the next flush
// writes it to a new (lowest free) page.
func (a *Allocator) RewriteMeta(id uint64) {
	for c, r := range a.chunks {
		if r.ID == id {
			a.dirty[uint64(c)] = struct{}{}
		}
	}
}

// LowestFree is the lowest allocatable page id, if any.
func (a *Allocator) LowestFree() (uint64, bool) {
	id, ok := a.avail.next(a.lowHint)
	if !ok || id >= a.hwm {
		id, ok = a.avail.next(0)
	}
	return id, ok && id < a.hwm
}

// HasRunBelow reports whether n contiguous allocatable pages lie below limit.
func (a *Allocator) HasRunBelow(n int, limit uint64) bool {
	_, ok := a.avail.run(0, n, min(limit, a.hwm))
	return ok
}
