// Package compat drives a real digby-server binary with go-redis v9, stock
// Redis tools and a differential comparison against redis-server.
package compat

import (
	"bufio"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// binary is the digby-server built by TestMain.
var binary string

func TestMain(m *testing.M) {
	tmp, err := os.MkdirTemp("", "digby-compat-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	binary = filepath.Join(tmp, "digby-server")
	build := exec.Command("go", "build", "-o", binary, "github.com/digby-db/digby/cmd/digby-server")
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "building digby-server:", err)
		os.RemoveAll(tmp)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(tmp)
	os.Exit(code)
}

// freePort asks the kernel for a free TCP port.
func freePort(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// server is a running digby-server (or redis-server) process.
type server struct {
	t    testing.TB
	cmd  *exec.Cmd
	addr string
	port int
	dir  string
	args []string
	log  *syncBuffer
	done chan error
}

type syncBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// startDigby starts digby-server on a free port in a fresh temp dir.
func startDigby(t testing.TB, args ...string) *server {
	t.Helper()
	return startDigbyIn(t, t.TempDir(), args...)
}

// startDigbyIn starts digby-server with its data in dir.
func startDigbyIn(t testing.TB, dir string, args ...string) *server {
	t.Helper()
	s := launch(t, binary, func(port int) []string {
		all := append([]string{"--port", strconv.Itoa(port), "--dir", dir}, args...)
		if v := os.Getenv("DIGBY_EVENT_LOOPS"); v != "" {
			// CI runs the suite once more with the goroutine-a-connection form.
			all = append(all, "--event-loops", v)
		}
		return all
	})
	s.dir = dir
	return s
}

// launch starts bin with the arguments args gives for a free port, and
// returns once it says it is ready and answers there. A free port can be
// taken by another test (or package) between freePort and the server's
// bind: a connection alone could then reach that other server. So the
// server's own "Ready to accept connections" line is awaited too, and a
// server that exits because the port was taken is started again on
// another.
func launch(t testing.TB, bin string, args func(port int) []string) *server {
	t.Helper()
	for attempt := 1; ; attempt++ {
		s, taken := launchOn(t, bin, args, freePort(t))
		if !taken {
			return s
		}
		if attempt == 5 {
			t.Fatalf("%s: the free ports given were taken five times\n%s", bin, s.log.String())
		}
	}
}

// launchOn is one attempt of launch; taken reports that the server exited
// because the port was in use.
func launchOn(t testing.TB, bin string, mkArgs func(port int) []string, port int) (s *server, taken bool) {
	t.Helper()
	args := mkArgs(port)
	s = &server{t: t, addr: fmt.Sprintf("127.0.0.1:%d", port), port: port, args: args, log: &syncBuffer{}, done: make(chan error, 1)}
	s.cmd = exec.Command(bin, args...)
	s.cmd.Stdout, s.cmd.Stderr = s.log, s.log
	if err := s.cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", bin, err)
	}
	go func() { s.done <- s.cmd.Wait() }()
	t.Cleanup(func() { s.kill() })
	for i := 0; ; i++ {
		if strings.Contains(s.log.String(), "Ready to accept connections") {
			if c, err := net.Dial("tcp", s.addr); err == nil {
				c.Close()
				return s, false
			}
		}
		select {
		case err := <-s.done:
			s.done <- err
			if l := s.log.String(); strings.Contains(l, "in use") {
				return s, true
			}
			t.Fatalf("%s exited at start: %v\n%s", bin, err, s.log.String())
		case <-time.After(20 * time.Millisecond):
		}
		if i > 500 {
			t.Fatalf("%s does not listen on %s\n%s", bin, s.addr, s.log.String())
		}
	}
}

// stop sends SIGTERM and waits for a clean exit.
func (s *server) stop() {
	s.t.Helper()
	select {
	case err := <-s.done: // exited already (cmd.ProcessState is Wait's to write)
		s.done <- err
		return
	default:
	}
	_ = s.cmd.Process.Signal(syscall.SIGTERM)
	err := <-s.done
	s.done <- err
	if err != nil {
		s.t.Fatalf("server exit: %v\n%s", err, s.log.String())
	}
}

// kill sends SIGKILL.
func (s *server) kill() {
	if s.cmd.Process == nil {
		return
	}
	_ = s.cmd.Process.Kill()
	err := <-s.done
	s.done <- err
}

// raw is a plain RESP connection for byte-exact replies.
type raw struct {
	c net.Conn
	r *bufio.Reader
}

func dialRaw(t testing.TB, addr string) *raw {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return &raw{c: c, r: bufio.NewReader(c)}
}

// encode frames args as a RESP multibulk request.
func encode(args ...string) []byte {
	b := []byte(fmt.Sprintf("*%d\r\n", len(args)))
	for _, a := range args {
		b = append(b, fmt.Sprintf("$%d\r\n%s\r\n", len(a), a)...)
	}
	return b
}

// do sends one command and returns its raw reply.
func (r *raw) do(args ...string) (string, error) {
	if _, err := r.c.Write(encode(args...)); err != nil {
		return "", err
	}
	return r.reply()
}

// reply reads one complete RESP2/RESP3 reply, returned byte for byte.
func (r *raw) reply() (string, error) {
	r.c.SetReadDeadline(time.Now().Add(10 * time.Second))
	var b strings.Builder
	err := readReply(r.r, &b)
	return b.String(), err
}

func readReply(r *bufio.Reader, b *strings.Builder) error {
	line, err := r.ReadString('\n')
	if err != nil {
		return err
	}
	b.WriteString(line)
	if len(line) < 3 {
		return fmt.Errorf("short reply line %q", line)
	}
	body := strings.TrimSuffix(line[1:], "\r\n")
	switch line[0] {
	case '$', '=', '!':
		n, err := strconv.Atoi(body)
		if err != nil || n < 0 {
			return err
		}
		buf := make([]byte, n+2)
		if _, err := ioReadFull(r, buf); err != nil {
			return err
		}
		b.Write(buf)
	case '*', '~', '>', '%', '|':
		n, err := strconv.Atoi(body)
		if err != nil {
			return err
		}
		if line[0] == '%' || line[0] == '|' {
			n *= 2
		}
		for i := 0; i < n; i++ {
			if err := readReply(r, b); err != nil {
				return err
			}
		}
	}
	return nil
}

func ioReadFull(r *bufio.Reader, buf []byte) (int, error) {
	n := 0
	for n < len(buf) {
		m, err := r.Read(buf[n:])
		n += m
		if err != nil {
			return n, err
		}
	}
	return n, nil
}

// requireTool returns the path of an external tool, skipping the test when
// it is missing (failing instead when DIGBY_REQUIRE_TOOLS=1).
func requireTool(t testing.TB, name string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		if os.Getenv("DIGBY_REQUIRE_TOOLS") == "1" {
			t.Fatalf("%s is not on PATH and DIGBY_REQUIRE_TOOLS=1", name)
		}
		t.Skipf("%s is not on PATH: install redis-server/redis-tools to run this test", name)
	}
	return p
}

// long reports whether the long variants are asked for.
func long() bool { return os.Getenv("DIGBY_LONG") == "1" }

// startRedis starts a real redis-server without persistence on a free port.
func startRedis(t testing.TB) *server {
	t.Helper()
	bin := requireTool(t, "redis-server")
	dir := t.TempDir()
	return launch(t, bin, func(port int) []string {
		return []string{"--port", strconv.Itoa(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", dir}
	})
}
