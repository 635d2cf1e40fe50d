package commands

import (
	"fmt"
	"path/filepath"
	"sort"
	"strconv"
	"time"

	"github.com/digby-db/digby/resp"
	"github.com/digby-db/digby/store"
)

func sortedSubs(c *command) []string {
	out := make([]string, 0, len(c.subs))
	for n := range c.subs {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}

func cmdTime(x *Ctx) error {
	now := time.Now()
	x.w.Array(2)
	x.w.BulkString(strconv.FormatInt(now.Unix(), 10))
	x.w.BulkString(strconv.FormatInt(int64(now.Nanosecond()/1000), 10))
	return nil
}

func cmdLastSave(x *Ctx) error {
	x.w.Int(x.e.lastSave.Load())
	return nil
}

// Save writes a compacted, verified copy of the database into the data
// directory (dbfilename). The store writes it to a temporary file and renames
// it into place, so the file is always a complete database file: copy it into
// an empty directory as digby.db to open it.
func (e *Engine) Save() error {
	name := e.cfg.Get("dbfilename")
	if name == "" || filepath.Base(name) != name {
		return fmt.Errorf("save: invalid dbfilename %q", name)
	}
	if err := e.db.Backup(filepath.Join(e.dir, name)); err != nil {
		return fmt.Errorf("save: %w", err)
	}
	e.lastSave.Store(time.Now().Unix())
	return nil
}

func cmdSave(x *Ctx) error {
	if !x.e.saving.CompareAndSwap(false, true) {
		return replyError("ERR Background save already in progress")
	}
	defer x.e.saving.Store(false)
	if err := x.e.Save(); err != nil {
		x.e.log("# %v", err)
		return replyError("ERR " + err.Error())
	}
	x.e.log("* DB saved on disk")
	x.w.OK()
	return nil
}

func cmdBgSave(x *Ctx) error {
	if len(x.args) > 2 || (len(x.args) == 2 && !eqFold(x.args[1], "schedule")) {
		return errSyntax
	}
	if !x.e.saving.CompareAndSwap(false, true) {
		return replyError("ERR Background save already in progress")
	}
	go func() {
		defer x.e.saving.Store(false)
		if err := x.e.Save(); err != nil {
			x.e.log("# Background saving error: %v", err)
			return
		}
		x.e.log("* Background saving terminated with success")
	}()
	x.w.Simple("Background saving started")
	return nil
}

func cmdShutdown(x *Ctx) error {
	for _, a := range x.args[1:] {
		if !eqFold(a, "nosave") && !eqFold(a, "save") && !eqFold(a, "now") && !eqFold(a, "force") && !eqFold(a, "abort") {
			return errSyntax
		}
		if eqFold(a, "abort") {
			return replyError("ERR No shutdown in progress.")
		}
	}
	x.e.log("# User requested shutdown...")
	x.quit = true
	x.e.shutdown()
	return nil
}

func cmdWait(x *Ctx) error {
	if _, ok := parseInt(x.args[1]); !ok {
		return errNotInt
	}
	t, ok := parseInt(x.args[2])
	if !ok {
		return replyError("ERR timeout is not an integer or out of range")
	}
	if t < 0 {
		return replyError("ERR timeout is negative")
	}
	x.w.Int(0)
	return nil
}

func cmdDebug(x *Ctx) error {
	switch {
	case eqFold(x.args[1], "sleep") && len(x.args) == 3:
		f, ok := parseFloat(x.args[2])
		if !ok {
			return errNotFloat
		}
		if f > 0 {
			time.Sleep(time.Duration(f * float64(time.Second)))
		}
		x.w.OK()
	case eqFold(x.args[1], "jmap"), eqFold(x.args[1], "set-active-expire"), eqFold(x.args[1], "quicklist-packed-threshold"):
		x.w.OK()
	default:
		return replyError("ERR unknown subcommand or wrong number of arguments for '" + x.arg(1) + "'. Try DEBUG HELP.")
	}
	return nil
}

func cmdFlushScripts(x *Ctx) error {
	if len(x.args) > 3 || (len(x.args) == 3 && !eqFold(x.args[2], "async") && !eqFold(x.args[2], "sync")) {
		if eqFold(x.args[0], "script") {
			return replyError("ERR SCRIPT FLUSH only support SYNC|ASYNC option")
		}
		return replyError("ERR FUNCTION FLUSH only supports SYNC|ASYNC option")
	}
	x.w.OK()
	return nil
}

func cmdFunctionHelp(x *Ctx) error {
	return x.help("FUNCTION", []string{"FLUSH [ASYNC|SYNC]", "    Deletes all libraries and functions (digby has none)."})
}

func cmdScriptHelp(x *Ctx) error {
	return x.help("SCRIPT", []string{"FLUSH [ASYNC|SYNC]", "    Flush the Lua scripts cache (digby has none)."})
}

// cmdExec runs the MULTI queue as one transaction of the writer: the watched
// keys are checked inside it, so nothing can change between check and run.
func cmdExec(x *Ctx) error {
	if !x.c.Multi {
		return replyError("ERR EXEC without MULTI")
	}
	queue, failed := x.c.Queue, x.c.MultiErr
	ws := x.session().watch
	defer x.endMulti()
	if failed {
		return replyError("EXECABORT Transaction discarded because of previous errors.")
	}
	if err := x.e.db.Failed(); err != nil && queueWrites(x.e, queue) {
		return replyError("EXECABORT Transaction discarded because of: " + misconf(err))
	}
	if x.tx != nil {
		// Submitted as a write by an asynchronous pipeline (submitExec):
		// already in the writer's transaction, with the connection
		// waiting for the reply.
		return x.execQueue(x.tx, x.w, queue, ws)
	}
	out := resp.Writer{Proto: x.c.Proto()}
	update := x.e.db.Update
	if x.e.heavyQueue(x.c.DB(), queue) {
		update = x.e.db.UpdateHeavy
	}
	if err := update(func(tx *store.Tx) error {
		out.Reset()
		return x.execQueue(tx, &out, queue, ws)
	}); err != nil {
		return err
	}
	x.w.Raw(out.B)
	return nil
}

// execQueue runs the MULTI queue in tx, replying to w, unless a watched
// key changed; a SELECT in the queue selects the table for the connection.
func (x *Ctx) execQueue(tx *store.Tx, w *resp.Writer, queue [][][]byte, ws *watchSet) error {
	y := &Ctx{e: x.e, c: x.c, w: w, tx: tx, db: x.c.DB(), now: nowMs(), exec: true}
	changed, err := y.watchedChanged(ws)
	if err != nil {
		return err
	}
	if changed {
		w.NullArray()
		return nil
	}
	w.Array(len(queue))
	for _, args := range queue {
		cmd, rejected := x.e.resolve(args)
		if cmd == nil {
			w.Error(rejected)
			continue
		}
		y.args = args
		mark := len(w.B)
		if err := safeRun(cmd.run, y); err != nil {
			w.Truncate(mark)
			w.Error(errorReply(err))
		}
		if y.quit {
			x.quit = true
			y.quit = false
		}
	}
	x.c.SetDB(y.db)
	return nil
}

func queueWrites(e *Engine, queue [][][]byte) bool {
	for _, args := range queue {
		if cmd, _ := e.resolve(args); cmd != nil && cmd.kind == kindWrite {
			return true
		}
	}
	return false
}
