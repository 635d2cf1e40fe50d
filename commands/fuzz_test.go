package commands

import (
	"bytes"
	"io"
	"net"
	"strings"
	"testing"

	"github.com/digby-db/digby/commands/config"
	"github.com/digby-db/digby/resp"
	"github.com/digby-db/digby/store"
	"github.com/tidwall/redcon"
)

// fakeConn is a redcon.Conn that collects replies in memory.
type fakeConn struct {
	out    bytes.Buffer
	closed bool
	ctx    any
}

func (f *fakeConn) RemoteAddr() string                 { return "127.0.0.1:1" }
func (f *fakeConn) Close() error                       { f.closed = true; return nil }
func (f *fakeConn) WriteError(msg string)              { f.out.WriteString("-" + msg + "\r\n") }
func (f *fakeConn) WriteString(s string)               { f.out.WriteString("+" + s + "\r\n") }
func (f *fakeConn) WriteBulk(b []byte)                 { f.out.Write(redcon.AppendBulk(nil, b)) }
func (f *fakeConn) WriteBulkString(s string)           { f.out.Write(redcon.AppendBulkString(nil, s)) }
func (f *fakeConn) WriteInt(n int)                     { f.out.Write(redcon.AppendInt(nil, int64(n))) }
func (f *fakeConn) WriteInt64(n int64)                 { f.out.Write(redcon.AppendInt(nil, n)) }
func (f *fakeConn) WriteUint64(n uint64)               { f.out.Write(redcon.AppendUint(nil, n)) }
func (f *fakeConn) WriteArray(n int)                   { f.out.Write(redcon.AppendArray(nil, n)) }
func (f *fakeConn) WriteNull()                         { f.out.Write(redcon.AppendNull(nil)) }
func (f *fakeConn) WriteRaw(b []byte)                  { f.out.Write(b) }
func (f *fakeConn) WriteAny(v any)                     { f.out.Write(redcon.AppendAny(nil, v)) }
func (f *fakeConn) Context() any                       { return f.ctx }
func (f *fakeConn) SetContext(v any)                   { f.ctx = v }
func (f *fakeConn) SetReadBuffer(int)                  {}
func (f *fakeConn) Detach() redcon.DetachedConn        { return nil }
func (f *fakeConn) ReadPipeline() []redcon.Command     { return nil }
func (f *fakeConn) PeekPipeline() []redcon.Command     { return nil }
func (f *fakeConn) NetConn() net.Conn                  { return nil }
func (f *fakeConn) WriteBulkFrom(n int64, r io.Reader) {}

// newTestEngine opens a store in a temp dir and an engine on it.
func newTestEngine(tb testing.TB) *Engine {
	tb.Helper()
	return newTestEngineWith(tb, EngineOptions{})
}

// newTestEngineWith is newTestEngine with opts.
func newTestEngineWith(tb testing.TB, opts EngineOptions) *Engine {
	tb.Helper()
	cfg := config.Default()
	dir := tb.TempDir()
	if err := cfg.Set("dir", dir); err != nil {
		tb.Fatal(err)
	}
	db, err := store.Open(dir, nil)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { db.Close() })
	e, err := NewEngine(db, cfg, opts)
	if err != nil {
		tb.Fatal(err)
	}
	return e
}

// FuzzCommands feeds arbitrary bytes, framed by resp.Reader as a client's
// input is, to the command layer: it must never panic (a handler panic would
// show as an internal error reply) and must answer every command.
func FuzzCommands(f *testing.F) {
	for _, seed := range []string{
		"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$1\r\nv\r\n",
		"SET k 10\r\nINCRBY k 9223372036854775807\r\nGETRANGE k -1 -100\r\n",
		"MULTI\r\nSET a b\r\nLCS a b IDX WITHMATCHLEN\r\nEXEC\r\n",
		"SETRANGE k 5 x\r\nAPPEND k y\r\nSCAN 0 MATCH *[ COUNT 1 TYPE string\r\n",
		"HELLO 3\r\nCONFIG GET *\r\nCOMMAND DOCS get\r\nCLIENT LIST\r\nINFO\r\n",
		"SET k v PXAT 1\r\nGET k\r\nEXPIRE k 9223372036854775807\r\nINCRBYFLOAT k 1e308\r\n",
		"WATCH k\r\nCOPY k j DB 3 REPLACE\r\nSWAPDB 0 3\r\nMOVE j 0\r\nRENAME j k\r\n",
	} {
		f.Add([]byte(seed))
	}
	e := newTestEngine(f)
	f.Fuzz(func(t *testing.T, data []byte) {
		cmds := parseInput(data)
		conn := &fakeConn{}
		c := resp.NewClient(conn, 1)
		defer e.Closed(c)
		for _, cmd := range cmds {
			if conn.closed {
				return
			}
			name := strings.ToLower(string(cmd.Args[0]))
			if name == "debug" || name == "shutdown" {
				continue // they sleep or stop the process by design
			}
			before := conn.out.Len()
			e.Serve(c, cmd)
			reply := conn.out.Bytes()[before:]
			if len(reply) == 0 && !conn.closed {
				t.Fatalf("no reply to %q", cmd.Args)
			}
			if bytes.Contains(reply, []byte("internal error: panic")) {
				t.Fatalf("%q: %s", cmd.Args, reply)
			}
		}
	})
}

// FuzzCommandsAsync feeds arbitrary bytes, framed as a client's input is,
// to two engines as one pipeline: through Serve, and through ServeAsync,
// Submit and Resume as an event loop drives them (waiting for each wake).
// The replies must be the same bytes. Commands whose replies depend on the
// clock, the data directory or chance are left out, and so is any command
// with an expiry, so that the two engines' states stay equal from one
// input to the next.
func FuzzCommandsAsync(f *testing.F) {
	for _, seed := range []string{
		"SET a 1\r\nGET a\r\nINCR a\r\nGET a\r\n",
		"MULTI\r\nSET a b\r\nAPPEND a c\r\nEXEC\r\nGET a\r\n",
		"SELECT 2\r\nMSET x 1 y 2\r\nMGET x y\r\nSWAPDB 0 2\r\nSELECT 0\r\nDBSIZE\r\n",
		"WATCH k\r\nSET k 1\r\nMULTI\r\nINCR k\r\nEXEC\r\nDEL k\r\nEXISTS k\r\n",
		"SET n x\r\nINCR n\r\nSETRANGE n 3 y\r\nGETDEL n\r\nRENAME n m\r\n",
	} {
		f.Add([]byte(seed))
	}
	sync, async := newTestEngine(f), newTestEngine(f)
	f.Fuzz(func(t *testing.T, data []byte) {
		var cmds []redcon.Command
		for _, cmd := range parseInput(data) {
			if !clockFree(cmd.Args) {
				break // the pipeline ends before it: what follows may depend on it
			}
			cmds = append(cmds, cmd)
		}
		if len(cmds) == 0 {
			return
		}
		sc := newSyncClient(1)
		defer sync.Closed(sc.c)
		sc.serve(sync, cmds)
		ac := newAsyncClient(1)
		defer async.Closed(ac.c)
		ac.serveAll(t, async, cmds)
		if !bytes.Equal(sc.conn.out.Bytes(), ac.conn.out.Bytes()) {
			t.Fatalf("replies differ for %q:\n Serve:      %q\n ServeAsync: %q", data, sc.conn.out.Bytes(), ac.conn.out.Bytes())
		}
	})
}

// parseInput frames data as the reader frames a client's input, and
// returns the commands before any framing error.
func parseInput(data []byte) []redcon.Command {
	rd := resp.NewReader(resp.Limits{})
	for b := data; len(b) > 0; {
		n := copy(rd.Space(), b)
		rd.Fill(n)
		b = b[n:]
	}
	cmds, _ := rd.Parse()
	return cmds
}

// clockFree reports whether a command's reply and effect depend only on
// the data: not on the clock (expiry, TTL, idle times, TIME, INFO), the
// data directory (CONFIG, SAVE), the connection (CLIENT, HELLO) or chance
// (RANDOMKEY), and that it neither sleeps nor stops the server.
func clockFree(args [][]byte) bool {
	switch strings.ToLower(string(args[0])) {
	case "ttl", "pttl", "expiretime", "pexpiretime", "time", "info", "client", "hello", "lastsave",
		"randomkey", "debug", "shutdown", "object", "config", "save", "bgsave", "expire", "pexpire",
		"expireat", "pexpireat", "setex", "psetex", "getex", "persist", "command", "reset", "quit":
		return false
	}
	for _, a := range args[1:] {
		switch strings.ToLower(string(a)) {
		case "ex", "px", "exat", "pxat", "keepttl":
			return false
		}
	}
	return true
}
