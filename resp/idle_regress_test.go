package resp

import (
	"bytes"
	"testing"
)

// TestIdleBufferAfterMultiArgRequest: a request with several large
// arguments ends in a buffer grown by doubling with room to spare; once
// nothing is pending the Reader lets such a buffer go, so an idle connection
// holds readChunk bytes, not memory of the order of its largest request
// (Redis shrinks an idle client's query buffer too).
func TestIdleBufferAfterMultiArgRequest(t *testing.T) {
	r := NewReader(Limits{})
	v := bytes.Repeat([]byte{'v'}, 300<<10)
	req := encode([]byte("MSET"), []byte("a"), v, []byte("b"), v, []byte("c"), []byte("d"))
	fill(t, r, req)
	r.Space()
	if len(r.buf) > 4*readChunk {
		t.Fatalf("idle reader holds a %d-byte buffer after a %d-byte request", len(r.buf), len(req))
	}
}

// TestMarksKept: the argument bounds of a request with very many
// arguments are let go at the next request, not kept for the connection's
// life.
func TestMarksKept(t *testing.T) {
	r := NewReader(Limits{})
	args := make([][]byte, 100000)
	for i := range args {
		args[i] = []byte("x")
	}
	req := encode(args...)
	fill(t, r, req)
	r.Fill(copy(r.Space(), "PING\r\n"))
	r.Parse()
	if c := cap(r.marks); c > 1024 {
		t.Fatalf("marks keeps %d ints (%d KiB) after a %d-argument request", c, c*8>>10, len(args))
	}
}
