//go:build linux

package resp

import (
	"bytes"
	"io"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// TestLoopsFallBack: when the event loops cannot start, Listen says so in
// the log, stops the loops it had started and serves each connection with
// a goroutine. The fault is a real one: the test runs itself again in a
// child process whose descriptor limit leaves room for the listening
// socket and the first loop's two descriptors only, so the second loop's
// epoll_create1 fails with EMFILE.
func TestLoopsFallBack(t *testing.T) {
	if os.Getenv("DIGBY_LOOP_FALLBACK_CHILD") == "1" {
		loopsFallBackChild(t)
		return
	}
	cmd := exec.Command(os.Args[0], "-test.run=^TestLoopsFallBack$", "-test.v", "-test.count=1")
	cmd.Env = append(os.Environ(), "DIGBY_LOOP_FALLBACK_CHILD=1")
	out, err := cmd.CombinedOutput()
	if err != nil || !bytes.Contains(out, []byte("--- PASS: TestLoopsFallBack")) {
		t.Fatalf("child: %v\n%s", err, out)
	}
}

func loopsFallBackChild(t *testing.T) {
	// Go's own poller makes its descriptors at the first network use:
	// make them now, so that only Listen's are counted below.
	if ln, err := net.Listen("tcp", "127.0.0.1:0"); err == nil {
		ln.Close()
	}
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		t.Fatal(err)
	}
	open := openFDs(t)
	// The lowest limit under which exactly three descriptors are free: a
	// new descriptor takes the lowest number free, and must be below it.
	soft := uint64(0)
	for free := 0; free < 3; soft++ {
		if !open[int(soft)] {
			free++
		}
	}
	low := lim
	low.Cur = soft
	if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &low); err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var logs []string
	l, err := Listen("127.0.0.1:0", echoHandler{}, Options{EventLoops: 2, Log: func(f string, a ...any) {
		mu.Lock()
		defer mu.Unlock()
		logs = append(logs, f)
		for _, x := range a {
			if e, ok := x.(error); ok {
				logs = append(logs, e.Error())
			}
		}
	}})
	if rerr := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &lim); rerr != nil {
		t.Fatal(rerr)
	}
	if err != nil {
		t.Fatalf("listen: %v", err)
	}
	defer l.Close()
	go l.Serve()
	mu.Lock()
	logged := strings.Join(logs, " | ")
	mu.Unlock()
	if !strings.Contains(logged, "serving each connection with a goroutine") || !strings.Contains(logged, "epoll_create1") {
		t.Errorf("log: %q, want the loops' failure (epoll_create1) and the fallback", logged)
	}
	if n := l.EventLoops(); n != 0 {
		t.Errorf("EventLoops() = %d after the fallback, want 0", n)
	}
	c, err := net.Dial("tcp", l.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := io.WriteString(c, "*1\r\n$4\r\nPING\r\n"); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 16)
	n, err := io.ReadAtLeast(c, buf, len("+PING\r\n"))
	if err != nil || string(buf[:n]) != "+PING\r\n" {
		t.Fatalf("reply %q, %v; want +PING", buf[:n], err)
	}
}

// openFDs is the set of the process's open descriptors.
func openFDs(t *testing.T) map[int]bool {
	d, err := os.Open("/proc/self/fd")
	if err != nil {
		t.Fatal(err)
	}
	names, err := d.Readdirnames(-1)
	own := int(d.Fd())
	d.Close()
	if err != nil {
		t.Fatal(err)
	}
	open := map[int]bool{}
	for _, s := range names {
		if fd, err := strconv.Atoi(s); err == nil && fd != own {
			open[fd] = true
		}
	}
	return open
}
