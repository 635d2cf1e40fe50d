package commands

import (
	"math"
)

func cmdDel(x *Ctx) error {
	return x.countKeys(func(k []byte) (bool, error) { return x.del(x.db, k) })
}

// cmdExists counts the arguments that name live keys (EXISTS, TOUCH).
func cmdExists(x *Ctx) error {
	return x.countKeys(func(k []byte) (bool, error) {
		_, ok, err := x.lookupMeta(x.db, k)
		return ok, err
	})
}

// countKeys replies with the number of key arguments for which f is true.
func (x *Ctx) countKeys(f func(key []byte) (bool, error)) error {
	var n int64
	for _, k := range x.args[1:] {
		ok, err := f(k)
		if err != nil {
			return err
		}
		if ok {
			n++
		}
	}
	x.w.Int(n)
	return nil
}

func cmdType(x *Ctx) error {
	t, ok, err := x.lookupMeta(x.db, x.args[1])
	if err != nil {
		return err
	}
	x.w.Simple(typeName(t, ok))
	return nil
}

func typeName(t tuple, ok bool) string {
	if !ok {
		return "none"
	}
	if t.Type == typeString {
		return "string"
	}
	return "unknown"
}

func cmdRename(x *Ctx) error   { return x.rename(false) }
func cmdRenameNX(x *Ctx) error { return x.rename(true) }

func (x *Ctx) rename(nx bool) error {
	src, dst := x.args[1], x.args[2]
	t, ok, err := x.lookup(x.db, src)
	if err != nil {
		return err
	}
	if !ok {
		return errNoKey
	}
	if string(src) == string(dst) {
		if nx {
			x.w.Int(0)
		} else {
			x.w.OK()
		}
		return nil
	}
	if nx {
		_, exists, err := x.lookupMeta(x.db, dst)
		if err != nil {
			return err
		}
		if exists {
			x.w.Int(0)
			return nil
		}
	}
	val, exp := append([]byte{}, t.Value...), t.ExpireAt
	if _, err := x.del(x.db, src); err != nil {
		return err
	}
	if err := x.put(x.db, dst, val, exp); err != nil {
		return err
	}
	if nx {
		x.w.Int(1)
	} else {
		x.w.OK()
	}
	return nil
}

// dbArg parses a DB index argument as Redis's getIntFromObject (a C int).
func (x *Ctx) dbArg(i int) (int, error) {
	n, ok := parseInt(x.args[i])
	if !ok {
		return 0, errNotInt
	}
	if n < math.MinInt32 || n > math.MaxInt32 {
		return 0, replyError("ERR value is out of range, value must between -2147483648 and 2147483647")
	}
	return int(n), nil
}

func cmdCopy(x *Ctx) error {
	dstDB, replace := x.db, false
	for i := 3; i < len(x.args); i++ {
		switch {
		case eqFold(x.args[i], "replace"):
			replace = true
		case eqFold(x.args[i], "db") && i+1 < len(x.args):
			n, err := x.dbArg(i + 1)
			if err != nil {
				return err
			}
			if err := x.checkDB(int64(n)); err != nil {
				return err
			}
			dstDB = n
			i++
		default:
			return errSyntax
		}
	}
	src, dst := x.args[1], x.args[2]
	if dstDB == x.db && string(src) == string(dst) {
		return replyError("ERR source and destination objects are the same")
	}
	copied, err := x.copyKey(src, dstDB, dst, replace)
	if err != nil {
		return err
	}
	x.w.Int(boolInt64(copied))
	return nil
}

// copyKey copies src of the current table, with its expiry, to dst in table
// dstDB, unless src is missing or dst exists and replace is false.
func (x *Ctx) copyKey(src []byte, dstDB int, dst []byte, replace bool) (bool, error) {
	t, ok, err := x.lookup(x.db, src)
	if err != nil || !ok {
		return false, err
	}
	val, exp := append([]byte{}, t.Value...), t.ExpireAt
	_, exists, err := x.lookupMeta(dstDB, dst)
	if err != nil || (exists && !replace) {
		return false, err
	}
	return true, x.put(dstDB, dst, val, exp)
}

func cmdMove(x *Ctx) error {
	n, err := x.dbArg(2)
	if err != nil {
		return err
	}
	if err := x.checkDB(int64(n)); err != nil {
		return err
	}
	if n == x.db {
		return replyError("ERR source and destination objects are the same")
	}
	moved, err := x.copyKey(x.args[1], n, x.args[1], false)
	if err != nil {
		return err
	}
	if moved {
		if _, err := x.del(x.db, x.args[1]); err != nil {
			return err
		}
	}
	x.w.Int(boolInt64(moved))
	return nil
}

func boolInt64(v bool) int64 {
	if v {
		return 1
	}
	return 0
}

// dbsizePurge bounds the due keys DBSIZE deletes before it counts.
const dbsizePurge = 10000

// cmdDBSize runs in the writer: it first deletes due keys (a bounded
// number), so that keys past their expiry are not counted.
func cmdDBSize(x *Ctx) error {
	t := x.table(x.db)
	if t.Expires() > 0 {
		keys, err := t.ExpireDue(x.now, dbsizePurge)
		if err != nil {
			return err
		}
		for _, sk := range keys {
			x.e.watches.touch(x.db, userKey(sk))
		}
		x.e.stats.expired.Add(int64(len(keys)))
	}
	x.w.Int(int64(t.Count()))
	return nil
}

// flushMode validates FLUSHDB/FLUSHALL's optional ASYNC|SYNC.
func (x *Ctx) flushMode() error {
	if len(x.args) > 2 || (len(x.args) == 2 && !eqFold(x.args[1], "async") && !eqFold(x.args[1], "sync")) {
		return errSyntax
	}
	return nil
}

func cmdFlushDB(x *Ctx) error {
	if err := x.flushMode(); err != nil {
		return err
	}
	if err := x.tx.ClearTable(uint32(x.db)); err != nil {
		return err
	}
	x.w.OK()
	return nil
}

func cmdFlushAll(x *Ctx) error {
	if err := x.flushMode(); err != nil {
		return err
	}
	tables, err := x.tx.Tables()
	if err != nil {
		return err
	}
	for _, n := range tables {
		if err := x.tx.ClearTable(n); err != nil {
			return err
		}
	}
	x.w.OK()
	return nil
}

func cmdSwapDB(x *Ctx) error {
	a, err := x.dbArg(1)
	if err != nil {
		return replyError("ERR invalid first DB index")
	}
	b, err := x.dbArg(2)
	if err != nil {
		return replyError("ERR invalid second DB index")
	}
	if x.checkDB(int64(a)) != nil || x.checkDB(int64(b)) != nil {
		return errDBRange
	}
	if a != b {
		if err := x.tx.SwapTables(uint32(a), uint32(b)); err != nil {
			return err
		}
	}
	x.w.OK()
	return nil
}

// embstrMax is the longest string Redis stores as an embstr.
const embstrMax = 44

func cmdObject(x *Ctx) error {
	sub := lowerName(x.args[1])
	// Only a short value's bytes matter (an integer, an embstr); a long
	// one is "raw" by its length, and is not read (Value stays nil).
	t, ok, err := x.lookupMeta(x.db, x.args[2])
	if err == nil && ok && t.Len <= embstrMax && (sub == "encoding" || sub == "refcount") {
		t, ok, err = x.lookup(x.db, x.args[2])
	}
	if err != nil {
		return err
	}
	if sub == "freq" && ok {
		return replyError("ERR An LFU maxmemory policy is not selected, access frequency not tracked. Please note that when switching between policies at runtime LRU and LFU data will take some time to adjust.")
	}
	if !ok {
		x.w.Null()
		return nil
	}
	n, isInt := parseInt(t.Value)
	switch sub {
	case "encoding":
		switch {
		case isInt:
			x.w.BulkString("int")
		case t.Len <= embstrMax:
			x.w.BulkString("embstr")
		default:
			x.w.BulkString("raw")
		}
	case "refcount":
		if isInt && n >= 0 && n < 10000 {
			x.w.Int(math.MaxInt32)
		} else {
			x.w.Int(1)
		}
	default: // idletime: access times are not tracked
		x.w.Int(0)
	}
	return nil
}

func cmdObjectHelp(x *Ctx) error {
	return x.help("OBJECT", []string{
		"ENCODING <key>",
		"    Return the kind of internal representation used in order to store the value",
		"    associated with a <key>.",
		"FREQ <key>",
		"    Return the access frequency index of the <key>. The returned integer is",
		"    proportional to the logarithm of the recent access frequency of the key.",
		"IDLETIME <key>",
		"    Return the idle time of the <key>, that is the approximated number of",
		"    seconds elapsed since the last access to the key.",
		"REFCOUNT <key>",
		"    Return the number of references of the value associated with the specified",
		"    <key>.",
	})
}

// help writes a HELP reply as Redis's addReplyHelp does.
func (x *Ctx) help(name string, lines []string) error {
	x.w.Array(len(lines) + 2)
	x.w.Simple(name + " <subcommand> [<arg> [value] [opt] ...]. Subcommands are:")
	for _, l := range lines {
		x.w.Simple(l)
	}
	x.w.Simple("HELP")
	x.w.Simple("    Print this help.")
	return nil
}
