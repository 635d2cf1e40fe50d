package resp

import (
	"bytes"
	"testing"
)

// TestSpaceAfterBigRequest: once a large request has been parsed and
// handed out, the next Space neither copies it again nor allocates twice
// its size: Parse moves start past every request it returned, so nothing
// counts as pending (it once left start at the last request, and after a
// 512 MiB SET an idle connection allocated 1 GiB and copied what it had
// just served).
func TestSpaceAfterBigRequest(t *testing.T) {
	r := NewReader(Limits{})
	req := encode([]byte("SET"), []byte("k"), bytes.Repeat([]byte{'v'}, 1<<20))
	got := len(fill(t, r, req))
	if got != 1 {
		t.Fatalf("%d commands", got)
	}
	// The request is complete and served; the connection reads again.
	r.Space()
	if len(r.buf) > readChunk || r.end != 0 {
		t.Fatalf("idle reader holds a %d-byte buffer after a %d-byte request, starting with %d bytes copied from the request already served",
			len(r.buf), len(req), r.end)
	}
}

// TestSpaceCopiesServedRequests: the same with small requests: a replaced
// buffer holds only the pending request's bytes, never a served one's.
func TestSpaceCopiesServedRequests(t *testing.T) {
	r := NewReader(Limits{})
	for len(r.buf) == 0 || len(r.buf)-r.end >= readMin {
		r.Fill(copy(r.Space(), "PING\r\n"))
		if _, err := r.Parse(); err != nil {
			t.Fatal(err)
		}
	}
	r.Space()
	if r.end != 0 {
		t.Fatalf("new buffer starts with %d bytes (%q) of a request already served", r.end, r.buf[:r.end])
	}
}
