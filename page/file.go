package page

import (
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"syscall"
)

// Backend is what the page layer needs from a file. *os.File satisfies it;
// tests wrap it to inject torn writes, short writes, ENOSPC and fsync errors.
// Its methods are called concurrently (reads by readers; a flush's writes
// and Sync beside the writer's own writes), as *os.File allows.
type Backend interface {
	ReadAt(p []byte, off int64) (int, error)
	WriteAt(p []byte, off int64) (int, error)
	Sync() error
	Truncate(size int64) error
	Stat() (os.FileInfo, error)
	Close() error
}

// ErrLocked is returned when another process holds the database's lock.
var ErrLocked = errors.New("database is locked by another process")

// DataFile is the name of the data file inside a database directory.
const DataFile = "digby.db"

// LockFile is the name of the lock file inside a database directory.
const LockFile = "LOCK"

// File is an open data file: page-granular reads and writes of runs.
// It is safe for concurrent use: reads and writes are positional.
type File struct {
	b        Backend
	lock     *os.File
	pageSize int
	codec    *Codec
}

// Lock takes an exclusive flock on dir's lock file, creating dir if needed.
func Lock(dir string) (*os.File, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("create %s: %w", dir, err)
	}
	f, err := os.OpenFile(filepath.Join(dir, LockFile), os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return nil, fmt.Errorf("open lock: %w", err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return nil, fmt.Errorf("%s: %w", dir, ErrLocked)
		}
		return nil, fmt.Errorf("lock %s: %w", dir, err)
	}
	return f, nil
}

// NewFile wraps an open backend. lock, if non-nil, is closed with the file.
// The file starts with the plain codec; SetCodec replaces it.
func NewFile(b Backend, lock *os.File, pageSize int) *File {
	return &File{b: b, lock: lock, pageSize: pageSize, codec: PlainCodec()}
}

// Codec is the codec runs of this file are sealed and opened with.
func (f *File) Codec() *Codec { return f.codec }

// SetCodec sets the file's codec, once its metas have told which (before
// the file is shared between goroutines).
func (f *File) SetCodec(c *Codec) { f.codec = c }

// PageSize is the file's page size.
func (f *File) PageSize() int { return f.pageSize }

// SetPageSize fixes the page size once it has been read from the meta.
func (f *File) SetPageSize(n int) { f.pageSize = n }

// Backend returns the underlying backend.
func (f *File) Backend() Backend { return f.b }

// offset is page id's offset in the file, or an error naming the page
// when n bytes there would pass the largest possible file offset (a
// corrupt reference: no file reaches this far).
func (f *File) offset(id uint64, n int) (int64, error) {
	if id > (math.MaxInt64-uint64(n))/uint64(f.pageSize) {
		return 0, corrupt(id, "page id past the largest possible file offset")
	}
	return int64(id) * int64(f.pageSize), nil
}

// ReadRaw reads len(buf) bytes at page id without verification.
func (f *File) ReadRaw(id uint64, buf []byte) error {
	off, err := f.offset(id, len(buf))
	if err != nil {
		return err
	}
	n, err := f.b.ReadAt(buf, off)
	if n == len(buf) {
		return nil
	}
	if err == nil || errors.Is(err, io.EOF) {
		return corrupt(id, "file truncated: read %d of %d bytes", n, len(buf))
	}
	return fmt.Errorf("page %d: read: %w", id, err)
}

// Read reads the run at id of the given length in pages and opens it with
// the file's codec (see Codec.Open): it returns the verified, decrypted run
// without its trailer.
func (f *File) Read(id uint64, pages int, want Type, txn uint64) ([]byte, Header, error) {
	return f.ReadInto(nil, id, pages, want, txn)
}

// ReadInto is Read into buf when its capacity is enough (else into a new
// buffer); it returns the run's bytes.
func (f *File) ReadInto(buf []byte, id uint64, pages int, want Type, txn uint64) ([]byte, Header, error) {
	if n := pages * f.pageSize; cap(buf) >= n {
		buf = buf[:n]
	} else {
		buf = make([]byte, n)
	}
	if err := f.ReadRaw(id, buf); err != nil {
		return nil, Header{}, err
	}
	return f.codec.Open(buf, id, want, txn, f.pageSize)
}

// Write writes a run sealed with the file's codec at its id.
func (f *File) Write(id uint64, buf []byte) error {
	n, err := f.b.WriteAt(buf, int64(id)*int64(f.pageSize))
	if err == nil && n != len(buf) {
		err = io.ErrShortWrite
	}
	if err != nil {
		return fmt.Errorf("page %d: write: %w", id, err)
	}
	return nil
}

// SyncBackend makes b's written data durable: fdatasync for a plain file
// (where the platform has it), the backend's own Sync otherwise.
func SyncBackend(b Backend) error {
	if of, ok := b.(*os.File); ok {
		return fdatasync(of)
	}
	return b.Sync()
}

// Sync makes written pages durable (fdatasync where the backend is a file).
func (f *File) Sync() error {
	err := SyncBackend(f.b)
	if err != nil {
		return fmt.Errorf("fsync: %w", err)
	}
	return nil
}

// Size is the file size in bytes.
func (f *File) Size() (int64, error) {
	st, err := f.b.Stat()
	if err != nil {
		return 0, fmt.Errorf("stat: %w", err)
	}
	return st.Size(), nil
}

// Truncate sets the file length to pages pages.
func (f *File) Truncate(pages uint64) error {
	if err := f.b.Truncate(int64(pages) * int64(f.pageSize)); err != nil {
		return fmt.Errorf("truncate to %d pages: %w", pages, err)
	}
	return nil
}

// Close closes the file and releases the lock.
func (f *File) Close() error {
	err := f.b.Close()
	if f.lock != nil {
		f.lock.Close()
	}
	return err
}

// viewer is a backend that can lend its bytes without copying them
// (mappedFile): View lends them; guard runs fn, which reads lent bytes,
// and reports false if that faulted instead of crashing.
type viewer interface {
	View(off, n int64) ([]byte, bool)
	guard(fn func()) bool
}

// CanView reports whether ViewRun can lend pages: the backend is mapped
// (as far as known before the first read) and the codec plain.
func (f *File) CanView() bool {
	_, ok := f.b.(viewer)
	return ok && !f.codec.Encrypted()
}

// ViewRun is Read without the copy: the verified run at id, pages long,
// as the file mapping's own bytes. ok is false where that cannot be done
// (no mapping, an encrypted file: its pages must be decrypted into a
// buffer, or a run past the end of the file): use Read.
//
// The bytes are the file's, not a copy: the caller must use them only
// while nothing may rewrite or cut the run (a snapshot holding the page
// keeps the writer off it) and never after Close.
func (f *File) ViewRun(id uint64, pages int, want Type, txn uint64) (buf []byte, h Header, ok bool, err error) {
	v, isViewer := f.b.(viewer)
	if !isViewer || f.codec.Encrypted() || id > uint64(math.MaxInt64/int64(f.pageSize))-uint64(pages) {
		return nil, Header{}, false, nil
	}
	raw, ok := v.View(int64(id)*int64(f.pageSize), int64(pages*f.pageSize))
	if !ok {
		return nil, Header{}, false, nil
	}
	// Verification is the first touch of the lent bytes: a file cut under
	// it is an error naming the page, not a crash.
	if !v.guard(func() { buf, h, err = f.codec.Open(raw, id, want, txn, f.pageSize) }) {
		return nil, Header{}, true, corrupt(id, "mapped read faulted: the file was cut under it")
	}
	return buf, h, true, err
}

// Populate maps pages [id, id+pages) into a mapped backend's mapping now,
// in one call, instead of one fault per first touch (mappedFile.Populate);
// false where the backend cannot.
func (f *File) Populate(id uint64, pages int) bool {
	p, ok := f.b.(interface{ Populate(off, n int64) bool })
	return ok && p.Populate(int64(id)*int64(f.pageSize), int64(pages)*int64(f.pageSize))
}

// StartWriteback asks the kernel to start writing pages [id, id+pages),
// already handed to Write, to the device without waiting, so that the disk
// works while the caller writes further pages and the Sync that must
// follow has less left to wait for. It makes nothing durable and changes
// no data: a failure or a backend that cannot do it is ignored (the Sync
// writes the pages either way), so it reports nothing.
func (f *File) StartWriteback(id uint64, pages int) {
	off, n := int64(id)*int64(f.pageSize), int64(pages)*int64(f.pageSize)
	switch b := f.b.(type) {
	case *os.File:
		_ = startWriteback(b, off, n)
	case interface{ StartWriteback(off, n int64) }:
		b.StartWriteback(off, n)
	}
}
