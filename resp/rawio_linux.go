//go:build linux

package resp

import (
	"syscall"
	"unsafe"
)

// The event loops' socket reads and writes and their epoll_wait with no
// timeout are made as raw system calls: the runtime is not told, as it is
// by syscall.Read and friends, that the goroutine entered a call that may
// block. None of these can block: the sockets and the eventfd are
// non-blocking and the wait's timeout is zero, so each returns in
// microseconds (a write copies at most a socket buffer), and a
// stop-the-world waits no longer than that for one.
//
// Why: a call the runtime knows of leaves its processor in the syscall
// state, and the runtime's monitor (sysmon) takes such a processor away
// and hands it to another thread when both processors are busy and the
// call spans two of its 20 us ticks; under many unpipelined clients that
// happened often enough that the monitor kept its shortest sleep, and
// the hand-offs cost thread wake-ups and context switches a request
// (docs/benchmarks-server.md, stop 30). The loop's blocking wait still
// parks in Go's poller (eventLoop.wait).

// rawRead is read(2) on a non-blocking descriptor; n is -1 on error, as
// for syscall.Read.
func rawRead(fd int, p []byte) (int, error) { return rawIO(syscall.SYS_READ, fd, p) }

// rawWrite is write(2) on a non-blocking descriptor; n is -1 on error, as
// for syscall.Write.
func rawWrite(fd int, p []byte) (int, error) { return rawIO(syscall.SYS_WRITE, fd, p) }

// rawIO makes system call trap (read or write) on fd with p's bytes. The
// buffer's address is converted in the call itself, so that the compiler
// keeps it in place until the call returns (unsafe.Pointer's rule for
// system calls: p may be on the goroutine's stack, which can move).
func rawIO(trap uintptr, fd int, p []byte) (int, error) {
	r, _, e := syscall.RawSyscall(trap, uintptr(fd), uintptr(unsafe.Pointer(unsafe.SliceData(p))), uintptr(len(p)))
	if e != 0 {
		return -1, e
	}
	return int(r), nil
}

// rawPoll is epoll_wait(2) with a zero timeout (epoll_pwait with no
// signal mask, which every Linux architecture has).
func rawPoll(epfd int, events []syscall.EpollEvent) (int, error) {
	r, _, e := syscall.RawSyscall6(syscall.SYS_EPOLL_PWAIT, uintptr(epfd), uintptr(unsafe.Pointer(unsafe.SliceData(events))), uintptr(len(events)), 0, 0, 0)
	if e != 0 {
		return -1, e
	}
	return int(r), nil
}
