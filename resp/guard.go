package resp

import (
	"bytes"
	"errors"
	"net"
)

// Redis's limits on request framing (server.h: PROTO_INLINE_MAX_SIZE and the
// caps applied to clients that have not authenticated yet).
const (
	inlineMax      = 64 * 1024
	maxMultibulk   = 1<<31 - 1
	unauthMaxCount = 10
	unauthMaxBulk  = 16384
)

// ProtocolError is a framing error found by the guard. The guard has already
// answered the client with "-ERR Protocol error: <Msg>"; the connection must close.
type ProtocolError struct{ Msg string }

func (e *ProtocolError) Error() string { return "Protocol error: " + e.Msg }

// Limits are the checks the guard applies to each request header. They are
// functions so that CONFIG SET and AUTH take effect on open connections.
type Limits struct {
	// MaxBulk is proto-max-bulk-len: the longest bulk string accepted.
	MaxBulk func() int64
	// AuthRequired reports whether the client still has to authenticate;
	// such clients get Redis's small caps on counts and lengths.
	AuthRequired func() bool
}

type guardState uint8

const (
	stCommand    guardState = iota // at the start of a request
	stInline                       // inside an inline request line
	stMultibulk                    // inside a "*<count>" header line (held)
	stBulkHeader                   // inside a "$<len>" header line (held)
	stBulkBody                     // passing a bulk body through
	stPass                         // malformed: pass everything on for redcon to reject
)

// guardConn wraps a client connection and scans the request stream as it is
// read, before redcon buffers it: a bulk length beyond proto-max-bulk-len, an
// over-long header or inline line is answered and the connection refused at
// the header, so no memory is spent on it. Bytes of earlier requests in the
// same read are passed on first, so they are served as Redis serves them.
type guardConn struct {
	net.Conn
	lim Limits

	in    []byte
	obuf  []byte
	out   []byte
	hold  []byte
	state guardState
	left  int64 // bytes of the current bulk body (with CRLF) or inline line
	bulks int64 // bulks still expected in the current multibulk request
	perr  *ProtocolError
	rerr  error
	sent  bool
}

func newGuardConn(c net.Conn, lim Limits) *guardConn {
	return &guardConn{Conn: c, lim: lim, in: make([]byte, 16*1024)}
}

// Read implements net.Conn.
func (g *guardConn) Read(p []byte) (int, error) {
	for len(g.out) == 0 {
		if g.perr != nil {
			if !g.sent {
				g.sent = true
				_, _ = g.Conn.Write([]byte("-ERR " + g.perr.Error() + "\r\n"))
			}
			return 0, g.perr
		}
		if g.rerr != nil {
			return 0, g.rerr
		}
		n, err := g.Conn.Read(g.in)
		if n > 0 {
			g.obuf = g.obuf[:0]
			g.feed(g.in[:n])
			g.out = g.obuf
		}
		if err != nil {
			g.rerr = err
		}
	}
	n := copy(p, g.out)
	g.out = g.out[n:]
	return n, nil
}

func (g *guardConn) fail(msg string) { g.perr = &ProtocolError{Msg: msg} }

// feed scans b and appends what may pass to g.obuf.
func (g *guardConn) feed(b []byte) {
	for len(b) > 0 && g.perr == nil {
		switch g.state {
		case stPass:
			g.obuf = append(g.obuf, b...)
			return
		case stCommand:
			if b[0] == '*' {
				g.state = stMultibulk
				g.hold = g.hold[:0]
			} else {
				g.state = stInline
				g.left = 0
			}
		case stInline:
			i := indexNL(b)
			if i < 0 {
				g.left += int64(len(b))
				if g.left > inlineMax {
					g.fail("too big inline request")
					return
				}
				g.obuf = append(g.obuf, b...)
				return
			}
			g.obuf = append(g.obuf, b[:i+1]...)
			b = b[i+1:]
			g.state = stCommand
		case stMultibulk, stBulkHeader:
			b = g.header(b)
		case stBulkBody:
			n := int64(len(b))
			if n > g.left {
				n = g.left
			}
			g.obuf = append(g.obuf, b[:n]...)
			b = b[n:]
			g.left -= n
			if g.left == 0 {
				g.bulks--
				if g.bulks == 0 {
					g.state = stCommand
				} else {
					g.state = stBulkHeader
					g.hold = g.hold[:0]
				}
			}
		}
	}
}

// header accumulates a header line in g.hold and judges it once complete.
func (g *guardConn) header(b []byte) []byte {
	if g.state == stBulkHeader && len(g.hold) == 0 && b[0] != '$' {
		g.state = stPass // redcon answers "expected '$', got 'x'"
		return b
	}
	i := indexNL(b)
	if i < 0 {
		g.hold = append(g.hold, b...)
		if len(g.hold) > inlineMax {
			if g.state == stMultibulk {
				g.fail("too big mbulk count string")
			} else {
				g.fail("too big bulk count string")
			}
		}
		return nil
	}
	g.hold = append(g.hold, b[:i+1]...)
	b = b[i+1:]
	line := g.hold
	if len(line) < 3 || line[len(line)-2] != '\r' {
		g.passHold()
		return b
	}
	n, ok := ParseInt(line[1 : len(line)-2])
	if !ok {
		g.passHold()
		return b
	}
	if g.state == stMultibulk {
		switch {
		case n > maxMultibulk:
			g.fail("invalid multibulk length")
		case n <= 0:
			g.state = stCommand // Redis ignores empty multibulks
		case n > unauthMaxCount && g.authNeeded():
			g.fail("unauthenticated multibulk length")
		default:
			g.obuf = append(g.obuf, line...)
			g.bulks = n
			g.state = stBulkHeader
			g.hold = g.hold[:0]
		}
		return b
	}
	switch {
	case n < 0:
		g.passHold()
	case g.lim.MaxBulk != nil && n > g.lim.MaxBulk():
		g.fail("invalid bulk length")
	case n > unauthMaxBulk && g.authNeeded():
		g.fail("unauthenticated bulk length")
	default:
		g.obuf = append(g.obuf, line...)
		g.left = n + 2
		g.state = stBulkBody
	}
	return b
}

// authNeeded reports whether the client still has to authenticate (asked
// only of requests past the unauthenticated caps).
func (g *guardConn) authNeeded() bool { return g.lim.AuthRequired != nil && g.lim.AuthRequired() }

// passHold gives up judging: the held bytes and all that follows go to redcon,
// which rejects them with its own (Redis's) error.
func (g *guardConn) passHold() {
	g.obuf = append(g.obuf, g.hold...)
	g.state = stPass
}

func indexNL(b []byte) int { return bytes.IndexByte(b, '\n') }

// IsProtocolError reports whether err is a framing error found by the guard.
func IsProtocolError(err error) bool {
	var pe *ProtocolError
	return errors.As(err, &pe)
}
