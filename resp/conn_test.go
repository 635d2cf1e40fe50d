package resp

import (
	"bufio"
	"errors"
	"io"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tidwall/redcon"
)

// detachHandler serves one command a call (the Listener serves the rest
// of the pipeline in turn): PING answers +OK; DETACH detaches the
// connection, whose taker then echoes the last argument of each command it
// reads itself, flushing after each.
type detachHandler struct{ done chan error }

func (h detachHandler) Serve(c *Client, cmd redcon.Command) {
	if !strings.EqualFold(string(cmd.Args[0]), "DETACH") {
		c.Conn().WriteString("OK")
		return
	}
	d := c.Conn().Detach()
	go func() {
		defer d.Close()
		for {
			cmd, err := d.ReadCommand()
			if err != nil {
				h.done <- err
				return
			}
			d.WriteBulk(cmd.Args[len(cmd.Args)-1])
			if err := d.Flush(); err != nil {
				h.done <- err
				return
			}
		}
	}()
}
func (detachHandler) Closed(*Client) {}

// TestDetach: a detached connection leaves the Listener (not a client any
// more, Closed not called), keeps the requests read with the DETACH, and
// reads, answers and refuses malformed input by itself.
func TestDetach(t *testing.T) {
	h := detachHandler{done: make(chan error, 1)}
	l := startWith(t, h, Options{}) // Detach needs the goroutine form
	c, err := net.Dial("tcp", l.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	io.WriteString(c, "PING\r\nDETACH\r\nECHO queued\r\n")
	r := bufio.NewReader(c)
	for _, want := range []string{"+OK\r\n", "$6\r\n", "queued\r\n"} {
		if line, err := r.ReadString('\n'); err != nil || line != want {
			t.Fatalf("got %q %v, want %q", line, err, want)
		}
	}
	for range 100 {
		if len(l.Clients()) == 0 {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	if n := len(l.Clients()); n != 0 {
		t.Fatalf("%d clients after the detach", n)
	}
	io.WriteString(c, "ECHO later\r\n*1\r\nx\r\n")
	for _, want := range []string{"$5\r\n", "later\r\n", "-ERR Protocol error: expected '$', got 'x'\r\n"} {
		if line, err := r.ReadString('\n'); err != nil || line != want {
			t.Fatalf("got %q %v, want %q", line, err, want)
		}
	}
	if err := <-h.done; !IsProtocolError(err) {
		t.Fatalf("ReadCommand returned %v, want the protocol error", err)
	}
}

// shortReader yields n bytes of 'x', then fails.
type shortReader struct{ n int }

func (r *shortReader) Read(p []byte) (int, error) {
	if r.n == 0 {
		return 0, errors.New("source ended early")
	}
	k := min(len(p), r.n)
	for i := range p[:k] {
		p[i] = 'x'
	}
	r.n -= k
	return k, nil
}

// bulkFromHandler answers FULL with a 5-byte bulk copied from a reader and
// SHORT with a bulk whose reader ends after 2 of its 5 bytes.
type bulkFromHandler struct{}

func (bulkFromHandler) Serve(c *Client, cmd redcon.Command) {
	for _, cmd := range append([]redcon.Command{cmd}, c.Conn().ReadPipeline()...) {
		n := 5
		if strings.EqualFold(string(cmd.Args[0]), "SHORT") {
			n = 2
		}
		c.Conn().WriteBulkFrom(5, &shortReader{n: n})
	}
}
func (bulkFromHandler) Closed(*Client) {}

// TestWriteBulkFrom: a bulk copied from a reader is framed whole; when the
// reader ends early the reply cannot be completed, and the connection is
// closed rather than left with a torn reply.
func TestWriteBulkFrom(t *testing.T) {
	l := startT(t, bulkFromHandler{}, Options{})
	if got := exchange(t, l.Addr().String(), "FULL\r\n", len("$5\r\nxxxxx\r\n")); got != "$5\r\nxxxxx\r\n" {
		t.Fatalf("got %q", got)
	}
	if got := exchange(t, l.Addr().String(), "SHORT\r\nFULL\r\n", 0); got != "$5\r\nxx" {
		t.Fatalf("got %q, want the torn bulk and a close", got)
	}
}

// TestAttackLoggedOnce: connections sending POST or Host: are closed
// without a reply, and the warning is logged once a minute, not once
// each (a flood of them cannot flood the log).
func TestAttackLoggedOnce(t *testing.T) {
	var mu sync.Mutex
	var lines []string
	l := startListener(t, Options{Log: func(format string, args ...any) {
		mu.Lock()
		lines = append(lines, format)
		mu.Unlock()
	}})
	for _, in := range []string{"POST / HTTP/1.1\r\n", "PING\r\nHost: x\r\n", "post /\r\n"} {
		if got := exchange(t, l.Addr().String(), in, 0); got != "" {
			t.Fatalf("%q answered %q", in, got)
		}
	}
	mu.Lock()
	defer mu.Unlock()
	n := 0
	for _, line := range lines {
		if strings.Contains(line, "SECURITY ATTACK") {
			n++
		}
	}
	if n != 1 {
		t.Fatalf("%d warnings logged for three connections, want 1", n)
	}
}
