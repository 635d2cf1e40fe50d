package commands

import (
	"crypto/subtle"
	"strings"
	"time"
)

// RedisVersion is the Redis version digby answers as (HELLO, INFO).
const RedisVersion = "7.0.15"

func cmdPing(x *Ctx) error {
	switch len(x.args) {
	case 1:
		x.w.Simple("PONG")
	case 2:
		x.w.Bulk(x.args[1])
	default:
		return errArity("ping")
	}
	return nil
}

func cmdEcho(x *Ctx) error {
	x.w.Bulk(x.args[1])
	return nil
}

func cmdQuit(x *Ctx) error {
	x.w.OK()
	x.quit = true
	return nil
}

func cmdReset(x *Ctx) error {
	if x.c.Multi {
		x.c.Multi, x.c.MultiErr, x.c.Queue = false, false, nil
	}
	x.unwatchAll()
	x.c.SetDB(0)
	x.db = 0
	x.c.SetProto(2)
	x.w.Proto = 2
	x.c.SetName("")
	x.c.SetAuthed(false)
	x.w.Simple("RESET")
	return nil
}

// checkPassword compares with requirepass in constant time.
func (x *Ctx) checkPassword(user, pass []byte) bool {
	want := x.e.cfg.Get("requirepass")
	if want == "" {
		return string(user) == "default"
	}
	return string(user) == "default" && subtle.ConstantTimeCompare(pass, []byte(want)) == 1
}

const errWrongPass = replyError("WRONGPASS invalid username-password pair or user is disabled.")

func cmdAuth(x *Ctx) error {
	if len(x.args) > 3 {
		return errSyntax
	}
	user, pass := []byte("default"), x.args[1]
	if len(x.args) == 3 {
		user, pass = x.args[1], x.args[2]
	} else if x.e.cfg.Get("requirepass") == "" {
		return replyError("ERR AUTH <password> called without any password configured for the default user. Are you sure your configuration is correct?")
	}
	if !x.checkPassword(user, pass) {
		return errWrongPass
	}
	x.c.SetAuthed(true)
	x.w.OK()
	return nil
}

// validName reports whether a client or library name has only printable, non-space characters.
func validName(b []byte) bool {
	for _, c := range b {
		if c < '!' || c > '~' {
			return false
		}
	}
	return true
}

func cmdHello(x *Ctx) error {
	proto := int64(x.c.Proto())
	i := 1
	if len(x.args) > 1 {
		n, ok := parseInt(x.args[1])
		if !ok {
			return replyError("ERR Protocol version is not an integer or out of range")
		}
		if n < 2 || n > 3 {
			return replyError("NOPROTO unsupported protocol version")
		}
		proto = n
		i = 2
	}
	var name []byte
	authed := false
	for ; i < len(x.args); i++ {
		more := len(x.args) - i - 1
		switch {
		case eqFold(x.args[i], "auth") && more >= 2:
			if !x.checkPassword(x.args[i+1], x.args[i+2]) {
				return errWrongPass
			}
			authed = true
			i += 2
		case eqFold(x.args[i], "setname") && more >= 1:
			if !validName(x.args[i+1]) {
				return replyError("ERR Client names cannot contain spaces, newlines or special characters.")
			}
			name = x.args[i+1]
			i++
		default:
			return replyError("ERR Syntax error in HELLO option '" + x.arg(i) + "'")
		}
	}
	if authed {
		x.c.SetAuthed(true)
	}
	if x.e.authRequired(x.c) {
		return replyError("NOAUTH HELLO must be called with the client already authenticated, otherwise the HELLO <proto> AUTH <user> <pass> option can be used to authenticate the client and select the RESP protocol version at the same time")
	}
	if name != nil {
		x.c.SetName(string(name))
	}
	x.c.SetProto(int(proto))
	x.w.Proto = int(proto)
	x.w.Map(7)
	x.w.BulkString("server")
	x.w.BulkString("redis")
	x.w.BulkString("version")
	x.w.BulkString(RedisVersion)
	x.w.BulkString("proto")
	x.w.Int(proto)
	x.w.BulkString("id")
	x.w.Int(x.c.ID)
	x.w.BulkString("mode")
	x.w.BulkString("standalone")
	x.w.BulkString("role")
	x.w.BulkString("master")
	x.w.BulkString("modules")
	x.w.Array(0)
	return nil
}

func cmdSelect(x *Ctx) error {
	n, err := x.dbArg(1)
	if err != nil {
		return err
	}
	if err := x.checkDB(int64(n)); err != nil {
		return err
	}
	x.db = n
	x.c.SetDB(n)
	x.w.OK()
	return nil
}

func cmdClientID(x *Ctx) error {
	x.w.Int(x.c.ID)
	return nil
}

func cmdClientSetName(x *Ctx) error {
	if !validName(x.args[2]) {
		return replyError("ERR Client names cannot contain spaces, newlines or special characters.")
	}
	x.c.SetName(x.arg(2))
	x.w.OK()
	return nil
}

func cmdClientGetName(x *Ctx) error {
	if n := x.c.Name(); n != "" {
		x.w.BulkString(n)
	} else {
		x.w.Null()
	}
	return nil
}

func cmdClientSetInfo(x *Ctx) error {
	attr := lowerName(x.args[2])
	val := x.arg(3)
	if attr != "lib-name" && attr != "lib-ver" {
		return replyError("ERR Unrecognized option '" + x.arg(2) + "'")
	}
	if !validName(x.args[3]) {
		return replyError("ERR " + attr + " cannot contain spaces, newlines or special characters.")
	}
	if attr == "lib-name" {
		x.c.SetLib(&val, nil)
	} else {
		x.c.SetLib(nil, &val)
	}
	x.w.OK()
	return nil
}

func cmdClientList(x *Ctx) error {
	var ids map[int64]bool
	for i := 2; i < len(x.args); i++ {
		switch {
		case eqFold(x.args[i], "type") && i+1 < len(x.args):
			t := lowerName(x.args[i+1])
			if t != "normal" && t != "master" && t != "replica" && t != "slave" && t != "pubsub" {
				return replyError("ERR Unknown client type '" + x.arg(i+1) + "'")
			}
			if t != "normal" {
				ids = map[int64]bool{}
			}
			i++
		case eqFold(x.args[i], "id") && i+1 < len(x.args):
			if ids == nil {
				ids = map[int64]bool{}
			}
			for i++; i < len(x.args); i++ {
				n, ok := parseInt(x.args[i])
				if !ok || n <= 0 {
					return replyError("ERR Invalid client ID")
				}
				ids[n] = true
			}
		default:
			return errSyntax
		}
	}
	var b strings.Builder
	now := time.Now()
	for _, c := range x.e.clients() {
		if ids == nil || ids[c.ID] {
			b.WriteString(c.Info(now))
			b.WriteByte('\n')
		}
	}
	x.w.Verbatim(b.String())
	return nil
}

func cmdClientInfo(x *Ctx) error {
	x.w.Verbatim(x.c.Info(time.Now()) + "\n")
	return nil
}

func cmdClientKill(x *Ctx) error {
	clients := x.e.clients()
	if len(x.args) == 3 {
		for _, c := range clients {
			if c.Addr == x.arg(2) {
				x.killClient(c.ID)
				x.w.OK()
				return nil
			}
		}
		return replyError("ERR No such client")
	}
	var id int64
	var addr, laddr, typ string
	skipMe := true
	for i := 2; i < len(x.args); i += 2 {
		if i+1 >= len(x.args) {
			return errSyntax
		}
		v := x.arg(i + 1)
		switch {
		case eqFold(x.args[i], "id"):
			n, ok := parseInt(x.args[i+1])
			if !ok || n <= 0 {
				return replyError("ERR client-id should be greater than 0")
			}
			id = n
		case eqFold(x.args[i], "addr"):
			addr = v
		case eqFold(x.args[i], "laddr"):
			laddr = v
		case eqFold(x.args[i], "type"):
			typ = strings.ToLower(v)
		case eqFold(x.args[i], "user"):
			if v != "default" {
				return replyError("ERR No such user '" + v + "'")
			}
		case eqFold(x.args[i], "skipme"):
			switch strings.ToLower(v) {
			case "yes":
				skipMe = true
			case "no":
				skipMe = false
			default:
				return errSyntax
			}
		default:
			return errSyntax
		}
	}
	n := int64(0)
	for _, c := range clients {
		if (id != 0 && c.ID != id) || (addr != "" && c.Addr != addr) || (laddr != "" && c.LAddr != laddr) ||
			(typ != "" && typ != "normal") || (skipMe && c.ID == x.c.ID) {
			continue
		}
		x.killClient(c.ID)
		n++
	}
	x.w.Int(n)
	return nil
}

// killClient closes a client; the calling client is closed after its reply.
func (x *Ctx) killClient(id int64) {
	if id == x.c.ID {
		x.quit = true
		return
	}
	for _, c := range x.e.clients() {
		if c.ID == id {
			c.Kill()
		}
	}
}

func cmdClientOnOff(x *Ctx) error {
	if !eqFold(x.args[2], "on") && !eqFold(x.args[2], "off") {
		return errSyntax
	}
	x.w.OK()
	return nil
}

func cmdClientHelp(x *Ctx) error {
	return x.help("CLIENT", []string{
		"GETNAME",
		"    Return the name of the current connection.",
		"ID",
		"    Return the ID of the current connection.",
		"INFO",
		"    Return information about the current client connection.",
		"KILL <ip:port>",
		"    Kill connection made from <ip:port>.",
		"KILL <option> <value> [<option> <value> [...]]",
		"    Kill connections. Options are:",
		"    * ADDR (<ip:port>|<unixsocket>:0)",
		"      Kill connections made from the specified address",
		"    * LADDR (<ip:port>|<unixsocket>:0)",
		"      Kill connections made to specified local address",
		"    * TYPE (NORMAL|MASTER|REPLICA|PUBSUB)",
		"      Kill connections by type.",
		"    * USER <username>",
		"      Kill connections authenticated by <username>.",
		"    * SKIPME (YES|NO)",
		"      Skip killing current connection (default: yes).",
		"    * ID <client-id>",
		"      Kill connections by client id.",
		"LIST [options ...]",
		"    Return information about client connections. Options:",
		"    * TYPE (NORMAL|MASTER|REPLICA|PUBSUB)",
		"      Return clients of specified type.",
		"SETNAME <name>",
		"    Assign the name <name> to the current connection.",
		"NO-EVICT (ON|OFF)",
		"    Protect current client connection from eviction.",
		"NO-TOUCH (ON|OFF)",
		"    Will not touch LRU/LFU stats when this mode is on.",
	})
}
