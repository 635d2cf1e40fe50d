package commands

import (
	"math/big"
	"strconv"

	"github.com/digby-db/digby/store"
)

// maxString is the longest string a command may build: proto-max-bulk-len,
// and never past the store's value limit (a raised bulk limit must not let
// SETRANGE allocate a value the store then refuses).
func (x *Ctx) maxString() int64 { return min(x.e.cfg.MaxBulkLen(), store.MaxValueSize) }

var errTooBig = replyError("ERR string exceeds maximum allowed size (proto-max-bulk-len)")

func cmdGet(x *Ctx) error {
	t, ok, err := x.lookupString(x.db, x.args[1])
	if err != nil {
		return err
	}
	if !ok {
		x.w.Null()
		return nil
	}
	// A large value (its own buffer, read from overflow) is sent from
	// that buffer; a small one is copied into the reply.
	x.w.BulkRef(t.Value)
	return nil
}

// setOpts are SET's options.
type setOpts struct {
	nx, xx, get, keepTTL bool
	expireAt             int64
	hasExpire            bool
	unit                 string // ex, px, exat or pxat: expireAt is not parsed yet
	value                []byte
}

// resolveExpire parses the expire option's value (SET does it before looking
// the key up, GETEX after).
func (x *Ctx) resolveExpire(o *setOpts) error {
	if o.unit == "" {
		return nil
	}
	at, err := x.expireArg(o.value, o.unit == "ex" || o.unit == "exat", o.unit == "exat" || o.unit == "pxat")
	if err != nil {
		return err
	}
	o.expireAt, o.hasExpire = at, true
	return nil
}

// parseSetOpts parses SET's options from args[from:] (Redis's
// parseExtendedStringArgumentsOrReply): all options are checked for syntax
// before the expire value is parsed. getex selects GETEX's set of options.
func (x *Ctx) parseSetOpts(from int, getex bool) (setOpts, bool, error) {
	var o setOpts
	persist := false
	for i := from; i < len(x.args); i++ {
		a := x.args[i]
		next := i+1 < len(x.args)
		switch {
		case !getex && eqFold(a, "nx") && !o.xx:
			o.nx = true
		case !getex && eqFold(a, "xx") && !o.nx:
			o.xx = true
		case !getex && eqFold(a, "get"):
			o.get = true
		case !getex && eqFold(a, "keepttl") && o.unit == "":
			o.keepTTL = true
		case getex && eqFold(a, "persist") && o.unit == "":
			persist = true
		case (eqFold(a, "ex") || eqFold(a, "px") || eqFold(a, "exat") || eqFold(a, "pxat")) && !o.keepTTL && !persist && (o.unit == "" || eqFold(a, o.unit)) && next:
			// the same option may repeat (the last wins); different ones conflict
			o.unit, o.value = lowerName(a), x.args[i+1]
			i++
		default:
			return o, false, errSyntax
		}
	}
	return o, persist, nil
}

// expireArg converts SET/GETEX's expire argument to unix ms (Redis's
// getExpireMillisecondsOrReply).
func (x *Ctx) expireArg(arg []byte, seconds, absolute bool) (int64, error) {
	n, ok := parseInt(arg)
	if !ok {
		return 0, errNotInt
	}
	bad := replyError("ERR invalid expire time in '" + lowerName(x.args[0]) + "' command")
	if n <= 0 || (seconds && n > (1<<63-1)/1000) {
		return 0, bad
	}
	if seconds {
		n *= 1000
	}
	if !absolute {
		n += x.now
	}
	if n <= 0 {
		return 0, bad
	}
	return n, nil
}

func cmdSet(x *Ctx) error {
	o, _, err := x.parseSetOpts(3, false)
	if err != nil {
		return err
	}
	if err := x.resolveExpire(&o); err != nil {
		return err
	}
	return x.setGeneric(x.args[1], x.args[2], o)
}

func (x *Ctx) setGeneric(key, value []byte, o setOpts) error {
	var old []byte
	var t tuple
	var exists bool
	if o.nx || o.xx || o.get || o.keepTTL {
		// Only these options depend on the old value; a plain SET
		// overwrites whatever is there (of any type, as Redis does).
		var err error
		if old, t, exists, err = x.getStringForSet(key, o.get); err != nil {
			return err
		}
	}
	if (o.nx && exists) || (o.xx && !exists) {
		if o.get {
			x.replyOld(old, exists)
		} else {
			x.w.Null()
		}
		return nil
	}
	at := o.expireAt
	if o.keepTTL && exists {
		at = t.ExpireAt
	}
	if err := x.put(x.db, key, value, at); err != nil {
		return err
	}
	if o.get {
		x.replyOld(old, exists)
	} else {
		x.w.OK()
	}
	return nil
}

// getStringForSet looks the key up for SET: the type matters only with GET.
func (x *Ctx) getStringForSet(key []byte, get bool) ([]byte, tuple, bool, error) {
	if !get {
		// NX, XX and KEEPTTL need existence and the expiry, not the
		// value: no overflow read, no copy.
		t, ok, err := x.lookupMeta(x.db, key)
		return nil, tuple{ExpireAt: t.ExpireAt}, ok, err
	}
	t, ok, err := x.lookup(x.db, key)
	if err != nil || !ok {
		return nil, tuple{}, false, err
	}
	if get && t.Type != typeString {
		return nil, tuple{}, false, errWrongType
	}
	return append([]byte{}, t.Value...), tuple{ExpireAt: t.ExpireAt}, true, nil
}

func (x *Ctx) replyOld(old []byte, exists bool) {
	if exists {
		x.w.Bulk(old)
	} else {
		x.w.Null()
	}
}

func cmdSetNX(x *Ctx) error {
	_, ok, err := x.lookupMeta(x.db, x.args[1])
	if err != nil {
		return err
	}
	if ok {
		x.w.Int(0)
		return nil
	}
	if err := x.put(x.db, x.args[1], x.args[2], 0); err != nil {
		return err
	}
	x.w.Int(1)
	return nil
}

func cmdSetEX(x *Ctx) error  { return x.setEx(true) }
func cmdPSetEX(x *Ctx) error { return x.setEx(false) }

func (x *Ctx) setEx(seconds bool) error {
	at, err := x.expireArg(x.args[2], seconds, false)
	if err != nil {
		return err
	}
	if err := x.put(x.db, x.args[1], x.args[3], at); err != nil {
		return err
	}
	x.w.OK()
	return nil
}

func cmdGetSet(x *Ctx) error {
	return x.setGeneric(x.args[1], x.args[2], setOpts{get: true})
}

func cmdGetDel(x *Ctx) error {
	v, _, ok, err := x.getString(x.db, x.args[1])
	if err != nil {
		return err
	}
	if !ok {
		x.w.Null()
		return nil
	}
	if _, err := x.del(x.db, x.args[1]); err != nil {
		return err
	}
	x.w.Bulk(v)
	return nil
}

func cmdGetEx(x *Ctx) error {
	o, persist, err := x.parseSetOpts(2, true)
	if err != nil {
		return err
	}
	v, t, ok, err := x.getString(x.db, x.args[1])
	if err != nil {
		return err
	}
	if !ok {
		x.w.Null()
		return nil
	}
	if err := x.resolveExpire(&o); err != nil {
		return err
	}
	switch {
	case o.hasExpire && o.expireAt <= x.now:
		if _, err := x.del(x.db, x.args[1]); err != nil {
			return err
		}
	case o.hasExpire:
		if err := x.setExpire(x.db, x.args[1], o.expireAt); err != nil {
			return err
		}
	case persist && t.ExpireAt != 0:
		if err := x.setExpire(x.db, x.args[1], 0); err != nil {
			return err
		}
	}
	x.w.Bulk(v)
	return nil
}

func cmdMGet(x *Ctx) error {
	x.w.Array(len(x.args) - 1)
	for _, k := range x.args[1:] {
		t, ok, err := x.lookup(x.db, k)
		if err != nil {
			return err
		}
		if !ok || t.Type != typeString {
			x.w.Null()
			continue
		}
		x.w.BulkRef(t.Value) // a large value is its own buffer
	}
	return nil
}

func cmdMSet(x *Ctx) error {
	if len(x.args)%2 != 1 {
		return errArity(lowerName(x.args[0]))
	}
	for i := 1; i < len(x.args); i += 2 {
		if uint64(len(x.args[i])) > MaxKeyLen {
			return errKeyLong
		}
	}
	for i := 1; i < len(x.args); i += 2 {
		if err := x.put(x.db, x.args[i], x.args[i+1], 0); err != nil {
			return err
		}
	}
	x.w.OK()
	return nil
}

func cmdMSetNX(x *Ctx) error {
	if len(x.args)%2 != 1 {
		return errArity(lowerName(x.args[0]))
	}
	for i := 1; i < len(x.args); i += 2 {
		_, ok, err := x.lookupMeta(x.db, x.args[i])
		if err != nil {
			return err
		}
		if ok {
			x.w.Int(0)
			return nil
		}
	}
	for i := 1; i < len(x.args); i += 2 {
		if err := x.put(x.db, x.args[i], x.args[i+1], 0); err != nil {
			return err
		}
	}
	x.w.Int(1)
	return nil
}

func cmdIncr(x *Ctx) error { return x.incrBy(x.args[1], 1) }
func cmdDecr(x *Ctx) error { return x.incrBy(x.args[1], -1) }

func cmdIncrBy(x *Ctx) error {
	n, err := x.intArg(2)
	if err != nil {
		return err
	}
	return x.incrBy(x.args[1], n)
}

func cmdDecrBy(x *Ctx) error {
	n, err := x.intArg(2)
	if err != nil {
		return err
	}
	if n == -1<<63 {
		return replyError("ERR decrement would overflow")
	}
	return x.incrBy(x.args[1], -n)
}

func (x *Ctx) incrBy(key []byte, by int64) error {
	v, t, ok, err := x.getString(x.db, key)
	if err != nil {
		return err
	}
	var cur int64
	if ok {
		if cur, ok = parseInt(v); !ok {
			return errNotInt
		}
	}
	if (by < 0 && cur < 0 && by < -1<<63-cur) || (by > 0 && cur > 0 && by > 1<<63-1-cur) {
		return errOverflow
	}
	cur += by
	if err := x.put(x.db, key, strconv.AppendInt(nil, cur, 10), t.ExpireAt); err != nil {
		return err
	}
	x.w.Int(cur)
	return nil
}

func cmdIncrByFloat(x *Ctx) error {
	v, t, ok, err := x.getString(x.db, x.args[1])
	if err != nil {
		return err
	}
	cur := new(big.Float).SetPrec(longDoublePrec)
	if ok {
		if cur, ok = parseLongDouble(v); !ok {
			return errNotFloat
		}
	}
	by, ok := parseLongDouble(x.args[2])
	if !ok {
		return errNotFloat
	}
	if cur.IsInf() || by.IsInf() {
		return replyError("ERR increment would produce NaN or Infinity")
	}
	sum := new(big.Float).SetPrec(longDoublePrec).Add(cur, by)
	s := formatLongDouble(sum)
	if err := x.put(x.db, x.args[1], []byte(s), t.ExpireAt); err != nil {
		return err
	}
	x.w.BulkString(s)
	return nil
}

func cmdAppend(x *Ctx) error {
	t, ok, err := x.lookupStringMeta(x.db, x.args[1])
	if err != nil {
		return err
	}
	val := x.args[2]
	if int64(t.Len)+int64(len(val)) > x.maxString() {
		return errTooBig
	}
	if !ok {
		if err := x.put(x.db, x.args[1], val, 0); err != nil {
			return err
		}
		x.w.Int(int64(len(val)))
		return nil
	}
	n, err := x.writeRange(x.db, x.args[1], 0, true, val)
	if err != nil {
		return err
	}
	x.w.Int(int64(n))
	return nil
}

func cmdStrlen(x *Ctx) error {
	t, _, err := x.lookupStringMeta(x.db, x.args[1])
	if err != nil {
		return err
	}
	x.w.Int(int64(t.Len))
	return nil
}

func cmdGetRange(x *Ctx) error {
	start, err := x.intArg(2)
	if err != nil {
		return err
	}
	end, err := x.intArg(3)
	if err != nil {
		return err
	}
	t, ok, err := x.lookupStringMeta(x.db, x.args[1])
	if err != nil {
		return err
	}
	n := int64(t.Len)
	if start < 0 && end < 0 && start > end {
		x.w.BulkString("")
		return nil
	}
	if start < 0 {
		start += n
	}
	if end < 0 {
		end += n
	}
	if start < 0 {
		start = 0
	}
	if end < 0 {
		end = 0
	}
	if end >= n {
		end = n - 1
	}
	if !ok || start > end || n == 0 {
		x.w.BulkString("")
		return nil
	}
	v, err := x.readRange(x.db, x.args[1], uint64(start), uint64(end-start+1))
	if err != nil {
		return err
	}
	x.w.BulkRef(v) // of a large value, a buffer of its own
	return nil
}

func cmdSetRange(x *Ctx) error {
	off, err := x.intArg(2)
	if err != nil {
		return err
	}
	if off < 0 {
		return replyError("ERR offset is out of range")
	}
	t, ok, err := x.lookupStringMeta(x.db, x.args[1])
	if err != nil {
		return err
	}
	val := x.args[3]
	if len(val) == 0 {
		x.w.Int(int64(t.Len))
		return nil
	}
	if off+int64(len(val)) > x.maxString() {
		return errTooBig
	}
	if !ok {
		v := make([]byte, int(off)+len(val))
		copy(v[off:], val)
		if err := x.put(x.db, x.args[1], v, 0); err != nil {
			return err
		}
		x.w.Int(int64(len(v)))
		return nil
	}
	n, err := x.writeRange(x.db, x.args[1], uint64(off), false, val)
	if err != nil {
		return err
	}
	x.w.Int(int64(n))
	return nil
}

func lowerName(b []byte) string {
	out := make([]byte, len(b))
	for i, c := range b {
		if c >= 'A' && c <= 'Z' {
			c += 'a' - 'A'
		}
		out[i] = c
	}
	return string(out)
}

func eqFold(b []byte, s string) bool {
	if len(b) != len(s) {
		return false
	}
	for i := range b {
		c := b[i]
		if c >= 'A' && c <= 'Z' {
			c += 'a' - 'A'
		}
		if c != s[i] {
			return false
		}
	}
	return true
}
