package commands

import (
	"fmt"
	"math/rand/v2"
	"strconv"
	"testing"

	"github.com/digby-db/digby/resp"
	"github.com/tidwall/redcon"
)

// pipeConn is a fakeConn whose pipeline holds the commands after the
// first of a Serve, as redcon hands over a client's pipelined commands.
type pipeConn struct {
	fakeConn
	rest []redcon.Command
}

func (p *pipeConn) ReadPipeline() []redcon.Command {
	r := p.rest
	p.rest = nil
	return r
}

// BenchmarkServe: the command layer and engine without the network, as
// redis-benchmark drives them with -P 16 (sixteen commands a Serve) and
// -P 1, over a table loaded with 200k random keys "key:N" and keys drawn
// from 1M: what a request costs the server past reading and writing the
// socket. ns/op is per command.
func BenchmarkServe(b *testing.B) {
	for _, tc := range []struct {
		name string
		args func(k string) [][]byte
	}{
		{"SET", func(k string) [][]byte { return [][]byte{[]byte("SET"), []byte(k), []byte("xxx")} }},
		{"INCR", func(k string) [][]byte { return [][]byte{[]byte("INCR"), []byte("counter:" + k[4:])} }},
		{"GET", func(k string) [][]byte { return [][]byte{[]byte("GET"), []byte(k)} }},
	} {
		for _, pipe := range []int{1, 16} {
			b.Run(fmt.Sprintf("%s/P%d", tc.name, pipe), func(b *testing.B) {
				e := newTestEngine(b)
				conn := &pipeConn{}
				c := resp.NewClient(conn, 1)
				defer e.Closed(c)
				load := make([]redcon.Command, 0, 1000)
				for i := 0; i < 200_000; i++ {
					load = append(load, redcon.Command{Args: [][]byte{[]byte("SET"), []byte("key:" + strconv.Itoa(rand.IntN(1_000_000))), []byte("xxx")}})
					if len(load) == cap(load) {
						conn.rest = load[1:]
						e.Serve(c, load[0])
						load = load[:0]
					}
				}
				r := rand.New(rand.NewPCG(1, 2))
				cmds := make([]redcon.Command, b.N)
				for i := range cmds {
					cmds[i] = redcon.Command{Args: tc.args("key:" + strconv.Itoa(r.IntN(1_000_000)))}
				}
				b.ReportAllocs()
				b.ResetTimer()
				for i := 0; i < b.N; i += pipe {
					end := min(i+pipe, b.N)
					conn.rest = cmds[i+1 : end]
					e.Serve(c, cmds[i])
					conn.out.Reset()
				}
			})
		}
	}
}
