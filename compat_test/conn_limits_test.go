package compat

import (
	"errors"
	"io"
	"strings"
	"testing"
	"time"
)

// TestIdleTimeoutAndQueryLimit drives the two connection limits the server
// enforces beside proto-max-bulk-len and maxclients: timeout (an idle
// connection is closed, silently) and client-query-buffer-limit (a
// connection whose incomplete request outgrows it is closed without a reply
// to it, after the replies to the requests before it, and the log says so).
// Both change at run time with CONFIG SET; other clients are unaffected.
func TestIdleTimeoutAndQueryLimit(t *testing.T) {
	s := startDigby(t, "--timeout", "1", "--client-query-buffer-limit", "1mb")
	c := client(t, s, 2)
	eq(t, "timeout", c.ConfigGet(ctx, "timeout").Val()["timeout"], "1")
	eq(t, "limit", c.ConfigGet(ctx, "client-query-buffer-limit").Val()["client-query-buffer-limit"], "1048576")

	idle := dialRaw(t, s.addr)
	idle.c.SetReadDeadline(time.Now().Add(30 * time.Second))
	if n, err := idle.c.Read(make([]byte, 1)); !errors.Is(err, io.EOF) {
		t.Fatalf("idle connection: read %d, %v; want it closed", n, err)
	}

	big := dialRaw(t, s.addr)
	big.c.Write([]byte("PING\r\n*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$3000000\r\n"))
	big.c.Write([]byte(strings.Repeat("v", 2<<20)))
	big.c.SetReadDeadline(time.Now().Add(30 * time.Second))
	got, _ := io.ReadAll(big.c)
	eq(t, "over the limit", string(got), "+PONG\r\n")
	for i := 0; !strings.Contains(s.log.String(), "max query buffer length"); i++ {
		if i > 500 {
			t.Fatalf("no log line for the closed client:\n%s", s.log.String())
		}
		time.Sleep(10 * time.Millisecond)
	}

	// raised at run time, the same request is accepted (a new client: the
	// first one's connection has been idle past the timeout)
	c = client(t, s, 2)
	must(t, c.ConfigSet(ctx, "client-query-buffer-limit", "8mb").Err())
	must(t, c.ConfigSet(ctx, "timeout", "0").Err())
	ok := dialRaw(t, s.addr)
	ok.c.Write([]byte("*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$3000000\r\n" + strings.Repeat("v", 3000000) + "\r\n"))
	reply, err := ok.reply()
	must(t, err)
	eq(t, "within the limit", reply, "+OK\r\n")
	eq(t, "stored", c.StrLen(ctx, "k").Val(), int64(3000000))
}
