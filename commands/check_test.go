package commands

import (
	"math/rand/v2"
	"testing"

	"github.com/digby-db/digby/resp"
)

// TestCheckRemembersName: check, which remembers the command named last by
// its bytes as sent, resolves every request as the table does, through
// runs of one name, case changes, subcommands, wrong arity, unknown names
// and names too long to remember, in random order; and what it remembers
// does not outlive a name it was not given.
func TestCheckRemembersName(t *testing.T) {
	e := newTestEngine(t)
	p := &pipeline{e: e, c: resp.NewClient(&fakeConn{}, 1)}
	reqs := [][]string{
		{"GET", "k"}, {"get", "k"}, {"GeT", "k"}, {"GET"}, {"GET", "a", "b"},
		{"SET", "k", "v"}, {"set", "k"}, {"CLIENT", "ID"}, {"client", "getname"},
		{"CLIENT", "NOPE"}, {"CLIENT"}, {"nosuch", "x"}, {"NOSUCH"},
		{"GETT", "k"}, {"GE", "k"}, {string(make([]byte, 40)), "k"}, {"PING"}, {"ping", "x", "y"},
		{"CONFIG", "GET", "save"}, {"config", "get"}, {"MGET", "a", "b", "c"}, {""},
	}
	r := rand.New(rand.NewPCG(1, 2))
	for i := range 5000 {
		req := reqs[r.IntN(len(reqs))]
		if r.IntN(3) > 0 && i > 0 {
			req = reqs[r.IntN(4)] // runs of one name, as pipelines send
		}
		args := make([][]byte, len(req))
		for j, a := range req {
			args[j] = []byte(a)
		}
		got, gotErr := p.check(args)
		want, wantErr := e.resolve(args)
		if got != want || gotErr != wantErr {
			t.Fatalf("request %d %q: check gave %v %q, the table %v %q", i, req, got, gotErr, want, wantErr)
		}
		if p.lastCmd != nil && p.lastCmd != e.lookup(p.lastName) {
			t.Fatalf("request %d: remembers %q as %s", i, p.lastName, p.lastCmd.name)
		}
	}
}
