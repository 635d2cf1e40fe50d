//go:build linux

package page

import (
	"fmt"
	"runtime"
	"sync/atomic"
	"syscall"
	"unsafe"
)

// The parts of io_uring a PageReader uses: one ring, IORING_OP_READ
// requests on one file, submitted and waited for together. The layouts and
// numbers are those of linux/io_uring.h; the standard library has none of
// them.
const (
	sysIOURingSetup = 425 // the same number on every architecture
	sysIOURingEnter = 426

	uringOffSQRing  = 0
	uringOffCQRing  = 0x8000000
	uringOffSQEs    = 0x10000000
	uringSingleMmap = 1 << 0 // IORING_FEAT_SINGLE_MMAP
	uringGetEvents  = 1 << 0 // IORING_ENTER_GETEVENTS
	uringOpRead     = 22     // IORING_OP_READ (Linux 5.6)
)

type uringSQOffsets struct {
	head, tail, ringMask, ringEntries, flags, dropped, array, resv1 uint32
	userAddr                                                        uint64
}

type uringCQOffsets struct {
	head, tail, ringMask, ringEntries, overflow, cqes, flags, resv1 uint32
	userAddr                                                        uint64
}

type uringParams struct {
	sqEntries, cqEntries, flags, sqThreadCPU, sqThreadIdle, features, wqFD uint32
	resv                                                                   [3]uint32
	sqOff                                                                  uringSQOffsets
	cqOff                                                                  uringCQOffsets
}

type uringSQE struct {
	opcode, flags uint8
	ioprio        uint16
	fd            int32
	off, addr     uint64
	len, rwFlags  uint32
	userData      uint64
	pad           [3]uint64
}

type uringCQE struct {
	userData uint64
	res      int32
	flags    uint32
}

// uring is one io_uring instance reading one file. Invariant: between
// calls of read no request is in flight (read returns only once every
// request it queued has completed, or with an error after which the ring
// is not used again).
type uring struct {
	fd, file int
	maps     [][]byte // unmapped at close
	sqHead   *uint32
	sqTail   *uint32
	sqMask   uint32
	sqArray  []uint32
	sqes     []uringSQE
	cqHead   *uint32
	cqTail   *uint32
	cqMask   uint32
	cqes     []uringCQE
	depth    int
	offs     []int64 // read's scratch
}

func newURing(file, depth int) (*uring, error) {
	var p uringParams
	fd, _, e := syscall.Syscall(sysIOURingSetup, uintptr(depth), uintptr(unsafe.Pointer(&p)), 0)
	if e != 0 {
		return nil, fmt.Errorf("%w: io_uring_setup: %v", ErrNoBatchRead, e)
	}
	r := &uring{fd: int(fd), file: file, depth: int(p.sqEntries)}
	if err := r.mapRings(&p); err != nil {
		r.close()
		return nil, fmt.Errorf("%w: %v", ErrNoBatchRead, err)
	}
	// A kernel before 5.6 sets rings up but fails IORING_OP_READ.
	probe := make([]byte, 512)
	errs := []error{nil}
	if err := r.readAt([]int64{0}, 512, errs, probe); err != nil || errs[0] != nil {
		r.close()
		return nil, fmt.Errorf("%w: a test read failed: %v", ErrNoBatchRead, firstErr(err, errs[0]))
	}
	return r, nil
}

func firstErr(a, b error) error {
	if a != nil {
		return a
	}
	return b
}

// mapRings maps the submission and completion rings and the request array.
func (r *uring) mapRings(p *uringParams) error {
	mm := func(off int64, n uint32) ([]byte, error) {
		b, err := syscall.Mmap(r.fd, off, int(n), syscall.PROT_READ|syscall.PROT_WRITE, syscall.MAP_SHARED|syscall.MAP_POPULATE)
		if err == nil {
			r.maps = append(r.maps, b)
		}
		return b, err
	}
	sqSize := p.sqOff.array + p.sqEntries*4
	cqSize := p.cqOff.cqes + p.cqEntries*uint32(unsafe.Sizeof(uringCQE{}))
	if p.features&uringSingleMmap != 0 {
		sqSize = max(sqSize, cqSize)
	}
	sq, err := mm(uringOffSQRing, sqSize)
	if err != nil {
		return fmt.Errorf("mapping the submission ring: %w", err)
	}
	cq := sq
	if p.features&uringSingleMmap == 0 {
		if cq, err = mm(uringOffCQRing, cqSize); err != nil {
			return fmt.Errorf("mapping the completion ring: %w", err)
		}
	}
	sqes, err := mm(uringOffSQEs, p.sqEntries*uint32(unsafe.Sizeof(uringSQE{})))
	if err != nil {
		return fmt.Errorf("mapping the requests: %w", err)
	}
	at := func(b []byte, off uint32) unsafe.Pointer { return unsafe.Pointer(&b[off]) }
	r.sqHead = (*uint32)(at(sq, p.sqOff.head))
	r.sqTail = (*uint32)(at(sq, p.sqOff.tail))
	r.sqMask = *(*uint32)(at(sq, p.sqOff.ringMask))
	r.sqArray = unsafe.Slice((*uint32)(at(sq, p.sqOff.array)), p.sqEntries)
	r.sqes = unsafe.Slice((*uringSQE)(at(sqes, 0)), p.sqEntries)
	r.cqHead = (*uint32)(at(cq, p.cqOff.head))
	r.cqTail = (*uint32)(at(cq, p.cqOff.tail))
	r.cqMask = *(*uint32)(at(cq, p.cqOff.ringMask))
	r.cqes = unsafe.Slice((*uringCQE)(at(cq, p.cqOff.cqes)), p.cqEntries)
	return nil
}

// read reads page ids[i] (ps bytes) into buf[i*ps:] for each i whose
// errs[i] is nil, setting errs[i] for the reads that fail.
func (r *uring) read(ids []uint64, errs []error, buf []byte, ps int) error {
	offs := r.offs[:0]
	for _, id := range ids {
		offs = append(offs, int64(id)*int64(ps))
	}
	r.offs = offs
	if err := r.readAt(offs, ps, errs, buf); err != nil {
		return err
	}
	for i, id := range ids {
		if e, ok := errs[i].(shortRead); ok {
			errs[i] = corrupt(id, "file truncated: read %d of %d bytes", int(e), ps)
		} else if e, ok := errs[i].(syscall.Errno); ok {
			errs[i] = fmt.Errorf("page %d: read: %w", id, e)
		}
	}
	return nil
}

// shortRead is a read that returned fewer bytes than asked (past the end
// of the file).
type shortRead int

func (s shortRead) Error() string { return fmt.Sprintf("short read of %d bytes", int(s)) }

// readAt reads n bytes at offs[i] into buf[i*n:] for each i whose errs[i]
// is nil, setting errs[i] to a syscall.Errno or a shortRead for the reads
// that fail. It returns only when none of its requests is in flight,
// unless io_uring_enter itself fails (the error): reads may then be in
// flight, and neither the ring nor buf may be used again.
func (r *uring) readAt(offs []int64, n int, errs []error, buf []byte) error {
	if len(offs) > r.depth || len(buf) < len(offs)*n {
		return fmt.Errorf("io_uring: %d reads of %d bytes into %d: past the ring's depth %d or the buffer", len(offs), n, len(buf), r.depth)
	}
	tail := atomic.LoadUint32(r.sqTail)
	queued := uint32(0)
	for i, off := range offs {
		if errs[i] != nil {
			continue
		}
		idx := (tail + queued) & r.sqMask
		r.sqes[idx] = uringSQE{
			opcode:   uringOpRead,
			fd:       int32(r.file),
			off:      uint64(off),
			addr:     uint64(uintptr(unsafe.Pointer(&buf[i*n]))),
			len:      uint32(n),
			userData: uint64(i),
		}
		r.sqArray[idx] = idx
		queued++
	}
	atomic.StoreUint32(r.sqTail, tail+queued)
	for done := uint32(0); done < queued; {
		submit := tail + queued - atomic.LoadUint32(r.sqHead)
		_, _, e := syscall.Syscall6(sysIOURingEnter, uintptr(r.fd), uintptr(submit), uintptr(queued-done), uringGetEvents, 0, 0)
		switch e {
		case 0, syscall.EINTR:
		case syscall.EAGAIN, syscall.EBUSY:
			runtime.Gosched()
		default:
			runtime.KeepAlive(buf)
			return fmt.Errorf("io_uring_enter: %w", e)
		}
		head, ctail := atomic.LoadUint32(r.cqHead), atomic.LoadUint32(r.cqTail)
		for ; head != ctail; head++ {
			c := r.cqes[head&r.cqMask]
			if i := int(c.userData); i < len(offs) {
				switch {
				case c.res < 0:
					errs[i] = syscall.Errno(-c.res)
				case int(c.res) != n:
					errs[i] = shortRead(c.res)
				}
			}
			done++
		}
		atomic.StoreUint32(r.cqHead, head)
	}
	runtime.KeepAlive(buf)
	return nil
}

func (r *uring) close() error {
	for _, m := range r.maps {
		syscall.Munmap(m)
	}
	r.maps = nil
	return syscall.Close(r.fd)
}
