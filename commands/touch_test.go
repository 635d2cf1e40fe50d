package commands

import (
	"testing"

	"github.com/digby-db/digby/resp"
)

// TestTouchKeysContainsPanics: the read walk before a run of reads is only
// a hint, so a panic inside it fails no command: here it is given no
// transaction (the store's Table.Touch then dereferences nil) and must
// return quietly.
func TestTouchKeysContainsPanics(t *testing.T) {
	e := newTestEngine(t)
	c := resp.NewClient(&fakeConn{}, 1)
	defer e.Closed(c)
	p := &pipeline{e: e, c: c, cmds: [][][]byte{{[]byte("GET"), []byte("a")}, {[]byte("MGET"), []byte("b"), []byte("c")}}}
	get, rejected := p.check(p.cmds[0])
	mget, rejected2 := p.check(p.cmds[1])
	if rejected != "" || rejected2 != "" {
		t.Fatalf("GET/MGET rejected: %q %q", rejected, rejected2)
	}
	p.touchKeys(nil, 0, []*command{get, mget})
}
