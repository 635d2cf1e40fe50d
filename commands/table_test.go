package commands

import (
	"fmt"
	"testing"
)

func TestTableComplete(t *testing.T) {
	tab, err := newTable(handlers())
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"get", "set", "client|setinfo", "config|get", "command|docs"} {
		if tab.lookupFull(want) == nil {
			t.Errorf("%s missing", want)
		}
	}
	if c := tab.cmds["set"]; c.arity != -3 || !c.has("write") || c.first != 1 {
		t.Errorf("set metadata: %+v", c)
	}
}

// TestEachKey: the key arguments of writes, as the prefetch before a
// write finds them from the recorded key positions.
func TestEachKey(t *testing.T) {
	tab, err := newTable(handlers())
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		cmd  string
		args []string
		keys []string
	}{
		{"set", []string{"set", "k", "v", "EX", "10"}, []string{"k"}},
		{"mset", []string{"mset", "a", "1", "b", "2", "c", "3"}, []string{"a", "b", "c"}},
		{"del", []string{"del", "a", "b"}, []string{"a", "b"}},
		{"rename", []string{"rename", "from", "to"}, []string{"from", "to"}},
		{"incr", []string{"incr", "n"}, []string{"n"}},
		{"flushdb", []string{"flushdb"}, nil},
	} {
		var got []string
		tab.cmds[c.cmd].eachKey(toArgs(c.args), func(k []byte) { got = append(got, string(k)) })
		if fmt.Sprint(got) != fmt.Sprint(c.keys) {
			t.Errorf("%s: keys %q, want %q", c.args, got, c.keys)
		}
	}
}

func toArgs(s []string) [][]byte {
	out := make([][]byte, len(s))
	for i, a := range s {
		out[i] = []byte(a)
	}
	return out
}
