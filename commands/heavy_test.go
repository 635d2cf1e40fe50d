package commands

import (
	"bytes"
	"fmt"
	"testing"

	"github.com/digby-db/digby/resp"
)

// TestHeavyWrites: writes with many arguments or many bytes (an EXEC: its
// queue together) are submitted heavy, so that the store applies them
// without changes in place and readers do not wait for them; the writes
// redis-benchmark sends (SET, MSET of ten keys, 1 KiB values) are not.
func TestHeavyWrites(t *testing.T) {
	args := func(s ...string) [][]byte {
		out := make([][]byte, len(s))
		for i, a := range s {
			out[i] = []byte(a)
		}
		return out
	}
	mset := func(n int) [][]byte {
		a := args("MSET")
		for i := range n {
			a = append(a, []byte(fmt.Sprintf("key:%d", i)), []byte("v"))
		}
		return a
	}
	big := bytes.Repeat([]byte("x"), heavyBytes+1)
	kib := bytes.Repeat([]byte("x"), 1024)
	e := newTestEngine(t)
	c := resp.NewClient(&fakeConn{}, 1)
	for _, tc := range []struct {
		name  string
		args  [][]byte
		heavy bool
	}{
		{"SET", args("SET", "k", "v"), false},
		{"SET 1 KiB", [][]byte{[]byte("SET"), []byte("k"), kib}, false},
		{"MSET of ten", mset(10), false},
		{"MSET of a hundred", mset(100), true},
		{"SET past heavyBytes", [][]byte{[]byte("SET"), []byte("k"), big}, true},
		{"DEL of a hundred", append(args("DEL"), mset(100)[1:]...), true},
	} {
		p := e.start(c, nil, nil, false)
		cmd, rejected := e.resolve(tc.args)
		if rejected != "" {
			t.Fatalf("%s: %s", tc.name, rejected)
		}
		p.submit(cmd, tc.args)
		if n := len(p.held); n != 1 {
			t.Fatalf("%s: %d submissions held, want 1", tc.name, n)
		}
		if got := p.held[0].IsHeavy(); got != tc.heavy {
			t.Errorf("%s: heavy %v, want %v", tc.name, got, tc.heavy)
		}
		p.drain()
	}

	// An EXEC is as heavy as its queue.
	for _, tc := range []struct {
		queue int
		heavy bool
	}{{5, false}, {40, true}} {
		p := e.start(c, nil, nil, true)
		c.Multi = true
		c.Queue = nil
		for i := range tc.queue {
			c.Queue = append(c.Queue, args("SET", fmt.Sprintf("k%d", i), "v"))
		}
		cmd, _ := e.resolve(args("EXEC"))
		p.submitExec(cmd, args("EXEC"))
		if got := p.held[0].IsHeavy(); got != tc.heavy {
			t.Errorf("EXEC of %d SETs: heavy %v, want %v", tc.queue, got, tc.heavy)
		}
		e.db.SubmitAll(p.held...)
		p.held[0].Wait()
		p.held = p.held[:0]
		p.drain()
	}
	if !heavyWrite(mset(20), mset(20)) || heavyWrite(mset(10), mset(10)) {
		t.Error("heavyWrite does not add its commands' arguments up")
	}
}
