package resp

import (
	"math"
	"testing"
)

// TestHugeBulkLength: with proto-max-bulk-len at its largest accepted
// value (CONFIG SET proto-max-bulk-len 9223372036854775807 passes
// config.ParseSize; a nil Limits.MaxBulk means the same), a header
// "$9223372036854775807" is refused as an invalid bulk length rather than
// overflowing the length arithmetic (r.blen+2 wrapped negative, and the
// index that followed panicked in the connection's goroutine, taking the
// server down).
func TestHugeBulkLength(t *testing.T) {
	for _, lim := range []Limits{{}, {MaxBulk: func() int64 { return math.MaxInt64 }}} {
		func() {
			defer func() {
				if p := recover(); p != nil {
					t.Errorf("Parse panicked: %v", p)
				}
			}()
			r := NewReader(lim)
			r.Fill(copy(r.Space(), "*1\r\n$9223372036854775807\r\nabc"))
			if _, err := r.Parse(); err != nil {
				t.Logf("error (acceptable): %v", err)
			}
		}()
	}
}
