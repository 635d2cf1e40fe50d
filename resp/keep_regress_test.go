package resp

import (
	"bytes"
	"fmt"
	"math/rand"
	"testing"

	"github.com/tidwall/redcon"
)

// TestKeptArgsNeverChange keeps every argument handed out (no copy),
// appends to some of them and to the Args slices, feeds random multibulk and
// inline requests cut at random points, and checks at the end that every
// kept argument still holds its bytes.
func TestKeptArgsNeverChange(t *testing.T) {
	for seed := int64(0); seed < 30; seed++ {
		rng := rand.New(rand.NewSource(seed))
		var data []byte
		var want [][][]byte
		for range 1 + rng.Intn(60) {
			if rng.Intn(4) == 0 {
				n := 1 + rng.Intn(12)
				args := make([][]byte, n)
				line := []byte{}
				for i := range args {
					a := fmt.Appendf(nil, "a%d_%d", i, rng.Intn(1000))
					args[i] = a
					if rng.Intn(3) == 0 {
						line = fmt.Appendf(line, "\"%s\" ", a)
					} else {
						line = fmt.Appendf(line, "%s  ", a)
					}
				}
				data = append(data, line...)
				data = append(data, "\r\n"...)
				want = append(want, args)
				continue
			}
			args := make([][]byte, 1+rng.Intn(300))
			for i := range args {
				n := rng.Intn(10)
				if rng.Intn(30) == 0 {
					n = rng.Intn(3 * readChunk)
				}
				a := make([]byte, n)
				rng.Read(a)
				args[i] = a
			}
			want = append(want, args)
			data = append(data, encode(args...)...)
		}
		r := NewReader(Limits{})
		var kept []redcon.Command
		for len(data) > 0 {
			sp := r.Space()
			n := min(len(sp), len(data), 1+rng.Intn(4*readChunk))
			copy(sp, data[:n])
			r.Fill(n)
			data = data[n:]
			cmds, err := r.Parse()
			if err != nil {
				t.Fatal(err)
			}
			for _, c := range cmds {
				if len(c.Args) > 0 && rng.Intn(2) == 0 {
					_ = append(c.Args[0], 'Z')
					_ = append(c.Args, []byte("extra"))
				}
				kept = append(kept, c)
			}
		}
		if len(kept) != len(want) {
			t.Fatalf("seed %d: %d commands, want %d", seed, len(kept), len(want))
		}
		for i := range want {
			if len(kept[i].Args) != len(want[i]) {
				t.Fatalf("seed %d cmd %d: %d args want %d", seed, i, len(kept[i].Args), len(want[i]))
			}
			for j := range want[i] {
				if !bytes.Equal(kept[i].Args[j], want[i][j]) {
					t.Fatalf("seed %d cmd %d arg %d changed", seed, i, j)
				}
			}
		}
	}
}
