package resp

import (
	"fmt"
	"strings"
	"testing"

	"github.com/tidwall/redcon"
)

// authHandler authenticates on AUTH and answers +OK to everything.
type authHandler struct{}

func (authHandler) Serve(c *Client, cmd redcon.Command) {
	for _, cmd := range append([]redcon.Command{cmd}, c.Conn().ReadPipeline()...) {
		if strings.EqualFold(string(cmd.Args[0]), "AUTH") {
			c.SetAuthed(true)
		}
		c.Conn().WriteString("OK")
	}
}
func (authHandler) Closed(*Client) {}

// TestPipelinedAuth: Redis judges each request's pre-AUTH caps after the
// request before it ran, so "AUTH pw" followed in the same write by a
// command of more than 10 arguments (or a bulk over 16 KiB) is accepted
// (redis-server 7.0.15 answers +OK +OK). Before AUTH, the Reader returns
// one request at a time, so the loop serves the AUTH before the next
// request's header is judged.
func TestPipelinedAuth(t *testing.T) {
	l := startT(t, authHandler{}, Options{PasswordSet: func() bool { return true }})
	args := [][]byte{[]byte("MSET")}
	for i := range 12 {
		args = append(args, fmt.Appendf(nil, "k%d", i))
	}
	send := string(encode([]byte("AUTH"), []byte("pw"))) + string(encode(args...))
	got := exchange(t, l.Addr().String(), send, len("+OK\r\n+OK\r\n"))
	if got != "+OK\r\n+OK\r\n" {
		t.Fatalf("got %q, want %q", got, "+OK\r\n+OK\r\n")
	}
}
