//go:build linux

package page

import (
	"fmt"
	"runtime"
	"sync/atomic"
	"syscall"
	"time"
	"unsafe"
)

// The parts of io_uring a PageReader uses: one ring, IORING_OP_READ
// requests on one file, submitted and waited for together. The layouts and
// numbers are those of linux/io_uring.h; the standard library has none of
// them.
const (
	sysIOURingSetup = 425 // on every architecture but mips, where 425 is no call (ENOSYS)
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
	maps     [][]byte // the rings, unmapped at close
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
	seq      uint32 // tags each call's requests (userData's high half)
}

// newURing sets up a ring of at least depth entries on file and a window
// of win bytes (an anonymous mapping), and checks with one read that the
// kernel can read through it.
func newURing(file, depth, win int) (*uring, []byte, error) {
	var p uringParams
	fd, _, e := syscall.Syscall(sysIOURingSetup, uintptr(depth), uintptr(unsafe.Pointer(&p)), 0)
	switch e {
	case 0:
	case syscall.ENOSYS, syscall.EPERM, syscall.EACCES, syscall.EINVAL, syscall.EOPNOTSUPP:
		return nil, nil, fmt.Errorf("%w: io_uring_setup: %v", ErrNoBatchRead, e)
	default: // out of descriptors or memory: may pass
		return nil, nil, fmt.Errorf("io_uring_setup: %w", e)
	}
	r := &uring{fd: int(fd), file: file, depth: int(p.sqEntries)}
	if err := r.mapRings(&p); err != nil {
		r.close(nil)
		return nil, nil, err
	}
	w, err := syscall.Mmap(-1, 0, win, syscall.PROT_READ|syscall.PROT_WRITE, syscall.MAP_ANON|syscall.MAP_PRIVATE)
	if err != nil {
		r.close(nil)
		return nil, nil, fmt.Errorf("mapping a read window of %d bytes: %w", win, err)
	}
	// A kernel before 5.6 sets rings up but refuses IORING_OP_READ.
	errs := []error{nil}
	if err := r.readAt([]int64{0}, min(512, win), errs, w); err != nil {
		// Reads may be in flight: keep the ring and the window mapped.
		return nil, nil, fmt.Errorf("%w: a test read failed: %v", ErrNoBatchRead, err)
	}
	if _, short := errs[0].(shortRead); errs[0] != nil && !short {
		r.close(w)
		return nil, nil, fmt.Errorf("%w: a test read failed: %v", ErrNoBatchRead, errs[0])
	}
	return r, w, nil
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

// readAt reads n bytes at offs[i] into buf[i*n:] for each i whose errs[i]
// is nil, setting errs[i] to a readErrno or a shortRead for the reads
// that fail. It returns only when none of its requests is in flight,
// unless io_uring_enter itself fails (the error): reads may then be in
// flight, and neither the ring nor buf may be used again.
func (r *uring) readAt(offs []int64, n int, errs []error, buf []byte) error {
	if len(offs) > r.depth || len(buf) < len(offs)*n {
		return fmt.Errorf("io_uring: %d reads of %d bytes into %d: past the ring's depth %d or the buffer", len(offs), n, len(buf), r.depth)
	}
	// Completions are delivered through the submitting thread on older
	// kernels: stay on it until every one is in.
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	r.seq++
	tag := uint64(r.seq) << 32
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
			userData: tag | uint64(i),
		}
		r.sqArray[idx] = idx
		queued++
	}
	atomic.StoreUint32(r.sqTail, tail+queued)
	for done, waits := uint32(0), 0; done < queued; {
		submit := tail + queued - atomic.LoadUint32(r.sqHead)
		_, _, e := syscall.Syscall6(sysIOURingEnter, uintptr(r.fd), uintptr(submit), uintptr(queued-done), uringGetEvents, 0, 0)
		switch e {
		case 0, syscall.EINTR:
		case syscall.EAGAIN, syscall.EBUSY: // the kernel is short of something: let it catch up
			if waits++; waits > 3 {
				time.Sleep(time.Duration(min(waits, 100)) * 10 * time.Microsecond)
			}
		default:
			runtime.KeepAlive(buf)
			return fmt.Errorf("io_uring_enter: %w", e)
		}
		head, ctail := atomic.LoadUint32(r.cqHead), atomic.LoadUint32(r.cqTail)
		for ; head != ctail; head++ {
			c := r.cqes[head&r.cqMask]
			i := int(c.userData &^ tag)
			if c.userData&^0xffffffff != tag || i >= len(offs) {
				continue // not this call's (there are none: see uring)
			}
			switch {
			case c.res < 0:
				errs[i] = readErrno{syscall.Errno(-c.res)}
			case int(c.res) != n:
				errs[i] = shortRead(c.res)
			}
			done++
		}
		atomic.StoreUint32(r.cqHead, head)
	}
	runtime.KeepAlive(buf)
	return nil
}

// close unmaps win (when not nil) and the rings and closes the ring.
func (r *uring) close(win []byte) error {
	if win != nil {
		syscall.Munmap(win)
	}
	for _, m := range r.maps {
		syscall.Munmap(m)
	}
	r.maps = nil
	return syscall.Close(r.fd)
}
