package commands

import (
	"github.com/digby-db/digby/commands/glob"
)

func cmdCommand(x *Ctx) error {
	x.w.Array(len(x.e.tab.names))
	for _, n := range x.e.tab.names {
		x.e.tab.cmds[n].info.write(x.w)
	}
	return nil
}

func cmdCommandCount(x *Ctx) error {
	x.w.Int(int64(len(x.e.tab.names)))
	return nil
}

func cmdCommandList(x *Ctx) error {
	var pattern []byte
	if len(x.args) > 2 {
		if len(x.args) != 5 || !eqFold(x.args[2], "filterby") {
			return errSyntax
		}
		switch {
		case eqFold(x.args[3], "pattern"):
			pattern = x.args[4]
		case eqFold(x.args[3], "module"):
			x.w.Array(0)
			return nil
		case eqFold(x.args[3], "aclcat"):
			return x.listByCategory("@" + lowerName(x.args[4]))
		default:
			return errSyntax
		}
	}
	var out []string
	for _, n := range x.e.tab.names {
		c := x.e.tab.cmds[n]
		if pattern == nil || glob.Match(pattern, []byte(n), true) {
			out = append(out, n)
		}
		for _, sn := range sortedSubs(c) {
			full := c.subs[sn].name
			if pattern != nil && glob.Match(pattern, []byte(full), true) {
				out = append(out, full)
			}
		}
	}
	x.w.Array(len(out))
	for _, n := range out {
		x.w.BulkString(n)
	}
	return nil
}

func (x *Ctx) listByCategory(cat string) error {
	var out []string
	for _, n := range x.e.tab.names {
		for _, k := range x.e.tab.cmds[n].info.at(6).kids {
			if k.str == cat {
				out = append(out, n)
				break
			}
		}
	}
	x.w.Array(len(out))
	for _, n := range out {
		x.w.BulkString(n)
	}
	return nil
}

func cmdCommandInfo(x *Ctx) error {
	if len(x.args) == 2 {
		return cmdCommand(x)
	}
	x.w.Array(len(x.args) - 2)
	for _, a := range x.args[2:] {
		if c := x.e.tab.lookupFull(lowerName(a)); c != nil {
			c.info.write(x.w)
		} else {
			x.w.Null()
		}
	}
	return nil
}

func cmdCommandDocs(x *Ctx) error {
	var found []*command
	if len(x.args) == 2 {
		for _, n := range x.e.tab.names {
			found = append(found, x.e.tab.cmds[n])
		}
	} else {
		for _, a := range x.args[2:] {
			if c := x.e.tab.cmds[lowerName(a)]; c != nil && c.docs != nil {
				found = append(found, c)
			}
		}
	}
	x.w.Map(len(found))
	for _, c := range found {
		x.w.BulkString(c.name)
		c.docs.write(x.w)
	}
	return nil
}

func cmdCommandHelp(x *Ctx) error {
	return x.help("COMMAND", []string{
		"(no subcommand)",
		"    Return details about all Redis commands.",
		"COUNT",
		"    Return the total number of commands in this Redis server.",
		"LIST",
		"    Return a list of all commands in this Redis server.",
		"INFO [<command-name> ...]",
		"    Return details about multiple Redis commands.",
		"    If no command names are given, documentation details for all",
		"    commands are returned.",
		"DOCS [<command-name> ...]",
		"    Return documentation details about multiple Redis commands.",
		"    If no command names are given, documentation details for all",
		"    commands are returned.",
	})
}
