package commands

import (
	"bufio"
	"net"
	"testing"
	"time"
)

// TestIdleAfterLongCommand: a command that runs longer than the idle
// timeout leaves the client the whole timeout after its reply before it
// is idle (as Redis and the goroutine form count), under either form. A
// review found event loops counting from the request, and closing such a
// connection right after the reply.
func TestIdleAfterLongCommand(t *testing.T) {
	for _, loops := range []string{"0", "1"} {
		t.Run("loops="+loops, func(t *testing.T) {
			s, _ := startServer(t, "event-loops", loops, "timeout", "1")
			nc, err := net.Dial("tcp", s.Addr().String())
			if err != nil {
				t.Fatal(err)
			}
			defer nc.Close()
			br := bufio.NewReader(nc)
			nc.Write([]byte("DEBUG SLEEP 1.5\r\n"))
			nc.SetReadDeadline(time.Now().Add(5 * time.Second))
			line, err := br.ReadString('\n')
			if err != nil {
				t.Fatalf("DEBUG SLEEP: %v", err)
			}
			t.Logf("reply %q", line)
			time.Sleep(50 * time.Millisecond)
			nc.Write([]byte("PING\r\n"))
			line, err = br.ReadString('\n')
			if err != nil {
				t.Fatalf("PING 50ms after the reply: %v (closed as idle)", err)
			}
			t.Logf("reply %q", line)
		})
	}
}

// TestIdleAfterSlowDownload: a slow reader of a large reply, whose
// download takes longer than the timeout, is not idle while it reads, and
// its next command right after is answered.
func TestIdleAfterSlowDownload(t *testing.T) {
	for _, loops := range []string{"0", "1"} {
		t.Run("loops="+loops, func(t *testing.T) {
			s, c := startServer(t, "event-loops", loops, "timeout", "1")
			big := make([]byte, 16<<20)
			if err := c.Set(t.Context(), "big", big, 0).Err(); err != nil {
				t.Fatal(err)
			}
			nc, err := net.Dial("tcp", s.Addr().String())
			if err != nil {
				t.Fatal(err)
			}
			defer nc.Close()
			nc.(*net.TCPConn).SetReadBuffer(64 << 10)
			nc.Write([]byte("GET big\r\n"))
			want := len(big) + len("$16777216\r\n\r\n")
			buf := make([]byte, 256<<10)
			got := 0
			start := time.Now()
			for got < want {
				nc.SetReadDeadline(time.Now().Add(5 * time.Second))
				n, err := nc.Read(buf[:min(len(buf), want-got)])
				if err != nil {
					t.Fatalf("after %d bytes: %v", got, err)
				}
				got += n
				time.Sleep(20 * time.Millisecond) // ~12 MB/s: 1.3 s
			}
			t.Logf("downloaded in %v", time.Since(start))
			nc.Write([]byte("PING\r\n"))
			line, err := bufio.NewReader(nc).ReadString('\n')
			if err != nil {
				t.Fatalf("PING right after the download: %v (closed as idle)", err)
			}
			t.Logf("reply %q", line)
		})
	}
}
