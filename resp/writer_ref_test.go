package resp

import (
	"bytes"
	"testing"
)

// TestBulkRef: payloads held by reference come out in place, and Truncate
// drops those past the cut.
func TestBulkRef(t *testing.T) {
	big := bytes.Repeat([]byte("x"), RefMin)
	var w Writer
	w.Int(1)
	w.BulkRef(big)
	w.BulkRef([]byte("small"))
	mark := len(w.B)
	w.BulkRef(big)
	w.Truncate(mark)
	w.Int(2)
	var out []byte
	refs := 0
	w.Segments(func(b []byte, ref bool) {
		if ref {
			refs++
		}
		out = append(out, b...)
	})
	want := append(append([]byte(":1\r\n$65536\r\n"), big...), "\r\n$5\r\nsmall\r\n:2\r\n"...)
	if !bytes.Equal(out, want) || refs != 1 {
		t.Fatalf("segments: %d refs, %q...", refs, out[:20])
	}
	w.Reset()
	if w.HasRefs() || len(w.B) != 0 {
		t.Fatal("Reset kept a payload")
	}
}
