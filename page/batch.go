package page

import (
	"errors"
	"math"
)

// ErrNoBatchRead is NewPageReader's error where pages cannot be read in
// batches: not Linux, a kernel without io_uring (or with it disabled, as
// container sandboxes often do), or a backend that is not a plain file.
// Callers read page by page instead.
var ErrNoBatchRead = errors.New("batched page reads (io_uring) not available")

// A PageReader reads many single pages of a file with one system call
// (io_uring on Linux): a scan that must read thousands of pages scattered
// over the file pays for one call per batch instead of one per page, or of
// one fault per page of a fresh mapping (docs/format.md, "Scans").
//
// A PageReader is used by one goroutine at a time. Close it when done; it
// holds a file descriptor and two small shared mappings.
type PageReader struct {
	f    *File
	ring *uring
	// broken is set when the ring failed in a way that may have left reads
	// in flight: hold is then the buffer they may still write to, kept
	// reachable so that the collector never hands its memory to anything
	// else, and the reader refuses further reads.
	broken error
	hold   []byte
}

// NewPageReader returns a reader of up to depth pages a batch, or
// ErrNoBatchRead.
func (f *File) NewPageReader(depth int) (*PageReader, error) {
	fd, ok := f.b.(interface{ Fd() uintptr })
	if !ok {
		return nil, ErrNoBatchRead
	}
	r, err := newURing(int(fd.Fd()), depth)
	if err != nil {
		return nil, err
	}
	return &PageReader{f: f, ring: r}, nil
}

// ReadPages reads page ids[i] into buf[i*ps:(i+1)*ps] (ps the file's page
// size), unverified as ReadRaw reads, for every i whose errs[i] is nil;
// a non-nil errs[i] is the caller's mark to skip that page, left as it is.
// It sets errs[i] to the error naming the page of each read that fails (a
// page past the end of the file is a *CorruptError). It returns only when
// no read is in flight any more, so buf is the caller's again. len(ids)
// must be at most the reader's depth, len(buf) at least len(ids)*ps and
// len(errs) at least len(ids).
func (r *PageReader) ReadPages(ids []uint64, buf []byte, errs []error) {
	ps := r.f.pageSize
	if r.broken != nil {
		for i := range ids {
			if errs[i] == nil {
				errs[i] = r.broken
			}
		}
		return
	}
	for i, id := range ids {
		if errs[i] == nil && id > uint64(math.MaxInt64-ps)/uint64(ps) {
			errs[i] = corrupt(id, "page id past the largest possible file offset")
		}
	}
	if err := r.ring.read(ids, errs, buf, ps); err != nil {
		r.broken, r.hold = err, buf
		for i := range ids {
			if errs[i] == nil {
				errs[i] = err
			}
		}
	}
}

// Open verifies and opens a run read raw (ReadRaw, ReadPages) with the
// file's codec, as Read does after reading.
func (f *File) Open(raw []byte, id uint64, want Type, txn uint64) ([]byte, Header, error) {
	return f.codec.Open(raw, id, want, txn, f.pageSize)
}

// Broken is the error that broke the reader (io_uring_enter failed with
// reads maybe in flight), or nil. The buffers a broken reader was given
// must not be reused: it keeps the last one reachable.
func (r *PageReader) Broken() error { return r.broken }

// Close releases the reader's ring. A broken reader keeps it (reads may
// be in flight into the buffer it holds).
func (r *PageReader) Close() error {
	if r.broken != nil {
		return nil
	}
	return r.ring.close()
}
