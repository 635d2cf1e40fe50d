package commands

import (
	_ "embed"
	"encoding/json"
	"fmt"
	"sort"
	"strings"
)

//go:embed commands.json
var commandsJSON []byte

// kind says where a command runs.
type kind uint8

const (
	kindConn  kind = iota // connection or server state only, in the connection's goroutine
	kindRead              // on a read snapshot, after the connection's earlier writes
	kindWrite             // inside the writer's transaction (group commit)
)

// handler runs one command. An error return is a failure of the command as a
// whole: inside the writer it rolls the command back, and the client gets it
// as an error reply. Replies (including Redis error replies) go to x.w.
type handler func(x *Ctx) error

// command is one entry of the command table.
type command struct {
	name  string
	arity int
	flags map[string]bool
	first int
	last  int
	step  int
	kind  kind
	run   handler
	weigh weigher // see spec
	subs  map[string]*command
	info  *node
	docs  *node
}

func (c *command) has(flag string) bool { return c.flags[flag] }

// eachKey calls fn with each key argument of args, as COMMAND INFO's first
// key, last key (negative: from the end) and step place them.
func (c *command) eachKey(args [][]byte, fn func(key []byte)) {
	if c.first <= 0 {
		return
	}
	last := c.last
	if last < 0 {
		last += len(args)
	}
	for i := c.first; i <= last && i < len(args); i += max(c.step, 1) {
		fn(args[i])
	}
}

// arityOK reports whether argc arguments (the name included) fit the arity.
func (c *command) arityOK(argc int) bool {
	if c.arity >= 0 {
		return argc == c.arity
	}
	return argc >= -c.arity
}

// spec is what the code adds to the recorded Redis metadata.
type spec struct {
	kind  kind
	run   handler
	weigh weigher // a write heavy by what it does (heavy.go); nil for most
}

// table is the command table: recorded metadata joined with handlers.
type table struct {
	cmds  map[string]*command
	names []string
}

// newTable builds the command table; every recorded command must have a
// handler and every handler recorded metadata.
func newTable(specs map[string]spec) (*table, error) {
	var rec map[string]struct {
		Info *node `json:"info"`
		Docs *node `json:"docs"`
	}
	if err := json.Unmarshal(commandsJSON, &rec); err != nil {
		return nil, fmt.Errorf("command table: %w", err)
	}
	t := &table{cmds: map[string]*command{}}
	for name, r := range rec {
		c := fromInfo(r.Info)
		c.docs = r.Docs
		for _, sub := range r.Info.at(9).kids {
			sc := fromInfo(sub)
			c.subs[strings.TrimPrefix(sc.name, name+"|")] = sc
		}
		t.cmds[name] = c
		t.names = append(t.names, name)
	}
	if err := addExtras(t); err != nil {
		return nil, err
	}
	for full, s := range specs {
		c := t.lookupFull(full)
		if c == nil {
			return nil, fmt.Errorf("command table: %s has a handler but no recorded metadata", full)
		}
		c.kind, c.run, c.weigh = s.kind, s.run, s.weigh
	}
	for _, name := range t.names {
		c := t.cmds[name]
		if c.run == nil && len(c.subs) == 0 {
			return nil, fmt.Errorf("command table: %s has no handler", name)
		}
		for sn, sc := range c.subs {
			if sc.run == nil {
				return nil, fmt.Errorf("command table: %s|%s has no handler", name, sn)
			}
		}
	}
	sort.Strings(t.names)
	return t, nil
}

// lookupFull finds "name" or "name|sub".
func (t *table) lookupFull(full string) *command {
	name, sub, isSub := strings.Cut(full, "|")
	c := t.cmds[name]
	if c == nil || !isSub {
		return c
	}
	return c.subs[sub]
}

func fromInfo(n *node) *command {
	c := &command{
		info:  n,
		name:  n.at(0).str,
		arity: int(n.at(1).num),
		flags: map[string]bool{},
		first: int(n.at(3).num),
		last:  int(n.at(4).num),
		step:  int(n.at(5).num),
		subs:  map[string]*command{},
	}
	for _, f := range n.at(2).kids {
		c.flags[f.str] = true
	}
	return c
}

// extras are commands newer than the recorded Redis 7.0 that clients send
// anyway: go-redis v9 opens with CLIENT SETINFO (Redis 7.2).
const extras = `{
"client|setinfo": {
 "info": ["a",[["b","client|setinfo"],["i",4],["~",[["+","noscript"],["+","loading"],["+","stale"]]],["i",0],["i",0],["i",0],["~",[["+","@slow"],["+","@connection"]]],["~",[["b","request_policy:all_nodes"],["b","response_policy:all_succeeded"]]],["~",[]],["~",[]]]],
 "docs": ["m",[["b","summary"],["b","Sets information specific to the client or connection."],["b","since"],["b","7.2.0"],["b","group"],["b","connection"],["b","complexity"],["b","O(1)"],["b","arguments"],["a",[["m",[["b","name"],["b","attr"],["b","type"],["b","oneof"],["b","arguments"],["a",[["m",[["b","name"],["b","libname"],["b","type"],["b","string"],["b","token"],["b","LIB-NAME"]]],["m",[["b","name"],["b","libver"],["b","type"],["b","string"],["b","token"],["b","LIB-VER"]]]]]]]]]]]
},
"client|no-touch": {
 "info": ["a",[["b","client|no-touch"],["i",3],["~",[["+","noscript"],["+","loading"],["+","stale"]]],["i",0],["i",0],["i",0],["~",[["+","@slow"],["+","@connection"]]],["~",[]],["~",[]],["~",[]]]],
 "docs": ["m",[["b","summary"],["b","Controls whether commands sent by the client affect the LRU/LFU of accessed keys."],["b","since"],["b","7.2.0"],["b","group"],["b","connection"],["b","complexity"],["b","O(1)"],["b","arguments"],["a",[["m",[["b","name"],["b","enabled"],["b","type"],["b","oneof"],["b","arguments"],["a",[["m",[["b","name"],["b","on"],["b","type"],["b","pure-token"],["b","token"],["b","ON"]]],["m",[["b","name"],["b","off"],["b","type"],["b","pure-token"],["b","token"],["b","OFF"]]]]]]]]]]]
}}`

// addExtras adds the extra subcommands to their parents' metadata.
func addExtras(t *table) error {
	var rec map[string]struct {
		Info *node `json:"info"`
		Docs *node `json:"docs"`
	}
	if err := json.Unmarshal([]byte(extras), &rec); err != nil {
		return fmt.Errorf("command table extras: %w", err)
	}
	for full, r := range rec {
		name, sub, _ := strings.Cut(full, "|")
		parent := t.cmds[name]
		if parent == nil || parent.subs[sub] != nil {
			continue
		}
		sc := fromInfo(r.Info)
		parent.subs[sub] = sc
		parent.info.kids[9].kids = append(parent.info.kids[9].kids, r.Info)
		addSubDocs(parent.docs, full, r.Docs)
	}
	return nil
}

// addSubDocs appends a subcommand's docs to its parent's "subcommands" map.
func addSubDocs(docs *node, full string, sub *node) {
	if docs == nil {
		return
	}
	for i := 0; i+1 < len(docs.kids); i += 2 {
		if docs.kids[i].str == "subcommands" {
			m := docs.kids[i+1]
			m.kids = append(m.kids, &node{kind: "b", str: full}, sub)
			return
		}
	}
}
