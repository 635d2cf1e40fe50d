package resp

import (
	"bytes"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tidwall/redcon"
)

// directHandler answers BIG with a large payload held by reference (sent
// straight to the socket: Client.Send, conn.writeDirect), once its test
// has reset the connection; it records every command it serves.
type directHandler struct {
	mu     sync.Mutex
	served []string
	reset  chan struct{} // closed once the client has reset the connection
	closed chan struct{}
}

func (h *directHandler) Serve(c *Client, cmd redcon.Command) {
	for _, cmd := range append([]redcon.Command{cmd}, c.Conn().ReadPipeline()...) {
		if c.Closed() {
			return
		}
		name := strings.ToUpper(string(cmd.Args[0]))
		h.mu.Lock()
		h.served = append(h.served, name)
		h.mu.Unlock()
		var w Writer
		if name == "BIG" {
			<-h.reset
			w.BulkRef(bytes.Repeat([]byte("x"), 8<<20))
		} else {
			w.Simple("PONG")
		}
		c.Send(&w)
	}
}

func (h *directHandler) Closed(*Client) { close(h.closed) }

// TestWriteDirectFailureEndsPipeline: when writing a payload straight to
// the socket fails (the client reset the connection), the connection is
// killed: the commands after it in the pipeline are not served, and the
// connection ends (Closed is called).
func TestWriteDirectFailureEndsPipeline(t *testing.T) {
	h := &directHandler{reset: make(chan struct{}), closed: make(chan struct{})}
	l := startWith(t, h, Options{}) // writes straight to the socket: the goroutine form
	c, err := net.Dial("tcp", l.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Write([]byte("BIG\r\nPING\r\nPING\r\n")); err != nil {
		t.Fatal(err)
	}
	// Wait until the server holds the pipeline, then reset the connection.
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(time.Millisecond) {
		h.mu.Lock()
		n := len(h.served)
		h.mu.Unlock()
		if n > 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("BIG not served")
		}
	}
	_ = c.(*net.TCPConn).SetLinger(0)
	c.Close()
	time.Sleep(50 * time.Millisecond) // let the reset arrive
	close(h.reset)
	select {
	case <-h.closed:
	case <-time.After(5 * time.Second):
		t.Fatal("the connection did not end after its write failed")
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if len(h.served) != 1 {
		t.Fatalf("served %q after the failed write, want only BIG", h.served)
	}
}
