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
	e, err := NewEngine(db, cfg, EngineOptions{})
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
		rd := resp.NewReader(resp.Limits{})
		for b := data; len(b) > 0; {
			n := copy(rd.Space(), b)
			rd.Fill(n)
			b = b[n:]
		}
		cmds, _ := rd.Parse() // the commands before any framing error
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
