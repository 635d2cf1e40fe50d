package resp

import (
	"bytes"
	"errors"

	"github.com/tidwall/redcon"
)

// Redis's limits on request framing (server.h: PROTO_INLINE_MAX_SIZE and the
// caps applied to clients that have not authenticated yet).
const (
	inlineMax      = 64 * 1024
	maxMultibulk   = 1<<31 - 1
	unauthMaxCount = 10
	unauthMaxBulk  = 16384
	// maxBulkLen bounds a bulk's length whatever proto-max-bulk-len says,
	// so that length arithmetic cannot overflow.
	maxBulkLen = 1 << 50
)

// ProtocolError is a framing error in a client's input. The connection
// answers it with "-ERR Protocol error: <Msg>" and closes, as Redis does.
type ProtocolError struct{ Msg string }

func (e *ProtocolError) Error() string { return "Protocol error: " + e.Msg }

// IsProtocolError reports whether err is a framing error of a client's input.
func IsProtocolError(err error) bool {
	var pe *ProtocolError
	return errors.As(err, &pe)
}

// Limits are the checks applied to each request header. They are functions
// so that CONFIG SET and AUTH take effect on open connections.
type Limits struct {
	// MaxBulk is proto-max-bulk-len: the longest bulk string accepted.
	MaxBulk func() int64
	// AuthRequired reports whether the client still has to authenticate;
	// such clients get Redis's small caps on counts and lengths.
	AuthRequired func() bool
	// MaxQuery is client-query-buffer-limit: the most bytes of one
	// incomplete request held; past it Parse returns ErrQueryLimit.
	MaxQuery func() int64
}

// ErrQueryLimit is Parse's error for a request that grew past MaxQuery
// before it was complete. Redis closes such a connection without a reply.
var ErrQueryLimit = errors.New("max query buffer length reached")

// Reader buffer sizes: a new buffer holds at least readChunk bytes, and one
// with less than readMin bytes free is replaced rather than read into.
// Arguments are cut from shared arrays of argChunk slots.
const (
	readChunk = 16 << 10
	readMin   = 512
	argChunk  = 256
	marksKeep = 1024 // the most argument bounds kept between requests
)

type readState uint8

const (
	rsCommand    readState = iota // at the start of a request
	rsInline                      // inside an inline request line
	rsCount                       // inside a "*<count>" header line
	rsBulkHeader                  // inside a "$<len>" header line
	rsBulkBody                    // waiting for a bulk body and the two bytes after it
)

// Reader splits a client's input into commands, parsing each byte once and
// in place: a command's arguments are slices of the buffer the bytes were
// read into, and of an argument array shared by the commands of a buffer.
//
// Invariants:
//   - bytes before start belong to commands already returned and are never
//     written again: a full buffer is replaced (the unparsed tail copied to
//     a new one), not reused, so a handler may keep a command's arguments
//     (a MULTI queue does) for as long as it likes;
//   - buf[start:pos] is the part of the current, incomplete request already
//     checked; marks are its arguments' offsets relative to start, so they
//     survive the move to a new buffer;
//   - a request's header is judged against the limits as soon as its line is
//     complete, before its body is buffered: an over-long bulk never costs
//     memory.
type Reader struct {
	lim   Limits
	buf   []byte
	start int // the first byte of the current request
	pos   int // how far the current request has been parsed
	end   int // bytes in buf
	state readState
	hdr   int      // offset of the current header line, relative to start
	bulks int64    // arguments still expected in the current multibulk request
	blen  int64    // length of the bulk being read
	marks []int    // argument bounds of the current request, relative to start
	args  [][]byte // the unused rest of the shared argument array; never reused once handed out
	cmds  []redcon.Command
	err   error // the framing error met; the input after it is never parsed
	nul   bool  // the current line holds a NUL byte (see lineEnd)
	early bool  // the last Parse returned before parsing all it had (Buffered)
}

// NewReader returns a Reader applying lim.
func NewReader(lim Limits) *Reader { return &Reader{lim: lim} }

// Space returns the buffer to read more input into (never empty); Fill
// records that n bytes were read into it. A buffer with less than readMin
// bytes free is replaced by a new one holding the current request's bytes:
// readChunk, or twice those bytes, or for a bulk body just what it still
// needs when that is less (memory follows what the client really sent).
// A buffer grown past readChunk for a large request is let go once nothing
// is pending, so an idle connection holds readChunk bytes at most.
func (r *Reader) Space() []byte {
	sp := r.space()
	if len(sp) > readChunk && r.state != rsBulkBody && r.state != rsCommand {
		// Within a line, read as Redis does, 16 KiB at a time: it judges a
		// line too long after the read that takes it past 64 KiB without
		// a newline, so a line of up to 80 KiB sent at once is served and
		// a longer one refused, here as there.
		sp = sp[:readChunk]
	}
	return sp
}

// space is Space without the cap on reads within a line.
func (r *Reader) space() []byte {
	if len(r.buf)-r.end >= readMin && (len(r.buf) <= readChunk || r.start < r.end) {
		return r.buf[r.end:]
	}
	keep := r.end - r.start
	size := max(readChunk, 2*keep)
	if r.state == rsBulkBody {
		need := r.pos + int(r.blen) + 2 - r.start
		size = max(readChunk, min(need, 2*keep))
	}
	nb := make([]byte, size)
	copy(nb, r.buf[r.start:r.end])
	r.buf = nb
	r.pos -= r.start
	r.end = keep
	r.start = 0
	return r.buf[r.end:]
}

// Fill records n bytes read into the slice Space returned.
func (r *Reader) Fill(n int) { r.end += n }

// Parse returns the complete requests buffered, in order. The slice is
// reused by the next call; the commands' arguments are not. With an error,
// the requests before the malformed one are still returned: a connection
// serves them, then answers the error and closes. Once an error is
// returned, every later call returns it. While the client has to
// authenticate, Parse returns at most one request (see Buffered).
func (r *Reader) Parse() ([]redcon.Command, error) {
	r.cmds = r.cmds[:0]
	if r.err != nil {
		return nil, r.err
	}
	// Before AUTH, Redis judges each request's caps after the one before
	// it ran (it may be the AUTH): return one request at a time.
	single := r.authNeeded()
	r.early = false
	for {
		if single && len(r.cmds) > 0 {
			r.early = r.pos < r.end
			return r.cmds, nil
		}
		var err error
		var more bool
		switch r.state {
		case rsCommand:
			if r.pos == r.end {
				r.start = r.pos // nothing pending: Space copies nothing
				return r.cmds, nil
			}
			r.start = r.pos
			r.marks = r.marks[:0]
			if cap(r.marks) > marksKeep {
				r.marks = nil // a request of many arguments went by
			}
			r.nul = false
			if r.buf[r.pos] == '*' {
				r.state, r.hdr = rsCount, 0
			} else {
				r.state = rsInline
			}
			continue
		case rsInline:
			more, err = r.inline()
		case rsCount, rsBulkHeader:
			more, err = r.header()
		case rsBulkBody:
			more, err = r.body()
		}
		if err != nil {
			r.err = err
			return r.cmds, err
		}
		if more {
			if r.lim.MaxQuery != nil && int64(r.end-r.start) > r.lim.MaxQuery() {
				r.err = ErrQueryLimit
				return r.cmds, r.err
			}
			return r.cmds, nil
		}
	}
}

// Buffered reports whether bytes already read wait to be parsed (Parse
// returned one request at a time, before AUTH).
func (r *Reader) Buffered() bool { return r.early }

// pending returns the bytes of the incomplete request held.
func (r *Reader) pending() []byte { return r.buf[r.start:r.end] }

// inline parses an inline request line.
func (r *Reader) inline() (more bool, err error) {
	i := r.lineEnd('\n')
	if i < 0 {
		r.pos = r.end
		if r.end-r.start > inlineMax {
			return false, &ProtocolError{"too big inline request"}
		}
		return true, nil
	}
	line := r.buf[r.start : r.pos+i]
	r.pos += i + 1
	r.state = rsCommand
	if len(r.args) < 8 {
		r.args = make([][]byte, argChunk)
	}
	args, ok := splitArgs(line, r.args[:0:len(r.args)])
	if !ok {
		return false, &ProtocolError{"unbalanced quotes in request"}
	}
	if len(args) > 0 {
		if cap(args) == len(r.args) { // still in the shared array
			r.args = r.args[len(args):]
		}
		args = args[:len(args):len(args)]
		r.cmds = append(r.cmds, redcon.Command{Raw: r.buf[r.start:r.pos:r.pos], Args: args})
	}
	return false, nil
}

// lineEnd returns the offset from pos of the byte delim ending the
// current line, or -1: '\n' for an inline request, '\r' for a header line,
// as Redis looks for them, with strchr, which stops at a NUL byte. A line
// with a NUL before its end never ends: Redis waits for more input until
// the request is too big; so does the Reader.
func (r *Reader) lineEnd(delim byte) int {
	if r.nul {
		return -1
	}
	seg := r.buf[r.pos:r.end]
	i := bytes.IndexByte(seg, delim)
	if i >= 0 {
		seg = seg[:i]
	}
	if bytes.IndexByte(seg, 0) >= 0 {
		r.nul = true
		return -1
	}
	return i
}

// header parses a "*<count>" or "$<len>" line as Redis does: the line ends
// at its first '\r', which must be followed by one more byte, skipped
// unread (Redis does not check that it is '\n'); the first byte is
// checked once the line is whole.
func (r *Reader) header() (more bool, err error) {
	h := r.start + r.hdr
	i := r.lineEnd('\r')
	if i < 0 {
		r.pos = r.end
		if r.end-h > inlineMax {
			if r.state == rsCount {
				return false, &ProtocolError{"too big mbulk count string"}
			}
			return false, &ProtocolError{"too big bulk count string"}
		}
		return true, nil
	}
	cr := r.pos + i
	if cr+1 >= r.end {
		r.pos = cr // the byte after it has not arrived: look here again
		return true, nil
	}
	r.pos = cr + 2
	if r.state == rsBulkHeader && r.buf[h] != '$' {
		return false, &ProtocolError{"expected '$', got '" + string(r.buf[h]) + "'"}
	}
	n, ok := ParseInt(r.buf[h+1 : cr])
	if r.state == rsCount {
		switch {
		case !ok || n > maxMultibulk:
			return false, &ProtocolError{"invalid multibulk length"}
		case n > unauthMaxCount && r.authNeeded():
			return false, &ProtocolError{"unauthenticated multibulk length"}
		case n <= 0:
			r.state = rsCommand // Redis ignores empty multibulks
		default:
			r.bulks = n
			r.state, r.hdr = rsBulkHeader, r.pos-r.start
		}
		return false, nil
	}
	switch {
	case !ok || n < 0 || n > maxBulkLen || (r.lim.MaxBulk != nil && n > r.lim.MaxBulk()):
		return false, &ProtocolError{"invalid bulk length"}
	case n > unauthMaxBulk && r.authNeeded():
		return false, &ProtocolError{"unauthenticated bulk length"}
	}
	r.blen = n
	r.state = rsBulkBody
	return false, nil
}

// body takes a bulk's bytes once they and the two bytes after them are
// buffered. Those two are skipped unread, as Redis skips them (a client
// sends CRLF there; Redis does not check).
func (r *Reader) body() (more bool, err error) {
	if int64(r.end-r.pos) < r.blen+2 {
		return true, nil
	}
	e := r.pos + int(r.blen)
	r.marks = append(r.marks, r.pos-r.start, e-r.start)
	r.pos = e + 2
	r.bulks--
	if r.bulks > 0 {
		r.state, r.hdr = rsBulkHeader, r.pos-r.start
		return false, nil
	}
	n := len(r.marks) / 2
	if len(r.args) < n {
		r.args = make([][]byte, max(n, argChunk))
	}
	args := r.args[:n:n]
	r.args = r.args[n:]
	for j := range args {
		a, b := r.start+r.marks[2*j], r.start+r.marks[2*j+1]
		args[j] = r.buf[a:b:b]
	}
	r.cmds = append(r.cmds, redcon.Command{Raw: r.buf[r.start:r.pos:r.pos], Args: args})
	r.state = rsCommand
	return false, nil
}

// authNeeded reports whether the client still has to authenticate (asked
// only of requests past the unauthenticated caps).
func (r *Reader) authNeeded() bool { return r.lim.AuthRequired != nil && r.lim.AuthRequired() }
