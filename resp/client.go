package resp

import (
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/tidwall/redcon"
)

// Client is the state of one connection. Fields without a lock are touched only
// by the connection's own goroutine (and, while it waits for an EXEC, by the
// writer on its behalf); the rest may be read by CLIENT LIST from elsewhere.
type Client struct {
	// ID is the connection's unique, increasing id (CLIENT ID).
	ID int64
	// Addr and LAddr are the remote and local addresses.
	Addr, LAddr string
	// Created is when the connection was accepted.
	Created time.Time

	// Multi is true between MULTI and EXEC/DISCARD.
	Multi bool
	// MultiErr records that a command failed to queue (EXEC then aborts).
	MultiErr bool
	// Queue holds the commands queued by MULTI.
	Queue [][][]byte
	// Session is the command layer's own per-connection state.
	Session any

	conn redcon.Conn
	own  *conn // conn when the Listener made it; nil for NewClient's
	// wake tells the event loop serving the connection that its writes
	// were answered (Wake); nil outside an event loop.
	wake func()

	proto  atomic.Int64
	db     atomic.Int64
	authed atomic.Bool
	closed atomic.Bool

	mu       sync.Mutex
	name     string
	libName  string
	libVer   string
	lastCmd  string
	lastUsed time.Time
}

// Proto returns the RESP version in use: 2 or 3 (HELLO).
func (c *Client) Proto() int { return int(c.proto.Load()) }

// SetProto switches the RESP version.
func (c *Client) SetProto(v int) { c.proto.Store(int64(v)) }

// DB returns the selected table.
func (c *Client) DB() int { return int(c.db.Load()) }

// SetDB selects a table.
func (c *Client) SetDB(n int) { c.db.Store(int64(n)) }

// Authed reports whether the connection has authenticated.
func (c *Client) Authed() bool { return c.authed.Load() }

// SetAuthed records the result of AUTH/HELLO AUTH.
func (c *Client) SetAuthed(v bool) { c.authed.Store(v) }

// Name returns the CLIENT SETNAME name.
func (c *Client) Name() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.name
}

// SetName sets the client name.
func (c *Client) SetName(n string) {
	c.mu.Lock()
	c.name = n
	c.mu.Unlock()
}

// SetLib records CLIENT SETINFO LIB-NAME / LIB-VER; an empty argument keeps the old one.
func (c *Client) SetLib(name, ver *string) {
	c.mu.Lock()
	if name != nil {
		c.libName = *name
	}
	if ver != nil {
		c.libVer = *ver
	}
	c.mu.Unlock()
}

// Touch records the command being run, for CLIENT LIST's cmd and idle fields.
func (c *Client) Touch(cmd string, now time.Time) {
	c.mu.Lock()
	c.lastCmd = cmd
	c.lastUsed = now
	c.mu.Unlock()
}

// Close closes the connection after pending replies are written.
func (c *Client) Close() {
	if c.closed.CompareAndSwap(false, true) {
		c.conn.Close()
	}
}

// Kill closes the connection from another goroutine (CLIENT KILL).
func (c *Client) Kill() {
	c.closed.Store(true)
	if c.own != nil {
		c.own.kill()
	}
}

// SetWake sets what Wake calls, for driving an AsyncHandler without a
// Listener (tests, embedding); the Listener's event loops set their own.
// Set it before the client is served.
func (c *Client) SetWake(fn func()) { c.wake = fn }

// Wake tells the event loop serving c that the writes an AsyncHandler
// stopped for are answered, so that it calls Resume. It may be called
// from any goroutine; outside an event loop it does nothing.
func (c *Client) Wake() {
	if c.wake != nil {
		c.wake()
	}
}

// NewClient makes a Client around a redcon connection that did not come from
// a Listener: for driving a Handler directly (tests, fuzzing).
func NewClient(conn redcon.Conn, id int64) *Client {
	c := &Client{ID: id, Addr: conn.RemoteAddr(), Created: time.Now(), conn: conn}
	c.SetProto(2)
	return c
}

// Closed reports whether Close or Kill was called.
func (c *Client) Closed() bool { return c.closed.Load() }

// Info formats the client as one line of CLIENT LIST / CLIENT INFO.
func (c *Client) Info(now time.Time) string {
	c.mu.Lock()
	defer c.mu.Unlock()
	idle := int64(0)
	if !c.lastUsed.IsZero() {
		idle = int64(now.Sub(c.lastUsed) / time.Second)
	}
	flags := "N"
	cmd := c.lastCmd
	if cmd == "" {
		cmd = "NULL"
	}
	return fmt.Sprintf("id=%d addr=%s laddr=%s fd=%d name=%s age=%d idle=%d flags=%s db=%d sub=0 psub=0 ssub=0 multi=-1 qbuf=0 qbuf-free=0 argv-mem=0 multi-mem=0 rbs=0 rbp=0 obl=0 oll=0 omem=0 tot-mem=0 events=r cmd=%s user=default redir=-1 resp=%d lib-name=%s lib-ver=%s",
		c.ID, c.Addr, c.LAddr, c.ID+7, c.name, int64(now.Sub(c.Created)/time.Second), idle, flags, c.DB(),
		strings.ToLower(cmd), c.Proto(), c.libName, c.libVer)
}

// Send writes w's reply to the connection. Payloads w holds by reference
// (Writer.BulkRef) are written straight to the socket after what is
// buffered, so a large value is never copied into an output buffer; a
// failed write closes the connection.
func (c *Client) Send(w *Writer) {
	if !w.HasRefs() {
		c.conn.WriteRaw(w.B)
		return
	}
	w.Segments(func(b []byte, fromRef bool) {
		if !fromRef || c.own == nil {
			c.conn.WriteRaw(b)
			return
		}
		if c.own.writeDirect(b) != nil {
			c.Kill() // the rest of the pipeline is not served
		}
	})
}

// Conn returns the redcon connection, for writing replies.
func (c *Client) Conn() redcon.Conn { return c.conn }
