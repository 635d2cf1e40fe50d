package resp

import (
	"bytes"
	"testing"
)

func subsequence(sub, s []byte) bool {
	for _, c := range sub {
		i := bytes.IndexByte(s, c)
		if i < 0 {
			return false
		}
		s = s[i+1:]
	}
	return true
}

// FuzzGuard feeds arbitrary bytes to the guard in two chunks: it must not
// panic, and what it passes on must be a prefix of the input with only empty
// multibulks removed.
func FuzzGuard(f *testing.F) {
	f.Add([]byte("*1\r\n$4\r\nPING\r\n"), 3)
	f.Add([]byte("*0\r\nPING\r\n*2\r\n$3\r\nGET\r\n$99999\r\n"), 7)
	f.Fuzz(func(t *testing.T, data []byte, cut int) {
		g := &guardConn{lim: Limits{MaxBulk: func() int64 { return 1000 }}}
		if cut < 0 {
			cut = -cut
		}
		if len(data) > 0 {
			cut %= len(data) + 1
		} else {
			cut = 0
		}
		var out []byte
		for _, part := range [][]byte{data[:cut], data[cut:]} {
			g.obuf = g.obuf[:0]
			g.feed(part)
			out = append(out, g.obuf...)
		}
		if len(out) > len(data) {
			t.Fatalf("guard produced more than it read")
		}
		if !subsequence(out, data) {
			t.Fatalf("output %q is not taken from %q", out, data)
		}
	})
}
