package resp

import (
	"bufio"
	"errors"
	"io"
	"net"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tidwall/redcon"
)

// echoHandler answers each command with +ARG0:ARG1:..., proving order and framing.
type echoHandler struct{}

func (echoHandler) Serve(c *Client, cmd redcon.Command) {
	cmds := append([]redcon.Command{cmd}, c.Conn().ReadPipeline()...)
	for _, cmd := range cmds {
		parts := make([]string, len(cmd.Args))
		for i, a := range cmd.Args {
			parts[i] = string(a)
		}
		w := NewWriter(c.Proto())
		w.Simple(strings.Join(parts, ":"))
		c.Conn().WriteRaw(w.B)
	}
}
func (echoHandler) Closed(*Client) {}

func startListener(t *testing.T, opts Options) *Listener {
	t.Helper()
	return startT(t, echoHandler{}, opts)
}

// startT runs a Listener serving h on a free port, with the tests' event
// loops (testLoops), until the test ends.
func startT(t *testing.T, h Handler, opts Options) *Listener {
	t.Helper()
	opts.EventLoops = testLoops()
	return startWith(t, h, opts)
}

// startWith is startT with opts.EventLoops as given.
func startWith(t *testing.T, h Handler, opts Options) *Listener {
	t.Helper()
	l, err := Listen("127.0.0.1:0", h, opts)
	if err != nil {
		t.Fatal(err)
	}
	go l.Serve()
	t.Cleanup(func() { l.Close() })
	return l
}

// exchange sends raw bytes and reads everything until the server closes or
// the reply holds want bytes.
func exchange(t *testing.T, addr, send string, want int) string {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := io.WriteString(c, send); err != nil {
		t.Fatal(err)
	}
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	var got []byte
	buf := make([]byte, 4096)
	for want <= 0 || len(got) < want {
		n, err := c.Read(buf)
		got = append(got, buf[:n]...)
		if err != nil {
			break
		}
	}
	return string(got)
}

func TestGuardBulkLimit(t *testing.T) {
	l := startListener(t, Options{MaxBulk: func() int64 { return 10 }})
	got := exchange(t, l.Addr().String(), "*1\r\n$4\r\nPING\r\n*2\r\n$3\r\nSET\r\n$11\r\n", 0)
	want := "+PING\r\n-ERR Protocol error: invalid bulk length\r\n"
	if got != want {
		t.Fatalf("got %q want %q", got, want)
	}
	got = exchange(t, l.Addr().String(), "*2\r\n$3\r\nSET\r\n$10\r\n0123456789\r\n", len("+SET:0123456789\r\n"))
	if got != "+SET:0123456789\r\n" {
		t.Fatalf("got %q", got)
	}
}

func TestGuardSplitReads(t *testing.T) {
	l := startListener(t, Options{MaxBulk: func() int64 { return 100 }})
	c, err := net.Dial("tcp", l.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	msg := "*0\r\n*2\r\n$4\r\nECHO\r\n$5\r\nhello\r\nPING inline\r\n"
	for i := 0; i < len(msg); i++ {
		c.Write([]byte{msg[i]})
		time.Sleep(time.Millisecond)
	}
	r := bufio.NewReader(c)
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	for _, want := range []string{"+ECHO:hello\r\n", "+PING:inline\r\n"} {
		line, err := r.ReadString('\n')
		if err != nil || line != want {
			t.Fatalf("got %q %v want %q", line, err, want)
		}
	}
}

func TestGuardTooBigInline(t *testing.T) {
	l := startListener(t, Options{})
	got := exchange(t, l.Addr().String(), strings.Repeat("a", 70*1024), 0)
	if got != "-ERR Protocol error: too big inline request\r\n" {
		t.Fatalf("got %q", got)
	}
}

func TestGuardUnauthenticated(t *testing.T) {
	l := startListener(t, Options{PasswordSet: func() bool { return true }})
	got := exchange(t, l.Addr().String(), "*11\r\n", 0)
	if got != "-ERR Protocol error: unauthenticated multibulk length\r\n" {
		t.Fatalf("got %q", got)
	}
	got = exchange(t, l.Addr().String(), "*1\r\n$16385\r\n", 0)
	if got != "-ERR Protocol error: unauthenticated bulk length\r\n" {
		t.Fatalf("got %q", got)
	}
}

func TestRedconProtocolErrors(t *testing.T) {
	l := startListener(t, Options{})
	got := exchange(t, l.Addr().String(), "*1\r\nx\r\n", 0)
	if got != "-ERR Protocol error: expected '$', got 'x'\r\n" {
		t.Fatalf("got %q", got)
	}
	got = exchange(t, l.Addr().String(), "*x\r\n", 0)
	if got != "-ERR Protocol error: invalid multibulk length\r\n" {
		t.Fatalf("got %q", got)
	}
}

func TestMaxClients(t *testing.T) {
	l := startListener(t, Options{MaxClients: func() int { return 1 }})
	c1, err := net.Dial("tcp", l.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c1.Close()
	io.WriteString(c1, "PING\r\n")
	bufio.NewReader(c1).ReadString('\n') // c1 is registered
	got := exchange(t, l.Addr().String(), "PING\r\n", 0)
	if got != "-ERR max number of clients reached\r\n" {
		t.Fatalf("got %q", got)
	}
	if a, r := l.Stats(); a != 1 || r != 1 {
		t.Fatalf("stats %d %d", a, r)
	}
}

func TestWriterRESP3(t *testing.T) {
	w2, w3 := NewWriter(2), NewWriter(3)
	for _, w := range []*Writer{w2, w3} {
		w.Map(1)
		w.BulkString("k")
		w.Null()
		w.Double(1.5)
		w.Bool(true)
		w.Verbatim("x")
		w.Simple("a\r\nb")
	}
	if string(w2.B) != "*2\r\n$1\r\nk\r\n$-1\r\n$3\r\n1.5\r\n:1\r\n$1\r\nx\r\n+a  b\r\n" {
		t.Fatalf("resp2 %q", w2.B)
	}
	if string(w3.B) != "%1\r\n$1\r\nk\r\n_\r\n,1.5\r\n#t\r\n=5\r\ntxt:x\r\n+a  b\r\n" {
		t.Fatalf("resp3 %q", w3.B)
	}
}

// TestIdleTimeout checks the timeout parameter: a connection that sends
// nothing is closed once it has been idle that long, one that keeps
// sending is not, and a timeout set back to 0 lets connections idle.
func TestIdleTimeout(t *testing.T) {
	var idle atomic.Int64
	idle.Store(int64(2 * time.Second))
	l := startListener(t, Options{IdleTimeout: func() time.Duration { return time.Duration(idle.Load()) }})
	quiet, err := net.Dial("tcp", l.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer quiet.Close()
	busy, err := net.Dial("tcp", l.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	r := bufio.NewReader(busy)
	for range 20 { // 3 s of a request every 150 ms, well within the timeout
		io.WriteString(busy, "PING\r\n")
		if line, err := r.ReadString('\n'); err != nil || line != "+PING\r\n" {
			t.Fatalf("busy connection: %q %v", line, err)
		}
		time.Sleep(150 * time.Millisecond)
	}
	quiet.SetReadDeadline(time.Now().Add(30 * time.Second))
	if n, err := quiet.Read(make([]byte, 1)); !errors.Is(err, io.EOF) {
		t.Fatalf("idle connection: read %d, %v; want it closed", n, err)
	}
	idle.Store(0)
	io.WriteString(busy, "PING\r\n") // its next read has no deadline
	r.ReadString('\n')
	time.Sleep(2500 * time.Millisecond)
	io.WriteString(busy, "PING\r\n")
	if line, err := r.ReadString('\n'); err != nil || line != "+PING\r\n" {
		t.Fatalf("after timeout 0: %q %v", line, err)
	}
}

// TestQueryLimitCloses checks client-query-buffer-limit end to end: the
// requests before the over-long one are answered, then the connection is
// closed without a reply to it.
func TestQueryLimitCloses(t *testing.T) {
	l := startListener(t, Options{MaxQuery: func() int64 { return 1 << 20 }})
	big := "*2\r\n$3\r\nSET\r\n$3000000\r\n" + strings.Repeat("v", 2<<20)
	got := exchange(t, l.Addr().String(), "PING\r\n"+big, 0)
	if got != "+PING\r\n" {
		t.Fatalf("got %.100q", got)
	}
}
