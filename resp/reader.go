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
}

// Reader buffer sizes: a new buffer holds at least readChunk bytes, and one
// with less than readMin bytes free is replaced rather than read into.
// Arguments are cut from shared arrays of argChunk slots.
const (
	readChunk = 16 << 10
	readMin   = 512
	argChunk  = 256
)

type readState uint8

const (
	rsCommand    readState = iota // at the start of a request
	rsInline                      // inside an inline request line
	rsCount                       // inside a "*<count>" header line
	rsBulkHeader                  // inside a "$<len>" header line
	rsBulkBody                    // waiting for a bulk body and its CRLF
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
}

// NewReader returns a Reader applying lim.
func NewReader(lim Limits) *Reader { return &Reader{lim: lim} }

// Space returns the buffer to read more input into (never empty); Fill
// records that n bytes were read into it. A buffer with less than readMin
// bytes free is replaced by a new one holding the current request's bytes:
// readChunk, or twice those bytes, or for a bulk body just what it still
// needs when that is less (memory follows what the client really sent).
func (r *Reader) Space() []byte {
	if len(r.buf)-r.end >= readMin {
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
// returned, every later call returns it.
func (r *Reader) Parse() ([]redcon.Command, error) {
	r.cmds = r.cmds[:0]
	if r.err != nil {
		return nil, r.err
	}
	for {
		var err error
		var more bool
		switch r.state {
		case rsCommand:
			if r.pos == r.end {
				return r.cmds, nil
			}
			r.start = r.pos
			r.marks = r.marks[:0]
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
			return r.cmds, nil
		}
	}
}

// inline parses an inline request line.
func (r *Reader) inline() (more bool, err error) {
	i := r.lineEnd()
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

// lineEnd returns the offset from pos of the newline ending the current
// line, or -1. A line with a NUL byte never ends: Redis looks for line ends
// with strchr, which stops at a NUL, so it waits for more input until the
// request is too big; so does the Reader.
func (r *Reader) lineEnd() int {
	if r.nul {
		return -1
	}
	seg := r.buf[r.pos:r.end]
	i := bytes.IndexByte(seg, '\n')
	if i >= 0 {
		seg = seg[:i]
	}
	if bytes.IndexByte(seg, 0) >= 0 {
		r.nul = true
		return -1
	}
	return i
}

// header parses a "*<count>" or "$<len>" line.
func (r *Reader) header() (more bool, err error) {
	h := r.start + r.hdr
	if r.state == rsBulkHeader && r.end > h && r.buf[h] != '$' {
		return false, &ProtocolError{"expected '$', got '" + string(r.buf[h]) + "'"}
	}
	i := r.lineEnd()
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
	nl := r.pos + i
	r.pos = nl + 1
	var n int64
	ok := nl-h >= 2 && r.buf[nl-1] == '\r'
	if ok {
		n, ok = ParseInt(r.buf[h+1 : nl-1])
	}
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
	case !ok || n < 0 || (r.lim.MaxBulk != nil && n > r.lim.MaxBulk()):
		return false, &ProtocolError{"invalid bulk length"}
	case n > unauthMaxBulk && r.authNeeded():
		return false, &ProtocolError{"unauthenticated bulk length"}
	}
	r.blen = n
	r.state = rsBulkBody
	return false, nil
}

// body takes a bulk's bytes once they and their CRLF are buffered.
func (r *Reader) body() (more bool, err error) {
	if int64(r.end-r.pos) < r.blen+2 {
		return true, nil
	}
	e := r.pos + int(r.blen)
	if r.buf[e] != '\r' || r.buf[e+1] != '\n' {
		return false, &ProtocolError{"invalid bulk length"}
	}
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
