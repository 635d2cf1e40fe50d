package commands

import "time"

// expireGeneric implements EXPIRE, PEXPIRE, EXPIREAT and PEXPIREAT with
// NX, XX, GT and LT (Redis 7.0's expireGenericCommand).
func (x *Ctx) expireGeneric(seconds, absolute bool) error {
	var nx, xx, gt, lt bool
	for _, a := range x.args[3:] {
		switch {
		case eqFold(a, "nx"):
			nx = true
		case eqFold(a, "xx"):
			xx = true
		case eqFold(a, "gt"):
			gt = true
		case eqFold(a, "lt"):
			lt = true
		default:
			return replyError("ERR Unsupported option " + string(a))
		}
	}
	if nx && (xx || gt || lt) {
		return replyError("ERR NX and XX, GT or LT options at the same time are not compatible")
	}
	if gt && lt {
		return replyError("ERR GT and LT options at the same time are not compatible")
	}
	when, err := x.intArg(2)
	if err != nil {
		return err
	}
	bad := replyError("ERR invalid expire time in '" + lowerName(x.args[0]) + "' command")
	if seconds {
		if when > (1<<63-1)/1000 || when < (-1<<63)/1000 {
			return bad
		}
		when *= 1000
	}
	if !absolute {
		if when > 1<<63-1-x.now {
			return bad
		}
		when += x.now
	}
	t, ok, err := x.lookupMeta(x.db, x.args[1])
	if err != nil {
		return err
	}
	if !ok {
		x.w.Int(0)
		return nil
	}
	cur := t.ExpireAt // 0: none
	if (nx && cur != 0) || (xx && cur == 0) || (gt && (cur == 0 || when <= cur)) || (lt && cur != 0 && when >= cur) {
		x.w.Int(0)
		return nil
	}
	if when <= x.now {
		if _, err := x.del(x.db, x.args[1]); err != nil {
			return err
		}
		x.w.Int(1)
		return nil
	}
	if err := x.setExpire(x.db, x.args[1], when); err != nil {
		return err
	}
	x.w.Int(1)
	return nil
}

func cmdExpire(x *Ctx) error    { return x.expireGeneric(true, false) }
func cmdPExpire(x *Ctx) error   { return x.expireGeneric(false, false) }
func cmdExpireAt(x *Ctx) error  { return x.expireGeneric(true, true) }
func cmdPExpireAt(x *Ctx) error { return x.expireGeneric(false, true) }

// ttlGeneric answers TTL, PTTL, EXPIRETIME and PEXPIRETIME.
func (x *Ctx) ttlGeneric(ms, absolute bool) error {
	t, ok, err := x.lookupMeta(x.db, x.args[1])
	if err != nil {
		return err
	}
	switch {
	case !ok:
		x.w.Int(-2)
	case t.ExpireAt == 0:
		x.w.Int(-1)
	case absolute && ms:
		x.w.Int(t.ExpireAt)
	case absolute:
		x.w.Int(t.ExpireAt / 1000)
	default:
		left := t.ExpireAt - x.now
		if left < 0 {
			left = 0
		}
		if ms {
			x.w.Int(left)
		} else {
			x.w.Int((left + 500) / 1000)
		}
	}
	return nil
}

func cmdTTL(x *Ctx) error         { return x.ttlGeneric(false, false) }
func cmdPTTL(x *Ctx) error        { return x.ttlGeneric(true, false) }
func cmdExpireTime(x *Ctx) error  { return x.ttlGeneric(false, true) }
func cmdPExpireTime(x *Ctx) error { return x.ttlGeneric(true, true) }

func cmdPersist(x *Ctx) error {
	t, ok, err := x.lookupMeta(x.db, x.args[1])
	if err != nil {
		return err
	}
	if !ok || t.ExpireAt == 0 {
		x.w.Int(0)
		return nil
	}
	if err := x.setExpire(x.db, x.args[1], 0); err != nil {
		return err
	}
	x.w.Int(1)
	return nil
}

// expireBatch is how many due keys one active-expiry step deletes per table.
const expireBatch = 200

// ExpireCycle runs one step of active expiry in the writer: up to
// expireBatch due keys per table are deleted (the store re-checks each
// against its current expire-at) and their watchers touched. It reports
// whether some table may have more due keys. It is submitted heavy
// (store.DB.UpdateHeavy): a reader never waits for its deletes.
func (e *Engine) ExpireCycle() (more bool, err error) {
	err = e.db.UpdateHeavy(func(tx storeTx) error {
		now := time.Now().UnixMilli()
		tables, err := tx.Tables()
		if err != nil {
			return err
		}
		for _, n := range tables {
			t := tx.Table(n)
			if t.Expires() == 0 {
				continue
			}
			keys, err := t.ExpireDue(now, expireBatch)
			if err != nil {
				return err
			}
			for _, sk := range keys {
				e.watches.touch(int(n), userKey(sk))
			}
			e.stats.expired.Add(int64(len(keys)))
			if len(keys) >= expireBatch {
				more = true
			}
		}
		return nil
	})
	return more, err
}
