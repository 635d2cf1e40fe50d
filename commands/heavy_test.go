package commands

import (
	"bytes"
	"fmt"
	"testing"
	"time"

	"github.com/digby-db/digby/resp"
	"github.com/digby-db/digby/store"
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
	for _, k := range []string{"big1", "big2", "big3", "big4", "big5"} {
		e.start(c, [][]byte{[]byte("SET"), []byte(k), big}, nil, false).serve()
	}
	e.start(c, args("SET", "smallval", "v"), nil, false).serve()
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
		{"RENAME", args("RENAME", "a", "b"), true},
		{"COPY", args("COPY", "a", "b"), true},
		{"DBSIZE", args("DBSIZE"), true},
		{"SETRANGE near", args("SETRANGE", "k", "100", "xyz"), false},
		{"SETRANGE far", args("SETRANGE", "k", "70000", "xyz"), true},
		{"SETRANGE bad offset", args("SETRANGE", "k", "x", "xyz"), false},
		{"GETSET of a large value", args("GETSET", "big1", "v"), true},
		{"GETSET of a small value", args("GETSET", "smallval", "v"), false},
		{"GETDEL of a large value", args("GETDEL", "big2"), true},
		{"GETEX of a large value", args("GETEX", "big3", "PERSIST"), true},
		{"SET ... GET of a large value", args("SET", "big4", "v", "get"), true},
		{"SET over a large value", args("SET", "big5", "v"), false},
		{"SET ... GET of a small value", args("SET", "smallval", "v", "GET"), false},
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
	e.start(c, [][]byte{[]byte("SET"), []byte("big6"), big}, nil, false).serve()
	sets := func(n int) [][][]byte {
		var q [][][]byte
		for i := range n {
			q = append(q, args("SET", fmt.Sprintf("k%d", i), "v"))
		}
		return q
	}
	for _, tc := range []struct {
		name  string
		queue [][][]byte
		heavy bool
	}{
		{"5 SETs", sets(5), false},
		{"40 SETs", sets(40), true},
		{"a RENAME", [][][]byte{args("SET", "a", "v"), args("RENAME", "a", "b")}, true},
		{"a GETSET of a large value's key in another table", [][][]byte{args("SELECT", "1"), args("GETSET", "big6", "v")}, false},
		{"a GETSET of a large value", [][][]byte{args("GETSET", "big6", "v")}, true},
	} {
		p := e.start(c, nil, nil, true)
		c.Multi = true
		c.Queue = tc.queue
		cmd, _ := e.resolve(args("EXEC"))
		p.submitExec(cmd, args("EXEC"))
		if got := p.held[0].IsHeavy(); got != tc.heavy {
			t.Errorf("EXEC of %s: heavy %v, want %v", tc.name, got, tc.heavy)
		}
		e.db.SubmitAll(p.held...)
		p.held[0].Wait()
		p.held = p.held[:0]
		p.drain()
		c.SetDB(0)
	}
	if !heavyWrite(mset(20), mset(20)) || heavyWrite(mset(10), mset(10)) {
		t.Error("heavyWrite does not add its commands' arguments up")
	}
}

// TestHeavyGoesToWriter: an event loop's submission holding a heavy write
// goes to the writer goroutine (SubmitAsync) instead of being applied on
// the loop's own goroutine (SubmitLead), so Engine.Submit returns while it
// runs and the loop goes on serving its other connections.
func TestHeavyGoesToWriter(t *testing.T) {
	e := newTestEngine(t)
	c := resp.NewClient(&fakeConn{}, 1)
	p := e.start(c, nil, nil, true)
	release := make(chan struct{})
	w := store.NewPending(func(*store.Tx) error { <-release; return nil })
	w.Heavy()
	p.held = append(p.held, w)
	returned := make(chan struct{})
	go func() { e.Submit([]*resp.Client{c}); close(returned) }()
	select {
	case <-returned:
	case <-time.After(10 * time.Second):
		t.Error("Submit did not return while the heavy write ran")
	}
	close(release)
	if err := w.Wait(); err != nil {
		t.Fatal(err)
	}
}
