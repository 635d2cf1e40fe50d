package commands

import (
	"bytes"
	"fmt"
	"strings"
	"time"

	"github.com/digby-db/digby/resp"
	"github.com/digby-db/digby/store"
	"github.com/tidwall/redcon"
)

// session is the command layer's per-connection state.
type session struct {
	watch *watchSet
}

// slot is the reply of a write submitted to the writer and not yet waited for.
type slot struct {
	w    resp.Writer
	wait *store.Pending
}

// pipeline runs one batch of a connection's commands in order: writes are
// submitted to the writer without waiting (so a pipeline commits as one
// batch); anything else first waits for those writes, then runs.
type pipeline struct {
	e     *Engine
	c     *resp.Client
	slots []*slot
}

// Serve implements resp.Handler.
func (e *Engine) Serve(c *resp.Client, cmd redcon.Command) {
	if c.Session == nil {
		c.Session = &session{}
	}
	p := &pipeline{e: e, c: c}
	p.run(cmd.Args)
	for _, cmd := range c.Conn().ReadPipeline() {
		if c.Closed() {
			break
		}
		p.run(cmd.Args)
	}
	p.drain()
}

// drain waits for the submitted writes and sends their replies in order.
func (p *pipeline) drain() {
	for _, s := range p.slots {
		if s.wait != nil {
			if err := s.wait.Wait(); err != nil {
				s.w.Reset()
				s.w.Error(errorReply(err))
			}
		}
		p.c.Conn().WriteRaw(s.w.B)
	}
	p.slots = p.slots[:0]
}

// reply sends the reply of a command run in the connection's goroutine.
func (p *pipeline) reply(w *resp.Writer) { p.c.Conn().WriteRaw(w.B) }

// unknownCommand formats Redis 7's error for a command it does not know.
func unknownCommand(args [][]byte) string {
	var b strings.Builder
	for _, a := range args[1:] {
		if b.Len() >= 128 {
			break
		}
		room := 128 - b.Len()
		s := string(a)
		if i := strings.IndexByte(s, 0); i >= 0 {
			s = s[:i]
		}
		if len(s) > room {
			s = s[:room]
		}
		b.WriteString("'" + s + "' ")
	}
	name := string(args[0])
	if i := strings.IndexByte(name, 0); i >= 0 {
		name = name[:i]
	}
	if len(name) > 128 {
		name = name[:128]
	}
	return fmt.Sprintf("ERR unknown command '%s', with args beginning with: %s", name, b.String())
}

// resolve finds the command (or subcommand) for args, or the error to answer.
func (e *Engine) resolve(args [][]byte) (*command, string) {
	name := strings.ToLower(string(args[0]))
	cmd := e.tab.cmds[name]
	if cmd == nil {
		return nil, unknownCommand(args)
	}
	if len(cmd.subs) == 0 {
		if !cmd.arityOK(len(args)) {
			return nil, string(errArity(name))
		}
		return cmd, ""
	}
	if len(args) < 2 {
		if cmd.run != nil && cmd.arityOK(len(args)) {
			return cmd, "" // COMMAND alone
		}
		return nil, string(errArity(name))
	}
	sub := cmd.subs[strings.ToLower(string(args[1]))]
	if sub == nil {
		return nil, fmt.Sprintf("ERR unknown subcommand '%.128s'. Try %s HELP.", args[1], strings.ToUpper(name))
	}
	if !sub.arityOK(len(args)) {
		return nil, string(errArity(sub.name))
	}
	return sub, ""
}

// run executes one command of the pipeline.
func (p *pipeline) run(args [][]byte) {
	if len(args) == 0 {
		return
	}
	e, c := p.e, p.c
	e.stats.commands.Add(1)
	cmd, rejected := e.resolve(args)
	if cmd != nil {
		c.Touch(cmd.name, time.Now())
	}
	if rejected == "" && e.authRequired(c) && !cmd.has("no_auth") {
		rejected = "NOAUTH Authentication required."
	}
	if c.Multi && (cmd == nil || !isTxControl(cmd.name)) {
		p.drain()
		w := resp.NewWriter(c.Proto())
		switch {
		case rejected != "":
			c.MultiErr = true
			w.Error(rejected)
		case cmd.has("no_multi"):
			c.MultiErr = true
			w.Error("ERR Command not allowed inside a transaction")
		default:
			c.Queue = append(c.Queue, args)
			w.Simple("QUEUED")
		}
		p.reply(w)
		return
	}
	if rejected != "" {
		p.drain()
		w := resp.NewWriter(c.Proto())
		w.Error(rejected)
		p.reply(w)
		return
	}
	switch cmd.kind {
	case kindWrite:
		p.submit(cmd, args)
	case kindRead:
		p.drain()
		p.view(cmd, args)
	default:
		p.drain()
		x := &Ctx{e: e, c: c, args: args, w: resp.NewWriter(c.Proto()), db: c.DB(), now: nowMs()}
		if err := safeRun(cmd.run, x); err != nil {
			x.w.Reset()
			x.w.Error(errorReply(err))
		}
		p.reply(x.w)
		if x.quit {
			c.Close()
		}
	}
}

func isTxControl(name string) bool {
	switch name {
	case "exec", "discard", "multi", "watch", "quit", "reset":
		return true
	}
	return false
}

// authRequired reports whether c must still authenticate.
func (e *Engine) authRequired(c *resp.Client) bool {
	return !c.Authed() && e.cfg.Get("requirepass") != ""
}

// submit queues a write to the writer; its reply is sent by drain.
func (p *pipeline) submit(cmd *command, args [][]byte) {
	s := &slot{w: resp.Writer{Proto: p.c.Proto()}}
	p.slots = append(p.slots, s)
	if err := p.e.db.Failed(); err != nil {
		s.w.Error(misconf(err))
		return
	}
	db, c, e := p.c.DB(), p.c, p.e
	s.wait = e.db.Submit(func(tx *store.Tx) error {
		x := &Ctx{e: e, c: c, args: args, w: &s.w, tx: tx, db: db, now: nowMs()}
		return safeRun(cmd.run, x)
	})
}

// view runs a read command on a snapshot.
func (p *pipeline) view(cmd *command, args [][]byte) {
	x := &Ctx{e: p.e, c: p.c, args: args, w: resp.NewWriter(p.c.Proto()), db: p.c.DB(), now: nowMs()}
	err := p.e.db.View(func(tx *store.Tx) error {
		x.tx = tx
		return safeRun(cmd.run, x)
	})
	if err != nil {
		x.w.Reset()
		x.w.Error(errorReply(err))
	}
	p.reply(x.w)
}

// safeRun runs a handler, turning a panic into an error so that one bad
// command never takes the server down.
func safeRun(h handler, x *Ctx) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("panic in %s: %v", bytes.ToLower(x.args[0]), r)
		}
	}()
	return h(x)
}
