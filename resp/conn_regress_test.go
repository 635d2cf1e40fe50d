package resp

import (
	"bufio"
	"math/rand"
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tidwall/redcon"
)

type countHandler struct {
	echoHandler
	closed atomic.Int64
}

func (h *countHandler) Closed(*Client) { h.closed.Add(1) }

// TestKillAndCloseUnderLoad: clients pipelining while others are
// killed and the listener closes: every admitted client's Closed runs once,
// no goroutine stays behind, no race.
func TestKillAndCloseUnderLoad(t *testing.T) {
	h := &countHandler{}
	l, err := listenT("127.0.0.1:0", h, Options{MaxClients: func() int { return 15 }})
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- l.Serve() }()
	var wg sync.WaitGroup
	for i := 0; i < 20; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			c, err := net.Dial("tcp", l.Addr().String())
			if err != nil {
				return
			}
			defer c.Close()
			br := bufio.NewReader(c)
			req := encode([]byte("SET"), []byte("k"), make([]byte, rand.Intn(40000)))
			for {
				if _, err := c.Write(append(append(req, "PING\r\n"...), req...)); err != nil {
					return
				}
				c.SetReadDeadline(time.Now().Add(3 * time.Second))
				if _, err := br.ReadString('\n'); err != nil {
					return
				}
			}
		}(i)
	}
	time.Sleep(200 * time.Millisecond)
	for _, c := range l.Clients()[:5] {
		c.Kill()
	}
	time.Sleep(100 * time.Millisecond)
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	wg.Wait()
	acc, rej := l.Stats()
	deadline := time.Now().Add(5 * time.Second)
	for h.closed.Load() != acc && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if h.closed.Load() != acc {
		t.Fatalf("accepted %d (rejected %d), Closed called %d times", acc, rej, h.closed.Load())
	}
	if len(l.Clients()) != 0 {
		t.Fatalf("%d clients left", len(l.Clients()))
	}
	_ = redcon.Command{}
}
