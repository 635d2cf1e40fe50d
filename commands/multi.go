package commands

import (
	"github.com/digby-db/digby/store"
)

func cmdMulti(x *Ctx) error {
	if x.c.Multi {
		return replyError("ERR MULTI calls can not be nested")
	}
	x.c.Multi, x.c.MultiErr, x.c.Queue = true, false, nil
	x.w.OK()
	return nil
}

func cmdDiscard(x *Ctx) error {
	if !x.c.Multi {
		return replyError("ERR DISCARD without MULTI")
	}
	x.endMulti()
	x.w.OK()
	return nil
}

// endMulti leaves MULTI state and drops the watches.
func (x *Ctx) endMulti() {
	x.c.Multi, x.c.MultiErr, x.c.Queue = false, false, nil
	x.unwatchAll()
}

func (x *Ctx) session() *session {
	s, _ := x.c.Session.(*session)
	if s == nil {
		s = &session{}
		x.c.Session = s
	}
	return s
}

func (x *Ctx) unwatchAll() {
	s := x.session()
	x.e.watches.unwatch(s.watch)
	s.watch = nil
}

func cmdWatch(x *Ctx) error {
	if x.c.Multi {
		return replyError("ERR WATCH inside MULTI is not allowed")
	}
	s := x.session()
	start := 0
	if s.watch != nil {
		start = len(s.watch.keys)
	}
	for _, k := range x.args[1:] {
		s.watch = x.e.watches.watch(s.watch, x.db, k)
	}
	// record the versions seen now: a write in flight while we registered
	// changes the version, so EXEC sees it even without a touch
	err := x.e.db.View(func(tx *store.Tx) error {
		y := *x
		y.tx = tx
		y.now = nowMs()
		for i := start; i < len(s.watch.keys); i++ {
			k := &s.watch.keys[i]
			t, ok, err := y.lookup(k.db, k.key)
			if err != nil {
				return err
			}
			if ok {
				k.version = t.Version
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	x.w.OK()
	return nil
}

func cmdUnwatch(x *Ctx) error {
	x.unwatchAll()
	x.w.OK()
	return nil
}

// watchedChanged is checked by EXEC inside the writer.
func (x *Ctx) watchedChanged(ws *watchSet) (bool, error) {
	if ws == nil {
		return false, nil
	}
	if ws.dirty.Load() {
		return true, nil
	}
	for _, k := range ws.keys {
		t, ok, err := x.lookupMeta(k.db, k.key)
		if err != nil {
			return false, err
		}
		var v uint64
		if ok {
			v = t.Version
		}
		if v != k.version {
			return true, nil
		}
	}
	return false, nil
}
