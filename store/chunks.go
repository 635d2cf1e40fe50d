package store

import (
	"encoding/binary"
	"fmt"

	"github.com/digby-db/digby/btree"
	"github.com/digby-db/digby/page"
	"github.com/pierrec/lz4/v4"
)

// Large values (DESIGN §3, docs/format.md "Large values").
//
// A value longer than btree.InlineMax goes to overflow. The leaf holds a
// reference (id, txn, pages, length) to the value's chunk table: a run of
// type page.TypeChunkTable holding the owner (table, tree key), the value's
// length, and either the value itself (when it fits one chunk: "embedded")
// or one entry per chunk of ChunkSize value bytes. Each chunk is its own
// run of contiguous pages (type page.TypeOverflow, an extent) with the same
// owner prefix, sealed and verified on its own, lz4-compressed only when
// that takes fewer pages. A chunk entry carries the chunk run's id and the
// txn that wrote it (a stale chunk reads as corruption of that page), its
// stored and raw lengths and its flags.
//
// Invariants: chunk i holds value bytes [i*ChunkSize, i*ChunkSize+raw) and
// every chunk but the last is full; a chunk run and a chunk table belong to
// exactly one tuple (never shared) and are freed, through the allocator's
// reader-safe rule, exactly when the tuple stops referring to them.

// ChunkSize is the number of value bytes per chunk. A chunk run's header
// (32 bytes) and owner prefix (at most 262 bytes) fit beside a full chunk
// in 64 KiB: sixteen 4 KiB pages or one 64 KiB page.
const ChunkSize = 64<<10 - 512

// chunkEntrySize is the encoded size of a chunk entry: id u64, txn u64,
// stored u32, raw u32, flags u8.
const chunkEntrySize = 25

// chunkCompressed marks lz4-compressed stored bytes.
const chunkCompressed = 1

// Chunk table kinds.
const (
	ctChunked  = 0 // chunk entries follow
	ctEmbedded = 1 // the value's stored bytes follow
)

// chunkRef is one chunk table entry.
type chunkRef struct {
	ID, Txn     uint64
	Stored, Raw uint32
	Flags       uint8
}

// chunkTable is a decoded chunk table run.
type chunkTable struct {
	owner     uint32
	treeKey   []byte // the owner's key in its tree
	length    uint64
	chunkSize uint32
	fullKey   []byte     // the whole key of a long key (see treeKey); nil otherwise
	embed     *chunkRef  // the embedded value's lengths and flags, or nil
	data      []byte     // the embedded stored bytes
	chunks    []chunkRef // when not embedded
}

// ownerLen is the size of the owner prefix: table u32, key length u16, key.
func ownerLen(key []byte) int { return ovfOwnerFixed + len(key) }

func putOwner(b []byte, table uint32, key []byte) int {
	binary.LittleEndian.PutUint32(b, table)
	binary.LittleEndian.PutUint16(b[4:], uint16(len(key)))
	return ovfOwnerFixed + copy(b[ovfOwnerFixed:], key)
}

// getOwner decodes an owner prefix, returning the bytes after it.
func getOwner(id uint64, b []byte) (uint32, []byte, []byte, error) {
	if len(b) < ovfOwnerFixed {
		return 0, nil, nil, &page.CorruptError{ID: id, Reason: "overflow owner overruns the run"}
	}
	klen := int(binary.LittleEndian.Uint16(b[4:]))
	if klen > btree.MaxKeySize || ovfOwnerFixed+klen > len(b) {
		return 0, nil, nil, &page.CorruptError{ID: id, Reason: fmt.Sprintf("overflow owner key of %d bytes", klen)}
	}
	return binary.LittleEndian.Uint32(b), b[ovfOwnerFixed : ovfOwnerFixed+klen], b[ovfOwnerFixed+klen:], nil
}

// bodySize is the encoded size of the table after the page header.
func (ct *chunkTable) bodySize() int {
	n := ownerLen(ct.treeKey) + 1 + 8 + 4 + 8 + len(ct.fullKey)
	if ct.embed != nil {
		return n + 4 + 1 + len(ct.data)
	}
	return n + 4 + chunkEntrySize*len(ct.chunks)
}

// encode writes the table body into b (at least bodySize bytes).
func (ct *chunkTable) encode(b []byte) {
	le := binary.LittleEndian
	off := putOwner(b, ct.owner, ct.treeKey)
	kind := byte(ctChunked)
	if ct.embed != nil {
		kind = ctEmbedded
	}
	b[off] = kind
	le.PutUint64(b[off+1:], ct.length)
	le.PutUint32(b[off+9:], ct.chunkSize)
	le.PutUint64(b[off+13:], uint64(len(ct.fullKey)))
	off += 21
	off += copy(b[off:], ct.fullKey)
	if ct.embed != nil {
		le.PutUint32(b[off:], ct.embed.Stored)
		b[off+4] = ct.embed.Flags
		copy(b[off+5:], ct.data)
		return
	}
	le.PutUint32(b[off:], uint32(len(ct.chunks)))
	off += 4
	for _, c := range ct.chunks {
		le.PutUint64(b[off:], c.ID)
		le.PutUint64(b[off+8:], c.Txn)
		le.PutUint32(b[off+16:], c.Stored)
		le.PutUint32(b[off+20:], c.Raw)
		b[off+24] = c.Flags
		off += chunkEntrySize
	}
}

// decodeChunkTable decodes the body (after the page header) of the chunk
// table run at page id. It never panics on arbitrary bytes; any
// inconsistency is a *page.CorruptError naming id. The result shares b.
func decodeChunkTable(id uint64, b []byte) (*chunkTable, error) {
	bad := func(format string, args ...any) error {
		return &page.CorruptError{ID: id, Reason: "chunk table: " + fmt.Sprintf(format, args...)}
	}
	le := binary.LittleEndian
	owner, key, b, err := getOwner(id, b)
	if err != nil {
		return nil, err
	}
	if len(b) < 21 {
		return nil, bad("truncated")
	}
	ct := &chunkTable{owner: owner, treeKey: key, length: le.Uint64(b[1:]), chunkSize: le.Uint32(b[9:])}
	kind, fkl := b[0], le.Uint64(b[13:])
	b = b[21:]
	switch {
	case kind != ctChunked && kind != ctEmbedded:
		return nil, bad("unknown kind %d", kind)
	case ct.length > MaxValueSize:
		return nil, bad("value length %d over the limit %d", ct.length, uint64(MaxValueSize))
	case ct.chunkSize == 0 || ct.chunkSize > 1<<24:
		return nil, bad("chunk size %d", ct.chunkSize)
	case fkl > uint64(len(b)):
		return nil, bad("full key of %d bytes overruns the run", fkl)
	}
	if fkl > 0 {
		ct.fullKey = b[:fkl:fkl]
	}
	b = b[fkl:]
	if kind == ctEmbedded {
		if len(b) < 5 {
			return nil, bad("truncated")
		}
		e := &chunkRef{Stored: le.Uint32(b), Raw: uint32(ct.length), Flags: b[4]}
		if ct.length > uint64(ct.chunkSize) {
			return nil, bad("embedded value of %d bytes, chunk size %d", ct.length, ct.chunkSize)
		}
		if err := e.check(); err != nil {
			return nil, bad("embedded value: %v", err)
		}
		if uint64(e.Stored) > uint64(len(b)-5) {
			return nil, bad("embedded value of %d stored bytes overruns the run", e.Stored)
		}
		ct.embed, ct.data = e, b[5:5+e.Stored:5+e.Stored]
		return ct, nil
	}
	if len(b) < 4 {
		return nil, bad("truncated")
	}
	n := uint64(le.Uint32(b))
	b = b[4:]
	want := (ct.length + uint64(ct.chunkSize) - 1) / uint64(ct.chunkSize)
	if n != want || n == 0 {
		return nil, bad("%d chunks for %d bytes in chunks of %d", n, ct.length, ct.chunkSize)
	}
	if n*chunkEntrySize > uint64(len(b)) {
		return nil, bad("%d chunk entries overrun the run", n)
	}
	ct.chunks = make([]chunkRef, n)
	for i := range ct.chunks {
		e := b[i*chunkEntrySize:]
		c := chunkRef{ID: le.Uint64(e), Txn: le.Uint64(e[8:]), Stored: le.Uint32(e[16:]), Raw: le.Uint32(e[20:]), Flags: e[24]}
		if uint64(c.Raw) != ct.chunkLen(i) {
			return nil, bad("chunk %d holds %d bytes, expected %d", i, c.Raw, ct.chunkLen(i))
		}
		if c.ID < 2 || c.Txn == 0 {
			return nil, bad("chunk %d: bad reference to page %d txn %d", i, c.ID, c.Txn)
		}
		if err := c.check(); err != nil {
			return nil, bad("chunk %d: %v", i, err)
		}
		ct.chunks[i] = c
	}
	return ct, nil
}

// check validates an entry's lengths and flags.
func (c *chunkRef) check() error {
	switch {
	case c.Flags&^chunkCompressed != 0:
		return fmt.Errorf("unknown flags %#x", c.Flags)
	case c.Flags&chunkCompressed == 0 && c.Stored != c.Raw:
		return fmt.Errorf("uncompressed, %d bytes stored for %d", c.Stored, c.Raw)
	case c.Flags&chunkCompressed != 0 && (c.Stored == 0 || c.Stored >= c.Raw):
		return fmt.Errorf("compressed to %d bytes from %d", c.Stored, c.Raw)
	}
	return nil
}

// chunkLen is the number of value bytes chunk i holds.
func (ct *chunkTable) chunkLen(i int) uint64 {
	start := uint64(i) * uint64(ct.chunkSize)
	return min(uint64(ct.chunkSize), ct.length-start)
}

// runGeom is what sizes a run: the page size and the bytes the file's codec
// keeps at the end of every run (its trailer under encryption, else 0).
type runGeom struct{ ps, overhead int }

// pages is the length in pages of a run whose header and body take n bytes.
func (g runGeom) pages(n int) int { return (n + g.overhead + g.ps - 1) / g.ps }

// geom is the run geometry of db's file.
func (db *DB) geom() runGeom { return fileGeom(db.file) }

// fileGeom is the run geometry of f.
func fileGeom(f *page.File) runGeom { return runGeom{f.PageSize(), f.Codec().Overhead()} }

// runPages is the length in pages of a chunk run holding a header, an
// owner prefix for key and n stored bytes.
func runPages(g runGeom, key []byte, n int) int {
	return g.pages(page.HeaderSize + ownerLen(key) + n)
}

// runReader reads and verifies the run ref points at, of the given type,
// into buf when it is big enough (so that reading a value chunk by chunk
// reuses one buffer), else into a new one.
type runReader func(ref page.Ref, typ page.Type, buf []byte) ([]byte, error)

// readRun is the store's one place that reads and verifies overflow runs
// (chunk tables and chunks); it counts them for Stats.
func (db *DB) readRun(ref page.Ref, typ page.Type, buf []byte) ([]byte, error) {
	db.ovfReads.Add(1)
	buf, _, err := db.file.ReadInto(buf, ref.ID, int(ref.Pages), typ, ref.Txn)
	return buf, err
}

// fileRuns reads runs straight from f (Check).
func fileRuns(f *page.File) runReader {
	return func(ref page.Ref, typ page.Type, buf []byte) ([]byte, error) {
		buf, _, err := f.ReadInto(buf, ref.ID, int(ref.Pages), typ, ref.Txn)
		return buf, err
	}
}

// readChunkTable reads and decodes the chunk table ref points at.
func readChunkTable(read runReader, ref page.Ref) (*chunkTable, error) {
	buf, err := read(ref, page.TypeChunkTable, nil)
	if err != nil {
		return nil, err
	}
	return decodeChunkTable(ref.ID, buf[page.HeaderSize:])
}

// chunkRunRef is the run reference of chunk i.
func (ct *chunkTable) chunkRunRef(g runGeom, i int) page.Ref {
	c := ct.chunks[i]
	return page.Ref{ID: c.ID, Txn: c.Txn, Pages: uint32(runPages(g, ct.treeKey, int(c.Stored)))}
}

// readChunk reads chunk i, verifies its owner and decodes it into dst,
// which must be exactly the chunk's raw length. *rb is the buffer the run
// is read into, kept for the next chunk.
func (ct *chunkTable) readChunk(read runReader, g runGeom, i int, dst []byte, rb *[]byte) error {
	ref := ct.chunkRunRef(g, i)
	buf, err := read(ref, page.TypeOverflow, *rb)
	if err != nil {
		return err
	}
	*rb = buf
	// The owner's key must match; its table may not (SWAPDB moves tuples
	// to another table without rewriting their runs, and a range write
	// then mixes runs naming either table).
	_, key, rest, err := getOwner(ref.ID, buf[page.HeaderSize:])
	if err != nil {
		return err
	}
	if string(key) != string(ct.treeKey) {
		return &page.CorruptError{ID: ref.ID, Reason: "chunk run names another owner key than its chunk table"}
	}
	c := ct.chunks[i]
	if uint64(len(rest)) < uint64(c.Stored) {
		return &page.CorruptError{ID: ref.ID, Reason: "chunk overruns its run"}
	}
	return decodeStored(ref.ID, rest[:c.Stored], c.Flags, dst)
}

// decodeStored turns stored bytes into exactly len(dst) raw bytes.
func decodeStored(id uint64, src []byte, flags uint8, dst []byte) error {
	if flags&chunkCompressed == 0 {
		if len(src) != len(dst) {
			return &page.CorruptError{ID: id, Reason: "chunk length mismatch"}
		}
		copy(dst, src)
		return nil
	}
	n, err := lz4.UncompressBlock(src, dst)
	if err != nil || n != len(dst) {
		return &page.CorruptError{ID: id, Reason: fmt.Sprintf("lz4 chunk decodes to %d bytes, expected %d (%v)", n, len(dst), err)}
	}
	return nil
}

// readRange returns value bytes [off, off+n) (n clipped at the end),
// reading only the chunks that range covers and decoding whole chunks
// straight into the result.
func (ct *chunkTable) readRange(read runReader, g runGeom, id uint64, off, n uint64) ([]byte, error) {
	if off >= ct.length {
		return []byte{}, nil
	}
	n = min(n, ct.length-off)
	dst := make([]byte, n)
	if ct.embed != nil {
		if off == 0 && n == ct.length {
			return dst, decodeStored(id, ct.data, ct.embed.Flags, dst)
		}
		tmp := make([]byte, ct.length)
		if err := decodeStored(id, ct.data, ct.embed.Flags, tmp); err != nil {
			return nil, err
		}
		copy(dst, tmp[off:])
		return dst, nil
	}
	cs := uint64(ct.chunkSize)
	var scratch, rb []byte
	for i := off / cs; i*cs < off+n; i++ {
		start := i * cs
		raw := ct.chunkLen(int(i))
		if start >= off && start+raw <= off+n {
			if err := ct.readChunk(read, g, int(i), dst[start-off:start-off+raw], &rb); err != nil {
				return nil, err
			}
			continue
		}
		if scratch == nil {
			scratch = make([]byte, cs)
		}
		if err := ct.readChunk(read, g, int(i), scratch[:raw], &rb); err != nil {
			return nil, err
		}
		lo, hi := max(start, off), min(start+raw, off+n)
		copy(dst[lo-off:hi-off], scratch[lo-start:hi-start])
	}
	return dst, nil
}

// readValue reads the whole value of the overflow reference ref.
func readValue(read runReader, g runGeom, ref page.Ref, length uint64) ([]byte, error) {
	ct, err := readChunkTable(read, ref)
	if err != nil {
		return nil, err
	}
	if ct.length != length {
		return nil, &page.CorruptError{ID: ref.ID, Reason: fmt.Sprintf("chunk table holds %d bytes, its reference says %d", ct.length, length)}
	}
	return ct.readRange(read, g, ref.ID, 0, length)
}

// runs lists every run of the value: the table's and its chunks'.
func (ct *chunkTable) runs(g runGeom, table page.Ref) []page.Ref {
	out := make([]page.Ref, 0, 1+len(ct.chunks))
	out = append(out, table)
	for i := range ct.chunks {
		out = append(out, ct.chunkRunRef(g, i))
	}
	return out
}

// overflowRuns lists the runs of the value at ref (for freeing and Check).
func overflowRuns(read runReader, g runGeom, ref page.Ref) ([]page.Ref, *chunkTable, error) {
	ct, err := readChunkTable(read, ref)
	if err != nil {
		return nil, nil, err
	}
	return ct.runs(g, ref), ct, nil
}

// checkValue verifies the value at ref, stored under key: its chunk table
// and every chunk (checksum, txn, owner, decoded length), one chunk in
// memory at a time. It returns the value's runs.
func checkValue(read runReader, g runGeom, ref page.Ref, key []byte, length uint64) ([]page.Ref, error) {
	runs, ct, err := overflowRuns(read, g, ref)
	if err != nil {
		return nil, err
	}
	if ct.length != length {
		return nil, &page.CorruptError{ID: ref.ID, Reason: fmt.Sprintf("chunk table holds %d bytes, its reference says %d", ct.length, length)}
	}
	if string(ct.treeKey) != string(key) {
		return nil, &page.CorruptError{ID: ref.ID, Reason: "chunk table names another owner key"}
	}
	if err := checkFullKey(ref.ID, key, ct); err != nil {
		return nil, err
	}
	if ct.embed != nil {
		return runs, decodeStored(ref.ID, ct.data, ct.embed.Flags, make([]byte, ct.length))
	}
	scratch := make([]byte, ct.chunkSize)
	var rb []byte
	for i := range ct.chunks {
		if err := ct.readChunk(read, g, i, scratch[:ct.chunks[i].Raw], &rb); err != nil {
			return nil, err
		}
	}
	return runs, nil
}

// compress returns the stored form of raw for a run whose other bytes
// (header, owner, table) take fixed bytes: lz4 when that saves a page, else
// raw itself.
func (w *wtx) compress(raw []byte, fixed int) ([]byte, uint8) {
	g := w.db.geom()
	if len(raw) < 64 {
		return raw, 0
	}
	if need := lz4.CompressBlockBound(len(raw)); cap(w.db.zbuf) < need {
		w.db.zbuf = make([]byte, need)
	}
	n, err := w.db.zc.CompressBlock(raw, w.db.zbuf[:cap(w.db.zbuf)])
	if err != nil || n == 0 || n >= len(raw) {
		return raw, 0
	}
	if g.pages(fixed+n) >= g.pages(fixed+len(raw)) {
		return raw, 0 // saves no page: keep it raw, cheaper to read
	}
	return w.db.zbuf[:n], chunkCompressed
}

// writeOvfRun is the store's one place that seals and writes overflow runs
// (chunk tables and chunks): a run of typ whose body (after the header) of
// n bytes fill writes. Overflow is written at once: no meta reaches it
// until the txn's flush.
func (w *wtx) writeOvfRun(typ page.Type, n int, fill func(body []byte)) (page.Ref, error) {
	ps := w.db.ps
	pages := w.db.geom().pages(page.HeaderSize + n)
	id := w.allocate(pages)
	// One buffer, reused: the file does not keep it after the write.
	if cap(w.db.runBuf) < pages*ps {
		w.db.runBuf = make([]byte, pages*ps)
	}
	buf := w.db.runBuf[:pages*ps]
	clear(buf[page.HeaderSize+n:])
	page.PutHeader(buf, page.Header{ID: id, Txn: w.txn, Type: typ, Overflow: uint32(pages - 1)})
	fill(buf[page.HeaderSize : page.HeaderSize+n])
	if err := w.db.file.Codec().Seal(buf); err != nil {
		return page.Ref{}, w.db.fail(err)
	}
	w.db.ovfWrites.Add(1)
	if err := w.db.writeRecorded(id, buf); err != nil {
		return page.Ref{}, w.db.fail(err)
	}
	return page.Ref{ID: id, Txn: w.txn, Pages: uint32(pages)}, nil
}

// writeChunk writes one chunk of raw value bytes as its own run, with the
// current owner (set by Table.put).
func (w *wtx) writeChunk(raw []byte) (chunkRef, error) {
	ol := ownerLen(w.ownerKey)
	stored, flags := w.compress(raw, page.HeaderSize+ol)
	ref, err := w.writeOvfRun(page.TypeOverflow, ol+len(stored), func(b []byte) {
		copy(b[putOwner(b, w.ownerTable, w.ownerKey):], stored)
	})
	if err != nil {
		return chunkRef{}, err
	}
	return chunkRef{ID: ref.ID, Txn: ref.Txn, Stored: uint32(len(stored)), Raw: uint32(len(raw)), Flags: flags}, nil
}

// writeTable writes ct, owned by the current owner, as a new run.
func (w *wtx) writeTable(ct *chunkTable) (page.Ref, error) {
	ct.owner, ct.treeKey = w.ownerTable, w.ownerKey
	return w.writeOvfRun(page.TypeChunkTable, ct.bodySize(), ct.encode)
}

// newTable is an empty chunk table for a value of length bytes.
func newTable(length uint64) *chunkTable {
	return &chunkTable{length: length, chunkSize: ChunkSize}
}

// embed makes ct hold data (at most one chunk) itself.
func (w *wtx) embed(ct *chunkTable, data []byte) {
	fixed := page.HeaderSize + ownerLen(w.ownerKey) + 21 + len(ct.fullKey) + 5
	stored, flags := w.compress(data, fixed)
	ct.embed = &chunkRef{Stored: uint32(len(stored)), Raw: uint32(len(data)), Flags: flags}
	ct.data = stored
}

// WriteOverflow stores data as a new chunked value owned by the current
// owner (set by Table.put) and returns the reference of its chunk table.
func (w *wtx) WriteOverflow(data []byte) (page.Ref, error) {
	if uint64(len(data)) > MaxValueSize {
		return page.Ref{}, fmt.Errorf("value of %d bytes (limit %d): %w", len(data), uint64(MaxValueSize), ErrValueTooLarge)
	}
	ct := newTable(uint64(len(data)))
	ct.fullKey = w.ownerFullKey
	if len(data) <= ChunkSize {
		w.embed(ct, data)
		return w.writeTable(ct)
	}
	ct.chunks = make([]chunkRef, 0, (len(data)+ChunkSize-1)/ChunkSize)
	for off := 0; off < len(data); off += ChunkSize {
		c, err := w.writeChunk(data[off:min(off+ChunkSize, len(data))])
		if err != nil {
			return page.Ref{}, err
		}
		ct.chunks = append(ct.chunks, c)
	}
	return w.writeTable(ct)
}

// ReadOverflow reads the whole value of an overflow reference.
func (w *wtx) ReadOverflow(r page.Ref, l uint64) ([]byte, error) { return w.db.readOverflow(r, l) }

// FreeOverflow frees the value's chunk table and every chunk run.
func (w *wtx) FreeOverflow(r page.Ref) error {
	_, err := w.freeValue(r)
	return err
}

// freeValue frees every run of the value at r and returns the page count.
func (w *wtx) freeValue(r page.Ref) (int, error) {
	runs, _, err := overflowRuns(w.db.readRun, w.db.geom(), r)
	if err != nil {
		return 0, err
	}
	n := 0
	for _, run := range runs {
		w.free(run.ID, int(run.Pages))
		n += int(run.Pages)
	}
	return n, nil
}

// readOverflow reads the whole value of an overflow reference.
func (db *DB) readOverflow(ref page.Ref, length uint64) ([]byte, error) {
	return readValue(db.readRun, db.geom(), ref, length)
}
