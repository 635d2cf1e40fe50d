//go:build linux

package page

import (
	"fmt"
	"os"
	"runtime/debug"
	"sync"
	"sync/atomic"
	"syscall"
	"unsafe"
)

// mapMaxRead is the largest read served from the mapping: a longer one
// (cache warming's spans, large values) pays one pread for many pages,
// cheaper than the page faults of a first copy out of a fresh mapping.
const mapMaxRead = 64 << 10

// mapChunk is the granularity of a read mapping's length: a mapping
// reserves address space only, so it is made well past the file's end and
// replaced by a larger one only when the file outgrows it.
const mapChunk = 1 << 30

// mappedFile is a Backend over an *os.File whose reads copy from a
// read-only shared mapping of the file instead of making a pread system
// call each: on a virtual machine a pread of one page costs about 2 µs,
// several times the copy. Writes, syncs and truncation go to the file; the
// kernel keeps the mapping coherent with them (one page cache).
//
// Invariants: a read copies from the mapping only the bytes below size,
// the file's length as this backend's own writes and truncations have made
// it, so it never touches a page past the end of the file; and should it
// fault all the same (the file shrunk under a read by a goroutine holding
// no snapshot, or changed by another process), the fault is recovered and
// the read falls back to pread, which reports the short file. Mappings are
// only unmapped at Close: a read that loaded the old mapping while a new
// one was made still copies valid bytes. Close does not wait for readers:
// one still reading then faults (recovered; pread on the closed file
// fails) or, should the address range be mapped again meanwhile, copies
// bytes that fail verification. Reading after Close is an error either way.
type mappedFile struct {
	*os.File
	size atomic.Int64
	m    atomic.Pointer[[]byte]
	mu   sync.Mutex // making a mapping; Close
	all  [][]byte   // every mapping made, unmapped at Close
	// failed is set when mapping failed (a file system without mmap):
	// reads then use pread without trying again.
	failed atomic.Bool
	// popBase and popEnd: the mapping Populate last populated from the
	// file's start, and up to where (under mu).
	popBase *byte
	popEnd  int64
}

// MapReads wraps f so that reads copy from a mapping of it (see
// mappedFile). If f cannot be mapped, reads use pread as before.
func MapReads(f *os.File) (Backend, error) {
	st, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("stat: %w", err)
	}
	b := &mappedFile{File: f}
	b.size.Store(st.Size())
	return b, nil
}

// mapping returns a mapping covering [0,end), making one if needed; nil
// if mapping fails.
func (b *mappedFile) mapping(end int64) []byte {
	if p := b.m.Load(); p != nil && int64(len(*p)) >= end {
		return *p
	}
	if b.failed.Load() {
		return nil
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if p := b.m.Load(); p != nil && int64(len(*p)) >= end {
		return *p
	}
	n := (2*end + mapChunk - 1) / mapChunk * mapChunk
	if int64(int(n)) != n {
		b.failed.Store(true)
		return nil
	}
	m, err := syscall.Mmap(int(b.File.Fd()), 0, int(n), syscall.PROT_READ, syscall.MAP_SHARED)
	if err != nil {
		b.failed.Store(true)
		return nil
	}
	b.all = append(b.all, m)
	b.m.Store(&m)
	return m
}

// ReadAt copies from the mapping when [off, off+len(p)) lies within the
// file and is at most mapMaxRead long, else (or on a fault) reads with
// pread.
func (b *mappedFile) ReadAt(p []byte, off int64) (int, error) {
	// off <= size-len(p), not off+len(p) <= size: a corrupt reference's
	// huge offset must not wrap around into a slice out of range.
	if n := int64(len(p)); off >= 0 && n <= mapMaxRead && off <= b.size.Load()-n {
		if m := b.mapping(off + n); m != nil && copyMapped(p, m[off:off+n]) {
			return len(p), nil
		}
	}
	return b.File.ReadAt(p, off)
}

// copyMapped copies src, a part of a mapping, to dst; false if that
// faulted.
func copyMapped(dst, src []byte) bool {
	return guarded(func() { copy(dst, src) })
}

// WriteAt writes to the file and extends the known size.
func (b *mappedFile) WriteAt(p []byte, off int64) (int, error) {
	n, err := b.File.WriteAt(p, off)
	for end := off + int64(n); ; {
		cur := b.size.Load()
		if end <= cur || b.size.CompareAndSwap(cur, end) {
			break
		}
	}
	return n, err
}

// Truncate sets the file's length; a shrink lowers the known size first,
// so that reads stop copying from the part being cut off.
func (b *mappedFile) Truncate(size int64) error {
	if size < b.size.Load() {
		b.size.Store(size)
	}
	err := b.File.Truncate(size)
	if err == nil {
		b.size.Store(size)
	} else if st, serr := b.File.Stat(); serr == nil {
		b.size.Store(st.Size())
	}
	return err
}

// Sync makes the file's written data durable (fdatasync, as File.Sync
// does for a plain *os.File).
func (b *mappedFile) Sync() error { return fdatasync(b.File) }

// StartWriteback starts writing [off, off+n) to the device without
// waiting (File.StartWriteback).
func (b *mappedFile) StartWriteback(off, n int64) { _ = startWriteback(b.File, off, n) }

// Close unmaps every mapping and closes the file.
func (b *mappedFile) Close() error {
	b.mu.Lock()
	b.m.Store(nil)
	b.failed.Store(true) // no new mapping of a closed file
	for _, m := range b.all {
		syscall.Munmap(m)
	}
	b.all = nil
	b.mu.Unlock()
	return b.File.Close()
}

// View returns the file's bytes [off, off+n) as a slice of the mapping,
// without copying, when they lie within the file (else false). The slice
// stays addressable until Close, but the bytes are the file's: they change
// when the file is written there, and touching them faults if the file is
// cut below them. Callers lend them only for pages nothing rewrites or
// cuts while they are used (see File.ViewRun).
func (b *mappedFile) View(off, n int64) ([]byte, bool) {
	if off < 0 || n <= 0 || n > mapMaxRead || off > b.size.Load()-n {
		return nil, false
	}
	m := b.mapping(off + n)
	if m == nil {
		return nil, false
	}
	return m[off : off+n : off+n], true
}

// guarded runs fn, which reads mapped bytes, and reports false if that
// faulted (the file was cut under it) instead of crashing.
func guarded(fn func()) (ok bool) {
	old := debug.SetPanicOnFault(true)
	defer func() {
		debug.SetPanicOnFault(old)
		if recover() != nil {
			ok = false
		}
	}()
	fn()
	return true
}

// guard is guarded, for File.ViewRun.
func (b *mappedFile) guard(fn func()) bool { return guarded(fn) }

// Populate asks the kernel to map [off, off+n) of the file (cut to its
// size) into the mapping now, in one call (MADV_POPULATE_READ), rather
// than page by page as reads first touch it. Once per mapping and range:
// a later call within what the current mapping has populated from the
// file's start does nothing, and one past it populates only the rest (the
// file grew). It holds mu meanwhile, which only making a new mapping waits
// for; on a file not in the kernel's page cache, the call reads what it
// maps. False where that is not possible (a kernel before 5.14, no
// mapping).
func (b *mappedFile) Populate(off, n int64) bool {
	if end := b.size.Load(); off+n > end {
		n = end - off
	}
	if off < 0 || n <= 0 {
		return false
	}
	m := b.mapping(off + n)
	if m == nil {
		return false
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	end := off + n
	if b.popBase == &m[0] {
		if b.popEnd >= end {
			return true
		}
		off = max(off, b.popEnd) // only what the file grew by since
	}
	lo := off &^ int64(os.Getpagesize()-1) // madvise wants an aligned start
	r := m[lo:end]
	if _, _, e := syscall.Syscall(syscall.SYS_MADVISE, uintptr(unsafe.Pointer(&r[0])), uintptr(len(r)), madvPopulateRead); e != 0 {
		return false
	}
	if lo == 0 || (b.popBase == &m[0] && lo <= b.popEnd) {
		b.popBase, b.popEnd = &m[0], end
	}
	return true
}

// madvPopulateRead is MADV_POPULATE_READ (Linux 5.14).
const madvPopulateRead = 22
