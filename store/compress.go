package store

import (
	"encoding/binary"
	"fmt"

	"github.com/digby-db/digby/btree"
	"github.com/pierrec/lz4/v4"
)

// Values compressed in their leaf.
//
// A value of minCompress to maxCompressRaw bytes is stored lz4-compressed in
// its leaf (btree.FlagCompressed) when its compressed form fits inline
// (btree.InlineMax) and saves at least an eighth of it: a leaf then holds
// more values, so fewer leaves are cached, changed and written at a flush.
// A value that does not compress (random bytes, or already compressed)
// is stored as given, the try having cost an lz4 pass that gives up once
// its output passes the bound: about 0.9 us for 1 KiB. So the writer backs
// off: after k tries in a row that did not pay (k at most compressBackoff)
// it skips the next 2^k-1 candidates, and one that pays ends the streak. A
// stream of values that do not compress (redis-benchmark's random bytes)
// then pays about a thirty-second of the pass; one that does is tried
// every value. Options.NoCompression skips it all.
//
// The writer's choice never shows: reads decode either form.
//
// The stored form: the value's length as a uvarint, then one lz4 block that
// decodes to exactly that many bytes. Readers decode it into a new buffer
// (decodeCompressed); the length alone (compressedLen) answers STRLEN and
// metadata without decoding. A value whose stored form does not decode is
// corrupt (page checksums cover it, so only a bug or a forged page makes
// one); Check names the leaf.
const (
	minCompress     = 64
	maxCompressRaw  = 16 << 10
	compressBackoff = 5
)

// maxStoredRaw is the format's bound on a compressed value's length, which
// readers check: a constant of the format, apart from the writer's tuning
// (minCompress, maxCompressRaw, at most it), so that retuning them never
// makes stored values read as corrupt.
const maxStoredRaw = 16 << 10

// compressState is the writer's back-off (above).
type compressState struct {
	fails int // tries in a row that did not pay, at most compressBackoff
	skip  int // candidates left to skip
}

// compressInline returns the stored form of raw when compressing it pays,
// in a buffer the writer reuses (valid until its next call).
func (w *wtx) compressInline(raw []byte) ([]byte, bool) {
	if w.db.opts.NoCompression || len(raw) < minCompress || len(raw) > maxCompressRaw {
		return nil, false
	}
	cs := &w.db.cstate
	if cs.skip > 0 {
		cs.skip--
		return nil, false
	}
	out, ok := w.tryCompress(raw)
	if ok {
		cs.fails = 0
	} else {
		cs.fails = min(cs.fails+1, compressBackoff)
		cs.skip = 1<<cs.fails - 1
	}
	return out, ok
}

// tryCompress is compressInline's lz4 pass.
func (w *wtx) tryCompress(raw []byte) ([]byte, bool) {
	limit := min(btree.InlineMax(w.db.usable()), len(raw)-len(raw)/8)
	if cap(w.db.cbuf) < limit {
		w.db.cbuf = make([]byte, max(limit, 1024))
	}
	buf := w.db.cbuf[:limit]
	h := binary.PutUvarint(buf, uint64(len(raw)))
	// A destination shorter than lz4's bound makes it give up as soon as
	// its output would not fit.
	n, err := w.db.zc.CompressBlock(raw, buf[h:])
	if err != nil || n == 0 {
		return nil, false
	}
	return buf[:h+n], true
}

// compressedLen is the length of the value whose stored form is b, and the
// length of its header.
func compressedLen(b []byte) (n uint64, h int, err error) {
	n, h = binary.Uvarint(b)
	if h <= 0 || n == 0 || n > maxStoredRaw {
		return 0, 0, fmt.Errorf("compressed value: bad length header: %w", ErrCorrupt)
	}
	return n, h, nil
}

// decodeCompressed returns the value whose stored form is b, in a new
// buffer.
func decodeCompressed(b []byte) ([]byte, error) {
	n, h, err := compressedLen(b)
	if err != nil {
		return nil, err
	}
	out := make([]byte, n)
	got, err := lz4.UncompressBlock(b[h:], out)
	if err != nil || uint64(got) != n {
		return nil, fmt.Errorf("compressed value: lz4 block decodes to %d bytes, expected %d (%v): %w", got, n, err, ErrCorrupt)
	}
	return out, nil
}

// decodeValue makes v's Data and Len the value's own bytes and length when
// v is stored compressed; others are left as they are.
func decodeValue(v *btree.Value) error {
	if !v.Compressed {
		return nil
	}
	d, err := decodeCompressed(v.Data)
	if err != nil {
		return err
	}
	v.Data, v.Len, v.Compressed = d, uint64(len(d)), false
	return nil
}

// valueLen is the length of v's value, read from its header when v is
// stored compressed.
func valueLen(v *btree.Value) (uint64, error) {
	if !v.Compressed {
		return v.Len, nil
	}
	n, _, err := compressedLen(v.Data)
	return n, err
}
