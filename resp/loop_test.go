package resp

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"math/rand"
	"net"
	"os"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tidwall/redcon"
)

// testLoops is how many event loops the listener tests serve with:
// DIGBY_RESP_LOOPS when set (0: a goroutine a connection), else 2 on Linux
// (CI runs the package both ways).
func testLoops() int {
	if v := os.Getenv("DIGBY_RESP_LOOPS"); v != "" {
		n, err := strconv.Atoi(v)
		if err == nil {
			return n
		}
	}
	if runtime.GOOS == "linux" {
		return 2
	}
	return 0
}

// listenT is Listen with the tests' event loops.
func listenT(addr string, h Handler, opts Options) (*Listener, error) {
	opts.EventLoops = testLoops()
	return Listen(addr, h, opts)
}

// asyncHandler serves the way the command layer does under an event
// loop: "W x" is a write that makes the pipeline stop at the next command
// (or at its end); its reply +W:x is written once the "writer" (a
// goroutine sleeping a random while) has answered it and Resume runs.
// Any other command is answered +ARG0:ARG1 at once. Commands of one
// connection must come back in order.
type asyncHandler struct {
	mu     sync.Mutex
	states map[*Client]*asyncState
	closed chan *Client
}

type asyncState struct {
	cmds    [][]string
	next    int
	held    []string // replies of writes not yet answered
	waiting bool
	ready   chan struct{} // the answer, for Serve (Wake does nothing then)
}

func newAsyncHandler() *asyncHandler {
	return &asyncHandler{states: map[*Client]*asyncState{}, closed: make(chan *Client, 1024)}
}

func (h *asyncHandler) state(c *Client) *asyncState {
	h.mu.Lock()
	defer h.mu.Unlock()
	s := h.states[c]
	if s == nil {
		s = &asyncState{ready: make(chan struct{}, 1)}
		h.states[c] = s
	}
	return s
}

// Serve is the synchronous form (a goroutine a connection): it waits
// for each stop's answer itself.
func (h *asyncHandler) Serve(c *Client, cmd redcon.Command) {
	s := h.state(c)
	done := h.ServeAsync(c, append([]redcon.Command{cmd}, c.Conn().ReadPipeline()...))
	for !done {
		h.submit(c, s)
		<-s.ready
		done = h.Resume(c)
	}
}

func (h *asyncHandler) ServeAsync(c *Client, cmds []redcon.Command) bool {
	s := h.state(c)
	s.cmds, s.next = s.cmds[:0], 0
	for _, cmd := range cmds {
		args := make([]string, len(cmd.Args))
		for i, a := range cmd.Args {
			args[i] = string(a)
		}
		s.cmds = append(s.cmds, args)
	}
	return h.Resume(c)
}

func (h *asyncHandler) Resume(c *Client) bool {
	s := h.state(c)
	if s.waiting {
		panic("Resume before Wake")
	}
	for _, r := range s.held {
		c.Conn().WriteString(r)
	}
	s.held = s.held[:0]
	for ; s.next < len(s.cmds); s.next++ {
		args := s.cmds[s.next]
		if strings.EqualFold(args[0], "W") {
			s.held = append(s.held, "W:"+strings.Join(args[1:], ":"))
			continue
		}
		if len(s.held) > 0 {
			h.stop(c, s)
			return false
		}
		c.Conn().WriteString(strings.Join(args, ":"))
	}
	if len(s.held) > 0 {
		h.stop(c, s)
		return false
	}
	return true
}

// stop readies the held writes for Submit (Serve submits them itself).
func (h *asyncHandler) stop(c *Client, s *asyncState) {
	s.waiting = true
}

// Submit hands the held writes of cs to the "writer", which wakes each
// later, in random order.
func (h *asyncHandler) Submit(cs []*Client) {
	for _, c := range cs {
		h.submit(c, h.state(c))
	}
}

func (h *asyncHandler) submit(c *Client, s *asyncState) {
	d := time.Duration(rand.Intn(300)) * time.Microsecond
	go func() {
		time.Sleep(d)
		s.waiting = false // before Wake: the loop's Resume follows it
		select {
		case s.ready <- struct{}{}:
		default: // under a loop nothing reads ready
		}
		c.Wake()
	}()
}

func (h *asyncHandler) Closed(c *Client) { h.closed <- c }

// TestLoopAsyncOrder: many connections pipelining writes and reads through
// an AsyncHandler whose writes are answered late and in random order
// across connections: each connection gets every reply, in order, while
// the loops serve the others meanwhile.
func TestLoopAsyncOrder(t *testing.T) {
	h := newAsyncHandler()
	l := startT(t, h, Options{})
	var wg sync.WaitGroup
	errs := make(chan error, 16)
	for g := 0; g < 16; g++ {
		wg.Add(1)
		go func(g int) {
			defer wg.Done()
			errs <- asyncClient(l.Addr().String(), g)
		}(g)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
}

// asyncClient sends 200 random pipelines of W and R commands and checks
// the replies.
func asyncClient(addr string, g int) error {
	c, err := net.Dial("tcp", addr)
	if err != nil {
		return err
	}
	defer c.Close()
	rng := rand.New(rand.NewSource(int64(g)))
	br := bufio.NewReader(c)
	for p := 0; p < 200; p++ {
		var req bytes.Buffer
		var want []string
		for i, n := 0, 1+rng.Intn(20); i < n; i++ {
			name := "R"
			if rng.Intn(2) == 0 {
				name = "W"
			}
			arg := fmt.Sprintf("%d.%d.%d", g, p, i)
			req.Write(encode([]byte(name), []byte(arg)))
			want = append(want, "+"+name+":"+arg+"\r\n")
		}
		if _, err := c.Write(req.Bytes()); err != nil {
			return err
		}
		c.SetReadDeadline(time.Now().Add(10 * time.Second))
		for _, w := range want {
			line, err := br.ReadString('\n')
			if err != nil {
				return fmt.Errorf("client %d pipeline %d: %v", g, p, err)
			}
			if line != w {
				return fmt.Errorf("client %d pipeline %d: got %q, want %q", g, p, line, w)
			}
		}
	}
	return nil
}

// TestLoopKillWhileWaiting: a connection killed (and one whose peer hangs
// up) while its pipeline waits for writes ends once the pipeline has been
// resumed: Closed runs for each, and the listener closes.
func TestLoopKillWhileWaiting(t *testing.T) {
	if testLoops() == 0 {
		t.Skip("event loops off (DIGBY_RESP_LOOPS=0)")
	}
	h := newAsyncHandler()
	l, err := listenT("127.0.0.1:0", h, Options{})
	if err != nil {
		t.Fatal(err)
	}
	go l.Serve()
	for i := 0; i < 20; i++ {
		c, err := net.Dial("tcp", l.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		if _, err := c.Write([]byte("W a\r\nR b\r\n")); err != nil {
			t.Fatal(err)
		}
		if i%2 == 0 {
			c.Close() // hang up while waiting (or before)
		} else {
			defer c.Close()
		}
	}
	for accepted, _ := l.Stats(); accepted < 20; accepted, _ = l.Stats() {
		time.Sleep(time.Millisecond)
	}
	for _, c := range l.Clients() {
		c.Kill()
	}
	done := make(chan struct{})
	go func() { l.Close(); close(done) }()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("Close did not return")
	}
	if n := len(h.closed); n != 20 {
		t.Fatalf("Closed ran for %d connections, want 20", n)
	}
}

// bigHandler answers "BIG n" with an n-byte bulk, and anything else +OK.
type bigHandler struct{}

func (bigHandler) Serve(c *Client, cmd redcon.Command) {
	for _, cmd := range append([]redcon.Command{cmd}, c.Conn().ReadPipeline()...) {
		switch strings.ToUpper(string(cmd.Args[0])) {
		case "BIG":
			n, _ := strconv.Atoi(string(cmd.Args[1]))
			var w Writer
			w.BulkRef(bytes.Repeat([]byte{'x'}, n))
			c.Send(&w)
		case "QUIT":
			c.Conn().WriteString("OK")
			c.Close()
			return
		default:
			c.Conn().WriteString("OK")
		}
	}
}

func (bigHandler) Closed(*Client) {}

// TestLoopSlowReader: replies larger than the socket takes at once wait in
// the loop (no goroutine blocks on the write) while a slow client reads
// them, other connections are served meanwhile, and a QUIT after them
// closes the connection only once every byte has been delivered.
func TestLoopSlowReader(t *testing.T) {
	l := startT(t, bigHandler{}, Options{})
	slow, err := net.Dial("tcp", l.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer slow.Close()
	const n = 4 << 20
	if _, err := slow.Write([]byte("BIG 4194304\r\nBIG 100\r\nPING\r\nQUIT\r\n")); err != nil {
		t.Fatal(err)
	}
	// Meanwhile another connection is answered.
	if got := exchange(t, l.Addr().String(), "PING\r\n", 5); got != "+OK\r\n" {
		t.Fatalf("other connection got %q", got)
	}
	time.Sleep(50 * time.Millisecond)
	slow.SetReadDeadline(time.Now().Add(10 * time.Second))
	var got []byte
	buf := make([]byte, 7000)
	for {
		k, err := slow.Read(buf)
		got = append(got, buf[:k]...)
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if len(got) < n/2 {
			time.Sleep(50 * time.Microsecond) // read slowly
		}
	}
	want := "$4194304\r\n" + strings.Repeat("x", n) + "\r\n$100\r\n" + strings.Repeat("x", 100) + "\r\n+OK\r\n+OK\r\n"
	if string(got) != want {
		t.Fatalf("got %d bytes, want %d (prefix %.40q, suffix %q)", len(got), len(want), got, got[max(0, len(got)-40):])
	}
}
