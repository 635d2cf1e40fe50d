package resp

import (
	"errors"
	"io"
	"net"
	"strconv"

	"github.com/tidwall/redcon"
)

// outKeep is the largest reply buffer a connection keeps between pipelines;
// a bigger one (a large MGET's) is dropped once written.
const outKeep = 64 << 10

// conn is one client connection, served by its own goroutine (Listener's
// handle): it reads with a Reader, hands each read's commands to the Handler
// as one pipeline, and buffers the replies until the pipeline has been
// served. It implements redcon.Conn, the interface the command layer writes
// to. Only the connection's goroutine (or event loop) uses it, except kill.
type conn struct {
	nc       net.Conn // nil under an event loop (sock)
	sock     *loopSock
	addr     string
	rd       *Reader
	out      []byte
	werr     error // the first failed write; later output is dropped
	ctx      any
	cmds     []redcon.Command // the rest of the pipeline being served
	detached bool
	deadline bool // a read deadline (the idle timeout) is set
}

var _ redcon.Conn = (*conn)(nil)

func newConn(nc net.Conn, lim Limits) *conn {
	return &conn{nc: nc, addr: nc.RemoteAddr().String(), rd: NewReader(lim)}
}

// flush writes the buffered replies. Under an event loop what the socket
// does not take at once waits in sock.pend, and the loop writes it as
// the socket drains.
func (c *conn) flush() error {
	if c.werr != nil {
		return c.werr
	}
	if len(c.out) == 0 {
		return nil
	}
	var err error
	if c.sock != nil {
		err = c.sock.write(c.out)
	} else {
		_, err = c.nc.Write(c.out)
	}
	if err != nil {
		c.werr = err
	}
	c.out = c.out[:0]
	if cap(c.out) > outKeep {
		c.out = nil
	}
	return err
}

// writeDirect writes b to the socket after what is buffered, without copying
// it into the buffer (large values).
// Under an event loop b is copied (the loop cannot wait for the socket).
func (c *conn) writeDirect(b []byte) error {
	if c.sock != nil {
		c.out = append(c.out, b...)
		return nil
	}
	if err := c.flush(); err != nil {
		return err
	}
	if _, err := c.nc.Write(b); err != nil {
		c.werr = err
		return err
	}
	return nil
}

// readMore reads once into the Reader's buffer (not under an event loop,
// which reads itself).
func (c *conn) readMore() error {
	if c.sock != nil {
		return errLoopDetach
	}
	n, err := c.nc.Read(c.rd.Space())
	c.rd.Fill(n)
	if n > 0 {
		return nil
	}
	if err == nil {
		err = io.ErrNoProgress
	}
	return err
}

// RemoteAddr implements redcon.Conn.
func (c *conn) RemoteAddr() string { return c.addr }

// Close writes what is buffered and closes the connection; the connection's
// goroutine stops after the pipeline being served (its read fails). Under
// an event loop, the loop closes it once its replies are written.
func (c *conn) Close() error {
	_ = c.flush()
	if c.sock != nil {
		c.sock.closing = true
		return nil
	}
	return c.nc.Close()
}

// kill closes the connection from any goroutine: its goroutine's read
// fails, or its event loop sees it hang up.
func (c *conn) kill() {
	if c.sock != nil {
		c.sock.shutdown()
		return
	}
	_ = c.nc.Close()
}

// WriteError implements redcon.Conn.
func (c *conn) WriteError(msg string) { c.out = redcon.AppendError(c.out, msg) }

// WriteString implements redcon.Conn.
func (c *conn) WriteString(str string) { c.out = redcon.AppendString(c.out, str) }

// WriteBulk implements redcon.Conn.
func (c *conn) WriteBulk(bulk []byte) { c.out = redcon.AppendBulk(c.out, bulk) }

// WriteBulkString implements redcon.Conn.
func (c *conn) WriteBulkString(bulk string) { c.out = redcon.AppendBulkString(c.out, bulk) }

// WriteInt implements redcon.Conn.
func (c *conn) WriteInt(num int) { c.out = redcon.AppendInt(c.out, int64(num)) }

// WriteInt64 implements redcon.Conn.
func (c *conn) WriteInt64(num int64) { c.out = redcon.AppendInt(c.out, num) }

// WriteUint64 implements redcon.Conn.
func (c *conn) WriteUint64(num uint64) { c.out = redcon.AppendUint(c.out, num) }

// WriteArray implements redcon.Conn.
func (c *conn) WriteArray(count int) { c.out = redcon.AppendArray(c.out, count) }

// WriteNull implements redcon.Conn.
func (c *conn) WriteNull() { c.out = redcon.AppendNull(c.out) }

// WriteRaw implements redcon.Conn.
func (c *conn) WriteRaw(data []byte) { c.out = append(c.out, data...) }

// WriteAny implements redcon.Conn.
func (c *conn) WriteAny(v any) { c.out = redcon.AppendAny(c.out, v) }

// Context implements redcon.Conn.
func (c *conn) Context() any { return c.ctx }

// SetContext implements redcon.Conn.
func (c *conn) SetContext(v any) { c.ctx = v }

// SetReadBuffer implements redcon.Conn; the Reader sizes its own buffers.
func (c *conn) SetReadBuffer(int) {}

// ReadPipeline returns the commands read with the one being served, and
// removes them from the pipeline.
func (c *conn) ReadPipeline() []redcon.Command {
	cmds := c.cmds
	c.cmds = nil
	return cmds
}

// PeekPipeline returns the commands read with the one being served.
func (c *conn) PeekPipeline() []redcon.Command { return c.cmds }

// NetConn returns the socket; nil under an event loop.
func (c *conn) NetConn() net.Conn { return c.nc }

// WriteBulkFrom writes a bulk of n bytes copied from rb. If rb ends early
// the reply cannot be completed and the connection is closed.
func (c *conn) WriteBulkFrom(n int64, rb io.Reader) {
	c.out = append(c.out, '$')
	c.out = strconv.AppendInt(c.out, n, 10)
	c.out = append(c.out, '\r', '\n')
	if c.sock != nil {
		at := len(c.out)
		c.out = append(c.out, make([]byte, n)...)
		if k, err := io.ReadFull(rb, c.out[at:]); err != nil {
			// As below: what was read goes out, then the connection
			// closes, and later output is dropped.
			c.out = c.out[:at+k]
			_ = c.flush()
			c.werr = err
			c.sock.closing = true
			return
		}
		c.out = append(c.out, '\r', '\n')
		return
	}
	if c.flush() != nil {
		return
	}
	if _, err := io.CopyN(c.nc, rb, n); err != nil {
		c.werr = err
		_ = c.nc.Close()
		return
	}
	c.out = append(c.out, '\r', '\n')
}

// Detach takes the connection out of the Listener's loop: the caller reads
// its commands (ReadCommand), writes and flushes replies, and closes it.
// It leaves the client table, and the Handler's Closed is not called for it.
// Under an event loop a connection cannot be detached: ReadCommand fails
// and the loop closes it.
func (c *conn) Detach() redcon.DetachedConn {
	c.detached = true
	d := &detached{conn: c, cmds: c.cmds}
	c.cmds = nil
	return d
}

// detached is a connection taken out of the Listener's loop.
type detached struct {
	*conn
	cmds []redcon.Command
}

// Flush writes the buffered replies.
func (d *detached) Flush() error { return d.flush() }

// ReadCommand returns the next command, reading more input as needed. A
// malformed request is answered with Redis's error, which is also returned.
func (d *detached) ReadCommand() (redcon.Command, error) {
	for len(d.cmds) == 0 {
		cmds, err := d.rd.Parse()
		// Parse reuses its slice: keep copies of the headers.
		d.cmds = append(d.cmds[:0:0], cmds...)
		if len(d.cmds) > 0 {
			break
		}
		var pe *ProtocolError
		if errors.As(err, &pe) {
			d.WriteError("ERR " + pe.Error())
			_ = d.flush()
			return redcon.Command{}, err
		}
		if err := d.readMore(); err != nil {
			return redcon.Command{}, err
		}
	}
	cmd := d.cmds[0]
	d.cmds = d.cmds[1:]
	return cmd, nil
}
