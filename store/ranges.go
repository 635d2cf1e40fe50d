package store

import (
	"bytes"
	"fmt"

	"github.com/digby-db/digby/btree"
	"github.com/digby-db/digby/page"
)

// GetMeta returns the tuple under key without its value: Value is nil and
// Len is the value's length, read from the leaf (no overflow is read but
// the chunk table of a long key, to confirm it).
func (t *Table) GetMeta(key []byte) (Tuple, bool, error) {
	f, ok, err := t.find(key)
	if err != nil || !ok {
		return Tuple{}, false, err
	}
	tu := tupleOf(key, f.v)
	tu.Value = nil
	if tu.Len, err = valueLen(&f.v); err != nil {
		return Tuple{}, false, t.wrapKey(f.tk, err)
	}
	return tu, true, nil
}

func (t *Table) getRaw(key []byte) (btree.Value, bool, error) {
	if m := t.tx.touched; m != nil {
		if v, ok, hit := m.take(t.n, key); hit {
			return v, ok, nil
		}
	}
	s, err := t.state()
	if err != nil {
		return btree.Value{}, false, err
	}
	m, _ := t.trees(s)
	v, ok, err := m.GetRaw(key)
	return v, ok, t.wrap(err)
}

// GetRange returns the tuple under key with Value holding the value's
// bytes [off, off+n), clipped at its end (empty when off is past it); Len
// is the whole value's length. Of a value in overflow it reads the chunk
// table and only the chunks the range covers.
func (t *Table) GetRange(key []byte, off, n uint64) (Tuple, bool, error) {
	f, ok, err := t.find(key)
	if err != nil || !ok {
		return Tuple{}, false, err
	}
	if err := t.wrapKey(f.tk, decodeValue(&f.v)); err != nil {
		return Tuple{}, false, err
	}
	v, ct := f.v, f.ct
	tu := tupleOf(key, v)
	if v.Ovf.IsZero() {
		lo := min(off, v.Len)
		tu.Value = v.Data[lo : lo+min(n, v.Len-lo)]
		return tu, true, nil
	}
	db := t.tx.db
	if ct == nil {
		if ct, err = t.chunkTable(v); err != nil {
			return Tuple{}, false, err
		}
	}
	if tu.Value, err = ct.readRange(db.readRun, db.geom(), v.Ovf.ID, off, n); err != nil {
		return Tuple{}, false, t.wrap(err)
	}
	return tu, true, nil
}

// chunkTable reads the chunk table of v (a value in overflow) and checks
// that it holds the length the leaf says.
func (t *Table) chunkTable(v btree.Value) (*chunkTable, error) {
	ct, err := readChunkTable(t.tx.db.readRun, v.Ovf)
	if err == nil && ct.length != v.Len {
		err = &page.CorruptError{ID: v.Ovf.ID, Reason: fmt.Sprintf("chunk table holds %d bytes, its reference says %d", ct.length, v.Len)}
	}
	return ct, t.wrap(err)
}

// Append appends data to the value under key (see WriteRange) and returns
// the tuple without its value, Len the new length.
func (t *Table) Append(key, data []byte) (Tuple, bool, error) {
	return t.writeRange(key, 0, true, data)
}

// WriteRange overwrites the value under key from byte off with data,
// padding with zero bytes when off is past its end, keeping its type and
// expiry and giving it a new version; an empty data changes nothing. It
// reports false when key is absent. It returns the tuple without its
// value, Len the new length.
//
// Of a value stored in chunks it reads and rewrites only the chunks the
// range touches (and those between the old end and off), plus the chunk
// table; untouched chunks stay where they are, still owned by this tuple
// alone.
func (t *Table) WriteRange(key []byte, off uint64, data []byte) (Tuple, bool, error) {
	return t.writeRange(key, off, false, data)
}

func (t *Table) writeRange(key []byte, off uint64, atEnd bool, data []byte) (Tuple, bool, error) {
	tx := t.tx
	if tx.w == nil {
		return Tuple{}, false, ErrReadOnly
	}
	f, ok, err := t.find(key)
	if err != nil || !ok {
		return Tuple{}, false, err
	}
	if err := t.wrapKey(f.tk, decodeValue(&f.v)); err != nil {
		return Tuple{}, false, err
	}
	v, ct := f.v, f.ct
	if atEnd {
		off = v.Len
	}
	if len(data) == 0 {
		return Tuple{Key: key, Type: v.Type, Version: v.Version, ExpireAt: v.ExpireAt, Len: v.Len}, true, nil
	}
	end := off + uint64(len(data))
	if off > MaxValueSize || end > MaxValueSize {
		return Tuple{}, false, fmt.Errorf("value of %d bytes (limit %d): %w", end, uint64(MaxValueSize), ErrValueTooLarge)
	}
	if ct == nil && !v.Ovf.IsZero() {
		if ct, err = t.chunkTable(v); err != nil {
			return Tuple{}, false, err
		}
	}
	nv := btree.Value{Type: v.Type, ExpireAt: v.ExpireAt}
	if ct == nil || ct.embed != nil {
		// Inline or one embedded chunk: rewrite the whole value.
		if ct != nil {
			if v.Data, err = ct.readRange(tx.db.readRun, tx.db.geom(), v.Ovf.ID, 0, ct.length); err != nil {
				return Tuple{}, false, t.wrap(err)
			}
		}
		buf := make([]byte, max(v.Len, end))
		copy(buf, v.Data)
		copy(buf[off:], data)
		nv.Data, nv.Len = buf, uint64(len(buf))
		if err := t.put(key, &nv); err != nil {
			return Tuple{}, false, err
		}
	} else if err := t.writeChunks(f.tk, v, ct, off, data, &nv); err != nil {
		return Tuple{}, false, err
	}
	return Tuple{Key: key, Type: nv.Type, Version: nv.Version, ExpireAt: nv.ExpireAt, Len: nv.Len}, true, nil
}

// writeChunks is WriteRange of a chunked value under tree key key: it
// shadows the touched chunks and the chunk table (which keeps a long key's
// whole key) and points the tuple at the new table.
func (t *Table) writeChunks(key []byte, v btree.Value, ct *chunkTable, off uint64, data []byte, nv *btree.Value) error {
	w := t.tx.w
	db := t.tx.db
	w.ownerTable, w.ownerKey = t.n, key
	defer func() { w.ownerTable, w.ownerKey = noOwner, nil }()
	cs := uint64(ct.chunkSize)
	end := off + uint64(len(data))
	oldLen, oldN := ct.length, len(ct.chunks)
	old := ct.runs(db.geom(), v.Ovf) // [table, chunk 0, ...]
	ct.length = max(oldLen, end)
	lo, hi := off/cs, (end-1)/cs
	if end > oldLen {
		lo = min(lo, oldLen/cs) // the chunk holding byte oldLen grows or is new
		hi = (ct.length - 1) / cs
	}
	buf := make([]byte, cs)
	var rb []byte
	for i := lo; i <= hi; i++ {
		start := i * cs
		raw := ct.chunkLen(int(i))
		b := buf[:raw]
		covered := off <= start && end >= start+raw
		if int(i) < oldN && !covered {
			oldRaw := min(cs, oldLen-start)
			clear(b[oldRaw:])
			if err := ct.readChunk(db.readRun, db.geom(), int(i), b[:oldRaw], &rb); err != nil {
				return t.wrap(err)
			}
		} else if !covered {
			clear(b)
		}
		if lo2, hi2 := max(off, start), min(end, start+raw); lo2 < hi2 {
			copy(b[lo2-start:hi2-start], data[lo2-off:hi2-off])
		}
		c, err := w.writeChunk(b)
		if err != nil {
			return err
		}
		if int(i) < oldN {
			ct.chunks[i] = c
			w.free(old[1+i].ID, int(old[1+i].Pages))
		} else {
			ct.chunks = append(ct.chunks, c)
		}
	}
	ref, err := w.writeTable(ct)
	if err != nil {
		return err
	}
	w.free(v.Ovf.ID, int(v.Ovf.Pages))
	s, err := t.state()
	if err != nil {
		return err
	}
	m, _ := t.trees(s)
	nv.Version, nv.Ovf, nv.Len = t.tx.nextVersion, ref, ct.length
	t.tx.nextVersion++
	if _, _, err := m.Replace(key, *nv); err != nil {
		return t.wrap(err)
	}
	s.root = m.Root
	t.tx.tables.set(t.n, s)
	return nil
}

// TouchScratch is Table.Touch's reusable state. The zero value is ready;
// one goroutine uses it at a time.
type TouchScratch struct {
	bt   btree.TouchScratch
	keys [][]byte // the tree keys of the last Touch, slices of kbuf
	kbuf []byte
	ends []int
	memo touchMemo
}

// Touch looks keys up side by side (btree.Tree.Touch), so that lookups of
// them right after find their memory in the CPU cache, and reports how
// many of them have a tuple in the table (expired or not). It reports no
// error: a lookup that follows does.
//
// In a read transaction the lookups that follow, of the same keys in the
// same order, take what Touch found instead of descending again
// (touchMemo), until the transaction ends.
func (t *Table) Touch(keys [][]byte, s *TouchScratch) int {
	m, tks, ok := t.touchKeys(keys, s)
	if !ok {
		return 0
	}
	n := m.Touch(tks, &s.bt)
	if t.tx.Writable() || len(s.bt.Hits()) != len(tks) {
		// A write may change the tree before the lookups.
		clear(tks)
		s.bt.Forget()
		return n
	}
	s.memo = touchMemo{s: s, table: t.n}
	t.tx.touched = &s.memo
	return n
}

// Prefetch asks the CPU to start loading the leaf memory that lookups of
// keys will read (btree.Tree.Prefetch), in a write transaction: the writer
// calls it for the submissions it is about to apply (DB.Prefetch is the
// other kind: it reads pages from the file into the page cache). It
// changes no data and no answer; it reads the branches above as a lookup
// would. It returns how many keys' leaves it found in memory, and does
// nothing in a read-only transaction.
func (t *Table) Prefetch(keys [][]byte, s *TouchScratch) int {
	if !t.tx.Writable() {
		return 0
	}
	m, tks, ok := t.touchKeys(keys, s)
	if !ok {
		return 0
	}
	n := m.Prefetch(tks, &s.bt)
	clear(tks)
	return n
}

// touchKeys prepares Touch and Prefetch: it forgets the last Touch, and
// returns the table's tree and keys' tree keys (copies in s), or false
// when the table cannot be read.
func (t *Table) touchKeys(keys [][]byte, s *TouchScratch) (btree.Tree, [][]byte, bool) {
	t.tx.forgetTouch()
	st, err := t.state()
	if err != nil {
		return btree.Tree{}, nil, false
	}
	m, _ := t.trees(st)
	// The memo keeps the tree keys until the transaction ends: copies, as
	// a short key's tree key is the caller's key itself.
	buf, ends := s.kbuf[:0], s.ends[:0]
	for _, k := range keys {
		buf = append(buf, treeKey(k)...)
		ends = append(ends, len(buf))
	}
	s.kbuf, s.ends = buf, ends
	tks, from := s.keys[:0], 0
	for _, end := range ends {
		tks, from = append(tks, buf[from:end:end]), end
	}
	s.keys = tks
	return m, tks, true
}

// maxTouchKeyBytes is the room for tree keys a TouchScratch keeps once
// its memo is dropped.
const maxTouchKeyBytes = 64 << 10

// touchMemo is what a read transaction's last Table.Touch found, for the
// lookups that follow it, which come in the order of Touch's keys: a
// lookup of the table takes the hit of the first key from the last one
// taken on that equals its own; a lookup of a key Touch did not walk (or
// walked no more times) goes down the tree as usual. The snapshot does not
// change, so neither do the nodes.
type touchMemo struct {
	s     *TouchScratch
	table uint32
	next  int
}

// take returns the tuple value Touch found for tree key tk of table n, if
// tk is the next key Touch walked; hit false: look it up.
func (m *touchMemo) take(n uint32, tk []byte) (v btree.Value, found, hit bool) {
	if n != m.table {
		return btree.Value{}, false, false
	}
	keys, hits := m.s.keys, m.s.bt.Hits()
	i := m.next
	for i < len(keys) && !bytes.Equal(keys[i], tk) {
		i++
	}
	if i == len(keys) {
		return btree.Value{}, false, false
	}
	h := hits[i]
	m.next = i + 1
	switch {
	case h.Failed:
		return btree.Value{}, false, false
	case h.N == nil:
		return btree.Value{}, false, true
	}
	return h.N.Val(h.I), true, true
}

// forgetTouch drops what the last Table.Touch of tx found (its keys, and
// the nodes its hits hold).
func (tx *Tx) forgetTouch() {
	if m := tx.touched; m != nil {
		clear(m.s.keys)
		m.s.keys = m.s.keys[:0]
		if cap(m.s.kbuf) > maxTouchKeyBytes {
			m.s.kbuf = nil
		}
		m.s.bt.Forget()
		tx.touched = nil
	}
}
