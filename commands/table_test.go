package commands

import "testing"

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
