package page

import (
	"errors"
	"fmt"
)

// ErrNoBatchRead is NewPageReader's error where pages cannot be read in
// batches on this system: not Linux, a kernel without io_uring (or with it
// disabled, as container sandboxes often do), or a backend that is not a
// plain file. Callers read page by page instead, and need not try again.
// (NewPageReader's other errors, such as running out of file descriptors,
// may pass.)
var ErrNoBatchRead = errors.New("batched page reads (io_uring) not available")

// A PageReader reads many single pages of a file with one system call
// (io_uring on Linux) into a window of its own: a scan that must read
// thousands of pages scattered over the file pays for one call per batch
// instead of one per page, or of one fault per page of a fresh mapping
// (docs/format.md, "A long scan reads ahead in batches").
//
// Its window is an anonymous mapping, not memory of the Go heap, so that
// a read the kernel might still finish after a failure can never land in
// memory the collector has handed to something else: a broken reader
// keeps its ring and window mapped for good. The window is unmapped at
// Close: bytes of it (a page's keys, say) must not be used after that.
//
// A PageReader is used by one goroutine at a time.
type PageReader struct {
	f      *File
	ring   *uring
	win    []byte // depth pages
	depth  int
	offs   []int64 // ReadPages' scratch
	broken error   // set when reads may have been left in flight
	closed bool
}

// NewPageReader returns a reader of up to depth pages a batch. Its error
// is ErrNoBatchRead (wrapped) where batches cannot be read at all.
func (f *File) NewPageReader(depth int) (*PageReader, error) {
	fd, ok := f.b.(interface{ Fd() uintptr })
	if !ok {
		return nil, ErrNoBatchRead
	}
	if depth <= 0 || depth > 4096 {
		return nil, fmt.Errorf("page reader of depth %d: want 1 to 4096", depth)
	}
	ring, win, err := newURing(int(fd.Fd()), depth, depth*f.pageSize)
	if err != nil {
		return nil, err
	}
	return &PageReader{f: f, ring: ring, win: win, depth: depth}, nil
}

// Page is the window's page i, as the last ReadPages left it.
func (r *PageReader) Page(i int) []byte {
	ps := r.f.pageSize
	return r.win[i*ps : (i+1)*ps : (i+1)*ps]
}

// errReaderClosed is ReadPages' error for every page after Close.
var errReaderClosed = errors.New("page reader closed")

// ReadPages reads page ids[i] into Page(i), unverified as ReadRaw reads,
// for every i whose errs[i] is nil; a non-nil errs[i] is the caller's mark
// to skip that page, left as it is. It sets errs[i] to the error naming
// the page of each read that fails (a page past the end of the file is a
// *CorruptError). It returns only when no read is in flight any more.
// len(ids) must be at most the reader's depth and len(errs) at least
// len(ids).
func (r *PageReader) ReadPages(ids []uint64, errs []error) {
	ps := r.f.pageSize
	fail := func(err error) {
		for i := range ids {
			if errs[i] == nil {
				errs[i] = err
			}
		}
	}
	switch {
	case r.closed:
		fail(errReaderClosed)
		return
	case r.broken != nil:
		fail(r.broken)
		return
	case len(ids) > r.depth:
		fail(fmt.Errorf("%d pages in one batch, past the reader's depth %d", len(ids), r.depth))
		return
	}
	offs := r.offs[:0]
	for i, id := range ids {
		off, err := r.f.offset(id, ps)
		if errs[i] == nil {
			errs[i] = err
		}
		offs = append(offs, off)
	}
	r.offs = offs
	if err := r.ring.readAt(offs, ps, errs, r.win); err != nil {
		r.broken = fmt.Errorf("batched read of pages %d..: %w", ids[0], err)
		fail(r.broken)
		return
	}
	for i, id := range ids {
		switch e := errs[i].(type) {
		case shortRead:
			// Cut short: at the end of the file on today's kernels (5.6-5.8
			// could stop early). ReadRaw reads the page whole again, and
			// names a truncated one.
			errs[i] = r.f.ReadRaw(id, r.Page(i))
		case readErrno:
			errs[i] = fmt.Errorf("page %d: read: %w", id, e.err)
		}
	}
}

// shortRead is a read that returned fewer bytes than asked.
type shortRead int

func (s shortRead) Error() string { return fmt.Sprintf("short read of %d bytes", int(s)) }

// readErrno is a read the kernel failed with err (a syscall.Errno).
type readErrno struct{ err error }

func (e readErrno) Error() string { return e.err.Error() }

// Broken is the error that broke the reader (its ring failed with reads
// maybe in flight), or nil. A broken reader reads nothing more.
func (r *PageReader) Broken() error { return r.broken }

// Open verifies and opens a run read raw (ReadRaw, ReadPages) with the
// file's codec, as Read does after reading.
func (f *File) Open(raw []byte, id uint64, want Type, txn uint64) ([]byte, Header, error) {
	return f.codec.Open(raw, id, want, txn, f.pageSize)
}

// Close releases the reader's ring and unmaps its window; a second Close
// does nothing. A broken reader keeps both (see PageReader).
func (r *PageReader) Close() error {
	if r.closed {
		return nil
	}
	r.closed = true
	if r.broken != nil {
		return nil
	}
	return r.ring.close(r.win)
}
