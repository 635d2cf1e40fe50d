//go:build linux

package resp

import (
	"errors"
	"syscall"
	"testing"
)

// TestRawIO checks the raw calls against what the loop expects of
// syscall.Read, Write and EpollWait: counts, EAGAIN with -1 on an empty
// non-blocking descriptor, errors as syscall.Errno, and a poll that never
// waits.
func TestRawIO(t *testing.T) {
	var fds [2]int
	if err := syscall.Pipe2(fds[:], syscall.O_NONBLOCK|syscall.O_CLOEXEC); err != nil {
		t.Fatal(err)
	}
	defer syscall.Close(fds[0])
	defer syscall.Close(fds[1])
	epfd, err := syscall.EpollCreate1(syscall.EPOLL_CLOEXEC)
	if err != nil {
		t.Fatal(err)
	}
	defer syscall.Close(epfd)
	ev := syscall.EpollEvent{Events: syscall.EPOLLIN, Fd: int32(fds[0])}
	if err := syscall.EpollCtl(epfd, syscall.EPOLL_CTL_ADD, fds[0], &ev); err != nil {
		t.Fatal(err)
	}
	events := make([]syscall.EpollEvent, 4)

	buf := make([]byte, 8)
	if n, err := rawRead(fds[0], buf); n != -1 || err != syscall.EAGAIN {
		t.Fatalf("read of an empty pipe: %d, %v; want -1, EAGAIN", n, err)
	}
	if n, err := rawPoll(epfd, events); n != 0 || err != nil {
		t.Fatalf("poll with nothing ready: %d, %v", n, err)
	}
	if n, err := rawWrite(fds[1], []byte("abc")); n != 3 || err != nil {
		t.Fatalf("write: %d, %v", n, err)
	}
	if n, err := rawWrite(fds[1], nil); n != 0 || err != nil {
		t.Fatalf("empty write: %d, %v", n, err)
	}
	if n, err := rawPoll(epfd, events); n != 1 || err != nil || events[0].Fd != int32(fds[0]) {
		t.Fatalf("poll with the pipe readable: %d, %v, %+v", n, err, events[0])
	}
	if n, err := rawRead(fds[0], buf); n != 3 || err != nil || string(buf[:n]) != "abc" {
		t.Fatalf("read: %d, %v, %q", n, err, buf[:max(n, 0)])
	}
	if n, err := rawRead(-1, buf); n != -1 || !errors.Is(err, syscall.EBADF) {
		t.Fatalf("read of a bad descriptor: %d, %v", n, err)
	}
	if n, err := rawPoll(-1, events); n != -1 || !errors.Is(err, syscall.EBADF) {
		t.Fatalf("poll of a bad descriptor: %d, %v", n, err)
	}
}
