package commands

import (
	"encoding/json"
	"fmt"

	"github.com/digby-db/digby/resp"
)

// node is a reply tree recorded from Redis 7 (see gen/gen.py): COMMAND INFO
// and COMMAND DOCS entries are replayed from it, in RESP2 or RESP3.
type node struct {
	kind string // "m" map, "a" array, "~" set, "b" bulk, "+" simple, "i" int, "_" null
	str  string
	num  int64
	kids []*node
}

func (n *node) UnmarshalJSON(b []byte) error {
	var raw [2]json.RawMessage
	if err := json.Unmarshal(b, &raw); err != nil {
		return fmt.Errorf("reply node: %w", err)
	}
	if err := json.Unmarshal(raw[0], &n.kind); err != nil {
		return fmt.Errorf("reply node kind: %w", err)
	}
	switch n.kind {
	case "m", "a", "~":
		return json.Unmarshal(raw[1], &n.kids)
	case "b", "+":
		return json.Unmarshal(raw[1], &n.str)
	case "i":
		return json.Unmarshal(raw[1], &n.num)
	case "_":
		return nil
	}
	return fmt.Errorf("reply node: unknown kind %q", n.kind)
}

// write encodes the tree.
func (n *node) write(w *resp.Writer) {
	switch n.kind {
	case "m":
		w.Map(len(n.kids) / 2)
	case "a":
		w.Array(len(n.kids))
	case "~":
		w.Set(len(n.kids))
	case "b":
		w.BulkString(n.str)
	case "+":
		w.Simple(n.str)
	case "i":
		w.Int(n.num)
	case "_":
		w.Null()
	}
	for _, k := range n.kids {
		k.write(w)
	}
}

// at returns the i-th child or an empty node.
func (n *node) at(i int) *node {
	if n == nil || i >= len(n.kids) {
		return &node{}
	}
	return n.kids[i]
}
