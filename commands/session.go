package commands

import (
	"bytes"
	"fmt"
	"slices"
	"strings"
	"sync/atomic"
	"time"

	"github.com/digby-db/digby/resp"
	"github.com/digby-db/digby/store"
	"github.com/tidwall/redcon"
)

// session is the command layer's per-connection state.
type session struct {
	watch *watchSet
	p     pipeline // reused by each Serve of the connection
}

// slot is the reply of a write submitted to the writer and not yet waited
// for. It holds the command's context so that one allocation covers it.
type slot struct {
	w    resp.Writer
	x    Ctx
	cmd  *command
	wait *store.Pending
	run  func(*store.Tx) error // apply, bound once per slot (a method value allocates)
	buf  [16]byte              // room for short replies (+OK, :n) without a second allocation
	key  []byte                // the stored key hinted to the writer (store.Pending.Hint)
	// more: the stored keys after the first that a multi-key write hints
	// (store.Pending.HintMore), slices of moreBuf, each ending at its
	// entry of moreEnds.
	more     [][]byte
	moreBuf  []byte
	moreEnds []int
}

// maxHintMore is how many keys after the first a write hints: a DEL of
// thousands of keys need not have them all loaded ahead of its turn.
const maxHintMore = 32

// maxHintKey is the longest key a write hints to the writer: the longest
// whose stored key (hash and key) is its own tree key, which the writer
// need not hash again (store.KeyPrefixSize). Longer ones are rare.
const maxHintKey = store.KeyPrefixSize - hashLen

// apply runs the slot's command inside the writer's transaction.
func (s *slot) apply(tx *store.Tx) error {
	s.x.tx = tx
	return safeRun(s.cmd.run, &s.x)
}

// pipeline runs one batch of a connection's commands in order: writes are
// submitted to the writer without waiting (so a pipeline commits as one
// batch); anything else first waits for those writes, then runs. Consecutive
// reads share one snapshot.
type pipeline struct {
	e       *Engine
	c       *resp.Client
	slots   []*slot
	free    []*slot          // slots whose writes have been answered, for reuse
	held    []*store.Pending // writes prepared by submit, not yet given to the store
	cmds    [][][]byte       // the commands of the batch
	reads   []*command       // the run of reads being served on one snapshot
	w       resp.Writer
	x       Ctx
	now     time.Time          // when the batch started (CLIENT LIST's idle time)
	touch   store.TouchScratch // for touch
	tkeys   [][]byte           // touchKeys' keys: slices of tbuf
	tbuf    []byte
	tends   []int
	tstarts []int // where each read's keys start in tkeys
	// lastCmd is the command named lastName (as sent) last: check.
	lastCmd  *command
	lastName []byte

	// next is the command an asynchronous pipeline goes on with (serve).
	next  int
	async bool
	// barrier: an EXEC was submitted (submitExec); the next command waits.
	barrier bool
	// outstanding counts the submissions settle gave the writer that are
	// not answered yet; wake is answered, which counts them down.
	outstanding atomic.Int32
	wake        func()
}

// maxRememberedName bounds the name check remembers (command names are
// short; a long unknown one is not looked up by bytes).
const maxRememberedName = 32

// Serve implements resp.Handler.
func (e *Engine) Serve(c *resp.Client, cmd redcon.Command) {
	e.start(c, cmd.Args, c.Conn().ReadPipeline(), false).serve()
}

// ServeAsync implements resp.AsyncHandler: Serve, except that where the
// pipeline would wait for the writes it has prepared, it readies them for
// Submit and returns false; c.Wake is called once they are answered, and
// Resume goes on.
func (e *Engine) ServeAsync(c *resp.Client, cmds []redcon.Command) bool {
	return e.start(c, nil, cmds, true).serve()
}

// Resume implements resp.AsyncHandler: it goes on with the pipeline
// ServeAsync or an earlier Resume stopped, and reports whether it ended.
func (e *Engine) Resume(c *resp.Client) bool {
	s, _ := c.Session.(*session)
	if s == nil {
		return true
	}
	return s.p.serve()
}

// start makes c's pipeline of first (when not nil) and cmds.
func (e *Engine) start(c *resp.Client, first [][]byte, cmds []redcon.Command, async bool) *pipeline {
	s, _ := c.Session.(*session)
	if s == nil {
		s = &session{}
		c.Session = s
	}
	p := &s.p
	p.e, p.c = e, c
	p.now = time.Now()
	p.cmds = p.cmds[:0]
	if first != nil {
		p.cmds = append(p.cmds, first)
	}
	for _, cmd := range cmds {
		p.cmds = append(p.cmds, cmd.Args)
	}
	p.next, p.async = 0, async
	return p
}

// serve runs the pipeline from command next; it reports whether it ended
// (false: it stopped to wait for writes, async only).
func (p *pipeline) serve() bool {
	for i := p.next; i < len(p.cmds); {
		if i > 0 && p.c.Closed() {
			break
		}
		n := p.run(i)
		if n == 0 {
			p.next = i
			return false
		}
		i += n
	}
	if !p.settle() {
		p.next = len(p.cmds)
		return false
	}
	clear(p.cmds)
	p.cmds = p.cmds[:0]
	p.next = 0
	return true
}

// settle makes sure the writes submit prepared are answered and their
// replies sent, before a command that must see them runs. Synchronous
// pipelines wait (drain); an asynchronous one readies them for Submit,
// which its event loop calls once it has served all it could, and
// reports false: it is resumed once they are answered.
func (p *pipeline) settle() bool {
	if !p.async || len(p.held) == 0 {
		p.drain()
		return true
	}
	if p.wake == nil {
		p.wake = p.answered // bound once: a method value allocates
	}
	p.outstanding.Store(int32(len(p.held)))
	for _, w := range p.held {
		w.Then(p.wake)
	}
	return false
}

// Submit implements resp.AsyncHandler: it gives the writer the writes the
// stopped pipelines of cs readied (settle), in that order, in one
// submission. A small one the caller applies itself when no one is
// applying and the writer's role is free (store.DB.SubmitLead: flat
// combining), sparing the handoff to the writer goroutine and back,
// which costs more than a few writes; a larger one, or one holding a
// heavy write (store.Pending.Heavy: submit), goes to the writer goroutine
// (store.DB.SubmitAsync), so that the loop goes on serving while it is
// applied.
func (e *Engine) Submit(cs []*resp.Client) {
	var buf [64]*store.Pending
	all := buf[:0]
	for _, c := range cs {
		s, _ := c.Session.(*session)
		if s == nil {
			continue
		}
		all = append(all, s.p.held...)
		clear(s.p.held)
		s.p.held = s.p.held[:0]
	}
	switch {
	case len(all) == 0:
	case len(all) <= leadMax && !slices.ContainsFunc(all, (*store.Pending).IsHeavy):
		e.db.SubmitLead(all...)
	default:
		// Many, or a heavy one: the writer goroutine applies them while
		// the loop goes on serving its other connections.
		e.db.SubmitAsync(all...)
	}
	clear(all)
}

// leadMax is the largest submission an event loop applies itself
// (Submit): about what a loop's unpipelined connections bring in one
// pass, and a few tens of microseconds of the writer's work.
const leadMax = 32

// answered counts down the submissions settle gave the writer, and wakes
// the connection after the last (store.Pending.Then, in the goroutine
// that answers it).
func (p *pipeline) answered() {
	if p.outstanding.Add(-1) == 0 {
		p.c.Wake()
	}
}

// drain submits the writes submit prepared, all together, then waits for
// them and sends their replies in order.
func (p *pipeline) drain() {
	if len(p.held) > 0 {
		p.e.db.SubmitAll(p.held...)
		clear(p.held)
		p.held = p.held[:0]
	}
	for _, s := range p.slots {
		if s.wait != nil {
			if err := s.wait.Wait(); err != nil {
				s.w.Reset()
				s.w.Error(errorReply(err))
			}
		}
		quit := s.x.quit // a submitted EXEC's CLIENT KILL of its own connection
		p.c.Send(&s.w)
		if quit {
			p.c.Close()
		}
		p.recycle(s)
	}
	clear(p.slots)
	p.slots = p.slots[:0]
	if p.barrier && p.c.Multi {
		// A submitted EXEC the writer did not run (the store failed or
		// closed first) still ends the transaction.
		(&Ctx{e: p.e, c: p.c}).endMulti()
	}
	p.barrier = false
}

// recycle keeps an answered slot for the connection's next writes (the writer
// is done with it once its Pending is).
func (p *pipeline) recycle(s *slot) {
	if len(p.free) >= 64 || cap(s.w.B) > 4096 {
		return
	}
	s.x = Ctx{}
	s.cmd, s.wait = nil, nil
	p.free = append(p.free, s)
}

// newSlot returns an empty slot.
func (p *pipeline) newSlot() *slot {
	if n := len(p.free); n > 0 {
		s := p.free[n-1]
		p.free[n-1] = nil
		p.free = p.free[:n-1]
		s.w = resp.Writer{B: s.w.B[:0], Proto: p.c.Proto()}
		return s
	}
	s := &slot{}
	s.w = resp.Writer{B: s.buf[:0], Proto: p.c.Proto()}
	s.run = s.apply
	return s
}

// writer returns the pipeline's reply buffer, emptied, for a command run in
// the connection's goroutine; send writes it out.
func (p *pipeline) writer() *resp.Writer {
	p.w.Reset()
	p.w.Proto = p.c.Proto()
	return &p.w
}

// send writes the reply buffer to the connection.
func (p *pipeline) send() {
	p.c.Send(&p.w)
	p.w.Reset() // drop payload references
	if cap(p.w.B) > 64<<10 {
		p.w.B = nil // do not keep a big reply's buffer for the connection's life
	}
}

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

// lowerInto appends b lower-cased (ASCII) to dst.
func lowerInto(dst, b []byte) []byte {
	for _, c := range b {
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		dst = append(dst, c)
	}
	return dst
}

// resolve finds the command (or subcommand) for args, or the error to answer.
func (e *Engine) resolve(args [][]byte) (*command, string) {
	return e.resolveFrom(e.lookup(args[0]), args)
}

// lookup is the command named name (any case), or nil.
func (e *Engine) lookup(name []byte) *command {
	var buf [32]byte
	return e.tab.cmds[string(lowerInto(buf[:0], name))]
}

// resolveFrom is resolve for args whose name lookup found cmd.
func (e *Engine) resolveFrom(cmd *command, args [][]byte) (*command, string) {
	if cmd == nil {
		return nil, unknownCommand(args)
	}
	if len(cmd.subs) == 0 {
		if !cmd.arityOK(len(args)) {
			return nil, string(errArity(cmd.name))
		}
		return cmd, ""
	}
	if len(args) < 2 {
		if cmd.run != nil && cmd.arityOK(len(args)) {
			return cmd, "" // COMMAND alone
		}
		return nil, string(errArity(cmd.name))
	}
	var buf [32]byte
	sub := cmd.subs[string(lowerInto(buf[:0], args[1]))]
	if sub == nil {
		return nil, fmt.Sprintf("ERR unknown subcommand '%.128s'. Try %s HELP.", args[1], strings.ToUpper(cmd.name))
	}
	if !sub.arityOK(len(args)) {
		return nil, string(errArity(sub.name))
	}
	return sub, ""
}

// check resolves a command and checks that the connection may run it now.
// The command named last on the connection is remembered with its name's
// bytes as sent: a pipeline repeats one name, and comparing those bytes
// is cheaper than the table's lower-casing and hashing (the table never
// changes).
func (p *pipeline) check(args [][]byte) (*command, string) {
	top := p.lastCmd
	if top == nil || !bytes.Equal(args[0], p.lastName) {
		top = p.e.lookup(args[0])
		if top != nil && len(args[0]) <= maxRememberedName {
			p.lastCmd, p.lastName = top, append(p.lastName[:0], args[0]...)
		}
	}
	cmd, rejected := p.e.resolveFrom(top, args)
	if rejected == "" && p.e.authRequired(p.c) && !cmd.has("no_auth") {
		rejected = "NOAUTH Authentication required."
	}
	return cmd, rejected
}

// account counts a command about to run.
func (p *pipeline) account(cmd *command) {
	p.e.stats.commands.Add(1)
	if cmd != nil {
		p.c.Touch(cmd.name, p.now)
	}
}

// run executes the pipeline's command i (with the reads right after it when
// it is a read) and returns how many commands it ran.
func (p *pipeline) run(i int) int {
	args := p.cmds[i]
	if len(args) == 0 {
		return 1
	}
	e, c := p.e, p.c
	cmd, rejected := p.check(args)
	// barrier first: while a submitted EXEC waits, the writer owns the
	// connection's MULTI state.
	if (p.barrier || rejected != "" || cmd.kind != kindWrite || c.Multi) && !p.settle() {
		return 0 // resumed once the writes before it are answered
	}
	if i > 0 && c.Closed() {
		return len(p.cmds) - i // closed by a write settle answered: the rest is not served
	}
	p.account(cmd)
	if c.Multi && (cmd == nil || !isTxControl(cmd.name)) {
		w := p.writer()
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
		p.send()
		return 1
	}
	if rejected != "" {
		p.writer().Error(rejected)
		p.send()
		return 1
	}
	if p.async && c.Multi && cmd.name == "exec" {
		p.submitExec(cmd, args)
		return 1
	}
	switch cmd.kind {
	case kindWrite:
		p.submit(cmd, args)
	case kindRead:
		return p.view(i, cmd)
	default:
		x := &p.x
		*x = Ctx{e: e, c: c, args: args, w: p.writer(), db: c.DB(), now: nowMs()}
		if err := safeRun(cmd.run, x); err != nil {
			x.w.Reset()
			x.w.Error(errorReply(err))
		}
		quit := x.quit
		p.send()
		*x = Ctx{}
		if quit {
			c.Close()
		}
	}
	return 1
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
	return !c.Authed() && e.cfg.PasswordSet()
}

// submit prepares a write for the writer; drain submits the run of writes
// it ends in one call (so that a connection leading a batch applies them
// together: store.DB.SubmitAll), and sends their replies.
func (p *pipeline) submit(cmd *command, args [][]byte) {
	s := p.newSlot()
	p.slots = append(p.slots, s)
	if err := p.e.db.Failed(); err != nil {
		s.w.Error(misconf(err))
		return
	}
	if cmd.first > 0 && p.e.db.CacheUnderPressure() {
		p.prefetch(cmd, args)
	}
	s.cmd = cmd
	s.x = Ctx{e: p.e, c: p.c, args: args, w: &s.w, db: p.c.DB(), now: nowMs()}
	s.wait = store.NewPending(s.run)
	if p.e.heavy(p.c.DB(), cmd, args) {
		s.wait.Heavy()
	}
	if cmd.first > 0 && cmd.first < len(args) && len(args[cmd.first]) <= maxHintKey {
		// Made here, beside the connection's other work, and used twice
		// in the writer: as the hint, and as the key the command writes
		// (Ctx.stored).
		s.key = appendStoredKey(s.key[:0], args[cmd.first])
		s.x.sk = s.key
		s.wait.Hint(uint32(p.c.DB()), s.key)
		if cmd.last != cmd.first {
			s.hintMore(cmd, args)
		}
	}
	p.held = append(p.held, s.wait)
}

// hintMore hints to the writer the keys a multi-key write (MSET, DEL of
// several keys) writes after its first (at most maxHintMore): without
// them the writer's descents for those keys wait for memory one after
// another, a third of an MSET's time.
func (s *slot) hintMore(cmd *command, args [][]byte) {
	buf, ends, i := s.moreBuf[:0], s.moreEnds[:0], 0
	cmd.eachKey(args, func(key []byte) {
		if i <= maxHintMore && len(key) <= maxHintKey {
			if i > 0 { // the first is Hint's
				buf = appendStoredKey(buf, key)
				ends = append(ends, len(buf))
			}
			i++
		}
	})
	s.moreBuf, s.moreEnds = buf, ends
	if len(ends) == 0 {
		return
	}
	s.more = splitKeys(s.more[:0], buf, ends)
	s.x.more = s.more
	s.wait.HintMore(s.more)
}

// submitExec submits an EXEC to the writer as a write, so that an event
// loop goes on serving other connections while it is applied (Serve runs
// it in the connection's goroutine, which waits: cmdExec). Until it is
// answered the writer owns the connection's MULTI state, so the next
// command waits for it (barrier).
func (p *pipeline) submitExec(cmd *command, args [][]byte) {
	s := p.newSlot()
	p.slots = append(p.slots, s)
	s.cmd = cmd
	s.x = Ctx{e: p.e, c: p.c, args: args, w: &s.w, db: p.c.DB(), now: nowMs()}
	s.wait = store.NewPending(s.run)
	if p.e.heavyQueue(p.c.DB(), p.c.Queue) {
		s.wait.Heavy()
	}
	p.held = append(p.held, s.wait)
	p.barrier = true
}

// prefetch reads the pages of the keys the write cmd will touch into the
// page cache (store.Prefetch), in this connection's goroutine: when the
// data outgrows the cache, the one writer goroutine would otherwise stall
// on each of those reads in turn.
func (p *pipeline) prefetch(cmd *command, args [][]byte) {
	var keys [][]byte
	cmd.eachKey(args, func(key []byte) {
		if uint64(len(key)) <= MaxKeyLen {
			keys = append(keys, storedKey(key))
		}
	})
	p.e.db.Prefetch(uint32(p.c.DB()), keys...)
}

// view runs the read command cmd (the pipeline's command i) and the reads
// that follow it on one snapshot, and returns how many it ran. They see
// every write this connection made before them, and run at one instant
// between the arrival of their requests and their replies.
func (p *pipeline) view(i int, cmd *command) int {
	reads := append(p.reads[:0], cmd)
	for j := i + 1; j < len(p.cmds) && !p.c.Multi; j++ {
		args := p.cmds[j]
		if len(args) == 0 {
			break
		}
		next, rejected := p.check(args)
		if rejected != "" || next.kind != kindRead {
			break
		}
		p.account(next)
		reads = append(reads, next)
	}
	p.reads = reads
	w := p.writer()
	x := &p.x
	ran := 0
	err := p.e.db.View(func(tx *store.Tx) error {
		now := nowMs()
		keys, starts := p.touchKeys(tx, i, reads)
		for k, cmd := range reads {
			mark := len(w.B)
			*x = Ctx{e: p.e, c: p.c, args: p.cmds[i+k], w: w, tx: tx, db: p.c.DB(), now: now}
			if k+1 < len(starts) {
				x.more = keys[starts[k]:starts[k+1]]
			}
			if err := safeRun(cmd.run, x); err != nil {
				w.Truncate(mark)
				w.Error(errorReply(err))
			}
			ran++
		}
		return nil
	})
	*x = Ctx{}
	clear(p.tkeys)
	p.tkeys = p.tkeys[:0]
	if err != nil {
		for range reads[ran:] {
			w.Error(errorReply(err))
		}
	}
	p.send()
	clear(p.reads)
	return len(reads)
}

// touchKeys looks up side by side the keys of the run of reads starting
// at the pipeline's command i (store.Table.Touch) before they run, when
// there are two or more: each lookup alone waits for its CPU cache misses
// one after another, together they wait for them at once, and the reads'
// own lookups then find the memory in the cache. Only the first maxTouch
// keys are walked (the memory of thousands would push the first out of
// the cache before their reads run), and the scratch is kept only while
// small. Touch is only a hint: a panic in it fails no command.
//
// It returns the table keys it made, for the reads to use rather than
// hash and allocate each again (Ctx.more): read k's are
// keys[starts[k]:starts[k+1]], in the order of command.eachKey (the last
// read's may stop short at maxTouch); reads past len(starts)-1 have none.
// They are slices of p.tbuf, valid until the next call.
func (p *pipeline) touchKeys(tx *store.Tx, i int, reads []*command) (keys [][]byte, starts []int) {
	defer func() {
		if recover() != nil {
			keys, starts = nil, nil
		}
	}()
	buf, ends, starts := p.tbuf[:0], p.tends[:0], p.tstarts[:0]
	for k, cmd := range reads {
		if len(ends) >= maxTouch {
			break
		}
		starts = append(starts, len(ends))
		cmd.eachKey(p.cmds[i+k], func(key []byte) {
			if uint64(len(key)) <= MaxKeyLen && len(ends) < maxTouch {
				buf = appendStoredKey(buf, key)
				ends = append(ends, len(buf))
			}
		})
	}
	starts = append(starts, len(ends))
	keys = splitKeys(p.tkeys[:0], buf, ends)
	if len(keys) > 1 {
		tx.Table(uint32(p.c.DB())).Touch(keys, &p.touch)
	}
	p.tkeys, p.tstarts = keys, starts
	p.tbuf, p.tends = buf[:0], ends[:0]
	if cap(p.tbuf) > maxTouchBuf {
		p.tbuf = nil
	}
	return keys, starts
}

// maxTouch is how many keys touchKeys walks at most, and maxTouchBuf the
// key bytes it keeps room for between batches.
const (
	maxTouch    = 128
	maxTouchBuf = 64 << 10
)

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
