package resp

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/tidwall/redcon"
)

// Handler serves the commands of connections.
type Handler interface {
	// Serve runs cmd and every command read with it (c.Conn().ReadPipeline
	// takes them), writing replies in order to c.Conn(). The replies are
	// written to the socket once Serve returns. Arguments stay valid after
	// Serve returns and are never written again, so a handler may keep them.
	Serve(c *Client, cmd redcon.Command)
	// Closed is called once when a connection has gone.
	Closed(c *Client)
}

// AsyncHandler is a Handler an event loop can serve without waiting for
// writes (Options.EventLoops): a pipeline stops where it would wait for
// the writes it submitted, the loop serves other connections meanwhile,
// and resumes it once Client.Wake says they are answered.
type AsyncHandler interface {
	Handler
	// ServeAsync serves cmds (all of them, in order, writing replies to
	// c.Conn() as Serve does) and reports whether it ended; false means
	// it stopped to wait for writes, which Submit hands over, and c.Wake
	// is called once they are answered (from any goroutine). Nothing else
	// of the connection runs until then.
	ServeAsync(c *Client, cmds []redcon.Command) bool
	// Resume goes on with the pipeline that stopped, after c.Wake, and
	// reports whether it ended, as ServeAsync does.
	Resume(c *Client) bool
	// Submit hands over the writes of the pipelines of cs that stopped
	// (ServeAsync or Resume returned false since their last Submit), in
	// one submission; the loop calls it once it has served all it could,
	// before it waits. Until then they are not applied, so no Wake comes.
	Submit(cs []*Client)
}

// Options configure a Listener. The functions are consulted per connection or
// per request so that CONFIG SET takes effect at once.
type Options struct {
	// MaxClients caps the open connections (maxclients); nil or <= 0 means no cap.
	MaxClients func() int
	// MaxBulk is proto-max-bulk-len.
	MaxBulk func() int64
	// MaxQuery is client-query-buffer-limit (see Limits.MaxQuery).
	MaxQuery func() int64
	// IdleTimeout is timeout: a connection that sends nothing for that
	// long is closed; nil or 0 means never.
	IdleTimeout func() time.Duration
	// PasswordSet reports whether requirepass is set.
	PasswordSet func() bool
	// Log receives lifecycle and error lines.
	Log func(format string, args ...any)
	// EventLoops, when positive, serves the connections from that many
	// event loops (epoll, Linux only) instead of a goroutine each: no
	// goroutine parks and wakes per request, and with an AsyncHandler
	// the loops go on serving while the writer applies writes. Where
	// loops cannot start, Listen logs why and goroutines serve.
	EventLoops int
}

// Listener accepts Redis-protocol connections and serves each with its own
// goroutine: it reads requests in place (Reader), hands each read's commands
// to the Handler as one pipeline, and writes the replies with one write. It
// keeps the table of live clients.
type Listener struct {
	opts Options
	h    Handler
	ln   net.Listener

	nextID   atomic.Int64
	mu       sync.Mutex
	clients  map[int64]*Client
	done     bool
	conns    sync.WaitGroup // connection goroutines, which Close waits for
	accepted atomic.Int64
	rejected atomic.Int64
	// attackLogged is when (Unix seconds) logAttack last logged.
	attackLogged atomic.Int64
	// loops are the event loops (Options.EventLoops), started by Listen;
	// loopsDone waits for their goroutines.
	loops     []*eventLoop
	loopsDone sync.WaitGroup
}

// Listen binds addr ("host:port") and prepares to serve; call Serve to run.
func Listen(addr string, h Handler, opts Options) (*Listener, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("listen on %s: %w", addr, err)
	}
	l := &Listener{opts: opts, h: h, ln: ln, clients: map[int64]*Client{}}
	// The loops start here, not in Serve, so that a Close racing Serve
	// finds and stops them.
	if n := opts.EventLoops; n > 0 {
		if err := l.startLoops(n); err != nil {
			l.logf("# event loops: %v; serving each connection with a goroutine", err)
		}
	}
	return l, nil
}

// Addr is the bound address.
func (l *Listener) Addr() net.Addr { return l.ln.Addr() }

// Serve accepts connections until Close, which makes it return nil.
func (l *Listener) Serve() error {
	for {
		nc, err := l.ln.Accept()
		if err != nil {
			l.mu.Lock()
			done := l.done
			l.mu.Unlock()
			if done || errors.Is(err, net.ErrClosed) {
				return nil
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				continue
			}
			l.logf("accept: %v", err)
			time.Sleep(10 * time.Millisecond) // out of file descriptors: let some close
			continue
		}
		if c := l.admit(nc); c != nil && !l.toLoop(c) {
			go l.handle(c)
		}
	}
}

// admit registers a new connection as a client, or refuses it past maxclients.
func (l *Listener) admit(nc net.Conn) *Client {
	c := &Client{
		ID:      l.nextID.Add(1),
		Addr:    nc.RemoteAddr().String(),
		LAddr:   nc.LocalAddr().String(),
		Created: time.Now(),
	}
	c.SetProto(2)
	cn := newConn(nc, Limits{
		MaxBulk:  l.opts.MaxBulk,
		MaxQuery: l.opts.MaxQuery,
		AuthRequired: func() bool {
			return !c.Authed() && l.opts.PasswordSet != nil && l.opts.PasswordSet()
		},
	})
	c.conn, c.own = cn, cn
	l.takeSocket(cn)
	maxClients := 0
	if l.opts.MaxClients != nil {
		maxClients = l.opts.MaxClients()
	}
	l.mu.Lock()
	full := maxClients > 0 && len(l.clients) >= maxClients
	if !full && !l.done {
		l.clients[c.ID] = c
		l.conns.Add(1) // under mu, so Close's Wait sees it
	}
	done := l.done
	l.mu.Unlock()
	if full || done {
		if full {
			l.rejected.Add(1)
			cn.WriteError("ERR max number of clients reached")
		}
		_ = cn.Close()
		if cn.sock != nil {
			cn.sock.close()
		}
		return nil
	}
	l.accepted.Add(1)
	cn.SetContext(c)
	return c
}

// handle serves one connection until it closes: read, parse, serve the
// pipeline, write the replies.
func (l *Listener) handle(c *Client) {
	cn := c.own
	err := l.loop(c, cn)
	if !cn.detached { // else its taker owns the socket now
		_ = cn.nc.Close()
	}
	l.finish(c, err)
}

// finish forgets the client c, whose socket is closed (or was detached:
// it leaves the table, and the Handler hears nothing); err is what ended it.
func (l *Listener) finish(c *Client, err error) {
	defer l.conns.Done()
	l.mu.Lock()
	delete(l.clients, c.ID)
	l.mu.Unlock()
	if c.own.detached {
		return
	}
	c.closed.Store(true)
	if err != nil && IsProtocolError(err) {
		l.logf("client id=%d addr=%s closed: %v", c.ID, c.Addr, err)
	}
	l.h.Closed(c)
}

// loop reads, parses and serves c's requests until the connection ends; it
// returns the framing error that ended it, or the read or write error.
func (l *Listener) loop(c *Client, cn *conn) error {
	for {
		cmds, perr := cn.rd.Parse()
		attack := attackAt(cmds)
		if attack >= 0 {
			cmds, perr = cmds[:attack], nil
		}
		if l.serveSync(c, cn, cmds); cn.detached {
			return nil
		}
		if end, err := l.afterServe(c, cn, attack >= 0, perr); end {
			return err
		}
		if cn.rd.Buffered() {
			continue // parsed one request at a time before AUTH
		}
		if err := l.setIdleDeadline(cn); err != nil {
			return err
		}
		if err := cn.readMore(); err != nil {
			if errors.Is(err, io.EOF) || errors.Is(err, os.ErrDeadlineExceeded) {
				return nil // closed by the client, or idle past timeout
			}
			return err
		}
	}
}

// serveSync serves cmds with the Handler's Serve, until one detaches the connection.
func (l *Listener) serveSync(c *Client, cn *conn, cmds []redcon.Command) {
	for len(cmds) > 0 && !c.Closed() {
		cn.cmds = cmds[1:]
		l.h.Serve(c, cmds[0])
		if cn.detached {
			return
		}
		cmds, cn.cmds = cn.cmds, nil
	}
}

// afterServe handles how the parse of a served read ended, and writes the
// replies; it reports whether the connection ends, and why.
func (l *Listener) afterServe(c *Client, cn *conn, attack bool, perr error) (bool, error) {
	if attack {
		// Redis drops the connection without a reply, not even to
		// the commands before it in the same read.
		cn.out = cn.out[:0]
		l.logAttack(c)
		return true, nil
	}
	if errors.Is(perr, ErrQueryLimit) {
		// Redis closes without a reply (but after the replies to the
		// requests complete before it).
		_ = cn.flush()
		l.logf("Closing client that reached max query buffer length: id=%d addr=%s (qbuf initial bytes: %.64q)", c.ID, c.Addr, cn.rd.pending())
		return true, perr
	}
	if perr != nil && !c.Closed() {
		cn.WriteError("ERR " + perr.Error())
	}
	if err := cn.flush(); err != nil {
		return true, err
	}
	if perr != nil || c.Closed() {
		return true, perr
	}
	return false, nil
}

// idleTimeout is the timeout parameter now (0: none).
func (l *Listener) idleTimeout() time.Duration {
	if l.opts.IdleTimeout == nil {
		return 0
	}
	return l.opts.IdleTimeout()
}

// setIdleDeadline bounds the next read by the idle timeout, or lifts the
// bound once timeout is 0 again.
func (l *Listener) setIdleDeadline(cn *conn) error {
	d := l.idleTimeout()
	switch {
	case d > 0:
		cn.deadline = true
		return cn.nc.SetReadDeadline(time.Now().Add(d))
	case cn.deadline:
		cn.deadline = false
		return cn.nc.SetReadDeadline(time.Time{})
	}
	return nil
}

// Close stops accepting, closes every connection and waits until their
// goroutines have finished the pipelines they were serving (so that a
// caller may close the store after it).
func (l *Listener) Close() error {
	l.mu.Lock()
	l.done = true
	l.mu.Unlock()
	err := l.ln.Close()
	for _, c := range l.Clients() {
		c.Kill()
	}
	l.stopLoops()
	l.conns.Wait()
	l.loopsDone.Wait()
	if err != nil && !errors.Is(err, net.ErrClosed) {
		return fmt.Errorf("close listener: %w", err)
	}
	return nil
}

// Clients returns the live clients in id order.
func (l *Listener) Clients() []*Client {
	l.mu.Lock()
	out := make([]*Client, 0, len(l.clients))
	for _, c := range l.clients {
		out = append(out, c)
	}
	l.mu.Unlock()
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out
}

// EventLoops returns how many event loops serve the connections (0: a
// goroutine each, as without Options.EventLoops or where loops could not
// start).
func (l *Listener) EventLoops() int { return len(l.loops) }

// Stats returns the connections accepted and rejected (maxclients) so far.
func (l *Listener) Stats() (accepted, rejected int64) {
	return l.accepted.Load(), l.rejected.Load()
}

func (l *Listener) logf(format string, args ...any) {
	if l.opts.Log != nil {
		l.opts.Log(format, args...)
	}
}

// logAttack logs an aborted cross-protocol connection, at most once a
// minute (as Redis does), so that a flood of them cannot flood the log.
func (l *Listener) logAttack(c *Client) {
	now := time.Now().Unix()
	last := l.attackLogged.Load()
	if now-last <= 60 && last != 0 || !l.attackLogged.CompareAndSwap(last, now) {
		return
	}
	l.logf("Possible SECURITY ATTACK detected. It looks like somebody is sending POST or Host: commands to digby. This is likely due to an attacker attempting to use Cross Protocol Scripting to compromise your digby instance. Connection from %s aborted.", c.Addr)
}

// attackAt returns the index of the first command named POST or Host: (an
// HTTP request sent to the port, as in cross-protocol scripting), or -1.
// Redis closes such a connection at once, without a reply.
func attackAt(cmds []redcon.Command) int {
	for i, cmd := range cmds {
		if len(cmd.Args) == 0 {
			continue
		}
		a := cmd.Args[0]
		if (len(a) == 4 && bytes.EqualFold(a, []byte("post"))) || (len(a) == 5 && bytes.EqualFold(a, []byte("host:"))) {
			return i
		}
	}
	return -1
}
