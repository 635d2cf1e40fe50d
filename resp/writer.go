package resp

import (
	"math"
	"strconv"
)

// Writer appends RESP replies to a byte buffer, in protocol version 2 or 3.
// The zero value writes RESP2.
type Writer struct {
	// B is the encoded output.
	B []byte
	// Proto is the protocol version: 3 selects RESP3 types, anything else RESP2.
	Proto int

	// refs are large bulk payloads that belong at offsets of B but are
	// sent from their own memory (BulkRef), in offset order.
	refs []bulkRef
}

// bulkRef is a payload to be sent at offset at of B.
type bulkRef struct {
	at int
	b  []byte
}

// RefMin is the smallest bulk payload BulkRef sends by reference; smaller
// ones are copied into B (a copy is cheaper than a separate write).
const RefMin = 64 << 10

// NewWriter returns a Writer for protocol version proto.
func NewWriter(proto int) *Writer { return &Writer{Proto: proto} }

// RESP3 reports whether the writer encodes RESP3.
func (w *Writer) RESP3() bool { return w.Proto == 3 }

// Reset empties the buffer and keeps its capacity.
func (w *Writer) Reset() {
	w.B = w.B[:0]
	clear(w.refs)
	w.refs = w.refs[:0]
}

// Truncate drops what was written past offset n of B (payloads included),
// e.g. a reply a failing command had begun.
func (w *Writer) Truncate(n int) {
	w.B = w.B[:n]
	for len(w.refs) > 0 && w.refs[len(w.refs)-1].at >= n {
		w.refs[len(w.refs)-1] = bulkRef{}
		w.refs = w.refs[:len(w.refs)-1]
	}
}

// Segments calls fn with the reply's bytes in order: pieces of B and the
// payloads sent by reference (fromRef true).
func (w *Writer) Segments(fn func(b []byte, fromRef bool)) {
	prev := 0
	for _, r := range w.refs {
		fn(w.B[prev:r.at], false)
		fn(r.b, true)
		prev = r.at
	}
	fn(w.B[prev:], false)
}

// HasRefs reports whether a payload is held by reference.
func (w *Writer) HasRefs() bool { return len(w.refs) > 0 }

func (w *Writer) prefix(c byte, n int64) {
	w.B = append(w.B, c)
	w.B = strconv.AppendInt(w.B, n, 10)
	w.B = append(w.B, '\r', '\n')
}

// Simple writes a simple string (+OK).
func (w *Writer) Simple(s string) {
	w.B = append(w.B, '+')
	w.B = appendLine(w.B, s)
}

// OK writes +OK.
func (w *Writer) OK() { w.B = append(w.B, "+OK\r\n"...) }

// Error writes an error line; msg should start with an error code such as ERR.
func (w *Writer) Error(msg string) {
	w.B = append(w.B, '-')
	w.B = appendLine(w.B, msg)
}

// appendLine appends s with CR and LF replaced by spaces, then CRLF,
// so that a simple string or error can never break the framing.
func appendLine(b []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c == '\r' || c == '\n' {
			c = ' '
		}
		b = append(b, c)
	}
	return append(b, '\r', '\n')
}

// Int writes an integer reply.
func (w *Writer) Int(n int64) { w.prefix(':', n) }

// Bulk writes a bulk string.
func (w *Writer) Bulk(b []byte) {
	w.prefix('$', int64(len(b)))
	w.B = append(w.B, b...)
	w.B = append(w.B, '\r', '\n')
}

// BulkRef writes a bulk string whose payload, when at least RefMin bytes,
// is not copied into B but sent from b itself: b must not change until the
// reply has been sent (Client.Send), and must not be part of B.
func (w *Writer) BulkRef(b []byte) {
	if len(b) < RefMin {
		w.Bulk(b)
		return
	}
	w.prefix('$', int64(len(b)))
	w.refs = append(w.refs, bulkRef{len(w.B), b})
	w.B = append(w.B, '\r', '\n')
}

// BulkString writes a bulk string.
func (w *Writer) BulkString(s string) {
	w.prefix('$', int64(len(s)))
	w.B = append(w.B, s...)
	w.B = append(w.B, '\r', '\n')
}

// Null writes a null bulk string ($-1 in RESP2, _ in RESP3).
func (w *Writer) Null() {
	if w.RESP3() {
		w.B = append(w.B, "_\r\n"...)
		return
	}
	w.B = append(w.B, "$-1\r\n"...)
}

// NullArray writes a null array (*-1 in RESP2, _ in RESP3).
func (w *Writer) NullArray() {
	if w.RESP3() {
		w.B = append(w.B, "_\r\n"...)
		return
	}
	w.B = append(w.B, "*-1\r\n"...)
}

// Array writes an array header of n elements.
func (w *Writer) Array(n int) { w.prefix('*', int64(n)) }

// Set writes a set header of n elements (an array in RESP2).
func (w *Writer) Set(n int) {
	if w.RESP3() {
		w.prefix('~', int64(n))
		return
	}
	w.Array(n)
}

// Map writes a map header of n pairs (an array of 2n elements in RESP2).
func (w *Writer) Map(n int) {
	if w.RESP3() {
		w.prefix('%', int64(n))
		return
	}
	w.Array(2 * n)
}

// Double writes a double (a bulk string in RESP2), formatted as Redis does.
func (w *Writer) Double(f float64) {
	s := FormatDouble(f)
	if w.RESP3() {
		w.B = append(w.B, ',')
		w.B = append(w.B, s...)
		w.B = append(w.B, '\r', '\n')
		return
	}
	w.BulkString(s)
}

// Bool writes a boolean (:1 / :0 in RESP2).
func (w *Writer) Bool(v bool) {
	if w.RESP3() {
		if v {
			w.B = append(w.B, "#t\r\n"...)
		} else {
			w.B = append(w.B, "#f\r\n"...)
		}
		return
	}
	if v {
		w.Int(1)
	} else {
		w.Int(0)
	}
}

// Verbatim writes a verbatim string of format "txt" (a bulk string in RESP2).
func (w *Writer) Verbatim(s string) {
	if w.RESP3() {
		w.prefix('=', int64(len(s)+4))
		w.B = append(w.B, "txt:"...)
		w.B = append(w.B, s...)
		w.B = append(w.B, '\r', '\n')
		return
	}
	w.BulkString(s)
}

// Raw appends already encoded bytes.
func (w *Writer) Raw(b []byte) { w.B = append(w.B, b...) }

// FormatDouble formats f the way Redis replies doubles: shortest exact
// representation, "inf", "-inf" and "nan" for the special values.
func FormatDouble(f float64) string {
	switch {
	case math.IsInf(f, 1):
		return "inf"
	case math.IsInf(f, -1):
		return "-inf"
	case math.IsNaN(f):
		return "nan"
	}
	return strconv.FormatFloat(f, 'g', 17, 64)
}
