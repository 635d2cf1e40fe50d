//go:build linux

package page

import (
	"bytes"
	"encoding/binary"
	"errors"
	"math"
	"math/rand/v2"
	"testing"
)

// batchPage is the content TestPageReader writes at page id: its id in
// every 8 bytes.
func batchPage(id uint64, ps int) []byte {
	b := make([]byte, ps)
	for i := 0; i < ps; i += 8 {
		binary.LittleEndian.PutUint64(b[i:], id^0x5a5a<<32)
	}
	return b
}

// newPageReader returns a reader over f, skipping the test where the
// kernel has no io_uring for us (what callers fall back from).
func newPageReader(t *testing.T, f *File, depth int) *PageReader {
	t.Helper()
	r, err := f.NewPageReader(depth)
	if errors.Is(err, ErrNoBatchRead) {
		t.Skipf("no batched reads here (the scan falls back to the mapping): %v", err)
	}
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Close() })
	return r
}

// TestPageReader: random batches of pages, many more in all than the
// ring's entries (its indexes wrap), read what was written at each, a page
// marked skipped keeps its mark, and a page past the end of the file is a
// corruption error naming it, the others of its batch unaffected.
func TestPageReader(t *testing.T) {
	_, osf, b := mappedTemp(t)
	const ps, pages = 4096, 300
	for id := uint64(0); id < pages; id++ {
		if _, err := osf.WriteAt(batchPage(id, ps), int64(id)*ps); err != nil {
			t.Fatal(err)
		}
	}
	f := NewFile(b, nil, ps)
	r := newPageReader(t, f, 64)
	rng := rand.New(rand.NewPCG(1, 2))
	errs := make([]error, 64)
	for round := 0; round < 200; round++ {
		ids := make([]uint64, 1+rng.IntN(64))
		for i := range ids {
			ids[i] = uint64(rng.IntN(pages + 5)) // a few past the end
		}
		clear(errs)
		skip := rng.IntN(len(ids))
		errs[skip] = errSkipped
		r.ReadPages(ids, errs)
		if errs[skip] != errSkipped {
			t.Fatalf("round %d: a page marked skipped got %v", round, errs[skip])
		}
		errs[skip] = nil
		for i, id := range ids {
			if i == skip {
				continue
			}
			got := r.Page(i)
			var ce *CorruptError
			switch {
			case id >= pages:
				if !errors.As(errs[i], &ce) || ce.ID != id {
					t.Fatalf("round %d: page %d past the end: %v, want a corruption error naming it", round, id, errs[i])
				}
			case errs[i] != nil:
				t.Fatalf("round %d: page %d: %v", round, id, errs[i])
			case !bytes.Equal(got, batchPage(id, ps)):
				t.Fatalf("round %d: page %d: read other bytes", round, id)
			}
		}
	}
	// An id whose offset overflows is refused before any read.
	clear(errs)
	r.ReadPages([]uint64{math.MaxUint64, 1}, errs)
	var ce *CorruptError
	if !errors.As(errs[0], &ce) || errs[1] != nil || !bytes.Equal(r.Page(1), batchPage(1, ps)) {
		t.Fatalf("huge id: %v, %v", errs[0], errs[1])
	}
	// Read then Open: the codec verifies what was read (these pages have
	// no valid header, so it must refuse them).
	clear(errs)
	r.ReadPages([]uint64{3}, errs)
	if _, _, err := f.Open(r.Page(0), 3, 0, 0); !errors.Is(err, ErrCorrupt) {
		t.Fatalf("Open of a page without a header: %v", err)
	}
	// More pages than the depth: refused, the reader still good; after
	// Close every page is refused, and Close again does nothing.
	clear(errs)
	r.ReadPages(make([]uint64, 65), make([]error, 65))
	if r.Broken() != nil {
		t.Fatalf("a batch past the depth broke the reader: %v", r.Broken())
	}
	if err := r.Close(); err != nil {
		t.Fatal(err)
	}
	r.ReadPages([]uint64{1}, errs)
	if errs[0] == nil || r.Close() != nil {
		t.Fatalf("after Close: %v", errs[0])
	}
}

// TestPageReaderShortFile: a file whose last page is cut short reads as
// truncated there (the rest of the read finished with pread, which finds
// the end too), the whole pages before it as written.
func TestPageReaderShortFile(t *testing.T) {
	_, osf, b := mappedTemp(t)
	const ps = 4096
	for id := uint64(0); id < 3; id++ {
		osf.WriteAt(batchPage(id, ps), int64(id)*ps)
	}
	osf.Truncate(2*ps + 100)
	f := NewFile(b, nil, ps)
	r := newPageReader(t, f, 8)
	errs := make([]error, 3)
	r.ReadPages([]uint64{0, 1, 2}, errs)
	var ce *CorruptError
	if errs[0] != nil || errs[1] != nil || !bytes.Equal(r.Page(1), batchPage(1, ps)) || !errors.As(errs[2], &ce) || ce.ID != 2 {
		t.Fatalf("got %v", errs)
	}
}

// errSkipped marks a page ReadPages must not read.
var errSkipped = errors.New("skipped")

// TestPageReaderNeedsAFile: a backend that is not a file cannot be read in
// batches, and says so with ErrNoBatchRead.
func TestPageReaderNeedsAFile(t *testing.T) {
	f := NewFile(struct{ Backend }{}, nil, 4096)
	if _, err := f.NewPageReader(8); !errors.Is(err, ErrNoBatchRead) {
		t.Fatalf("got %v", err)
	}
}

// BenchmarkNewPageReader: setting up and closing a reader (a ring), which
// a long scan pays once.
func BenchmarkNewPageReader(b *testing.B) {
	_, osf, be := mappedTemp(b)
	osf.WriteAt(make([]byte, 4096), 0)
	f := NewFile(be, nil, 4096)
	for i := 0; i < b.N; i++ {
		r, err := f.NewPageReader(64)
		if err != nil {
			b.Skip(err)
		}
		r.Close()
	}
}
