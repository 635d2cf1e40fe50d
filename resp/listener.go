package resp

import (
	"fmt"
	"net"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/tidwall/redcon"
)

// Handler serves the commands of connections.
type Handler interface {
	// Serve runs cmd and every command already queued behind it on the
	// connection (redcon's pipeline), writing replies in order to c.Conn().
	Serve(c *Client, cmd redcon.Command)
	// Closed is called once when a connection has gone.
	Closed(c *Client)
}

// Options configure a Listener. The functions are consulted per connection or
// per request so that CONFIG SET takes effect at once.
type Options struct {
	// MaxClients caps the open connections (maxclients); nil or <= 0 means no cap.
	MaxClients func() int
	// MaxBulk is proto-max-bulk-len.
	MaxBulk func() int64
	// PasswordSet reports whether requirepass is set.
	PasswordSet func() bool
	// Log receives lifecycle and error lines.
	Log func(format string, args ...any)
}

// Listener accepts Redis-protocol connections with redcon and hands their
// commands to a Handler, keeping the table of live clients.
type Listener struct {
	opts Options
	h    Handler
	ln   net.Listener
	srv  *redcon.Server

	nextID   atomic.Int64
	mu       sync.Mutex
	clients  map[int64]*Client
	pending  map[net.Conn]*Client
	accepted atomic.Int64
	rejected atomic.Int64
}

// Listen binds addr ("host:port") and prepares to serve; call Serve to run.
func Listen(addr string, h Handler, opts Options) (*Listener, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("listen on %s: %w", addr, err)
	}
	l := &Listener{opts: opts, h: h, clients: map[int64]*Client{}, pending: map[net.Conn]*Client{}}
	l.ln = &guardListener{Listener: ln, l: l}
	l.srv = redcon.NewServerNetwork("tcp", addr, l.serve, l.accept, l.closed)
	return l, nil
}

// Addr is the bound address.
func (l *Listener) Addr() net.Addr { return l.ln.Addr() }

// Serve accepts connections until Close.
func (l *Listener) Serve() error {
	if err := l.srv.Serve(l.ln); err != nil {
		return fmt.Errorf("serve: %w", err)
	}
	return nil
}

// Close stops accepting and closes every connection.
func (l *Listener) Close() error {
	err := l.srv.Close()
	for _, c := range l.Clients() {
		c.Kill()
	}
	if err != nil {
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

// Stats returns the connections accepted and rejected (maxclients) so far.
func (l *Listener) Stats() (accepted, rejected int64) {
	return l.accepted.Load(), l.rejected.Load()
}

func (l *Listener) logf(format string, args ...any) {
	if l.opts.Log != nil {
		l.opts.Log(format, args...)
	}
}

// guardListener wraps accepted connections in a guardConn and creates their Client.
type guardListener struct {
	net.Listener
	l *Listener
}

func (gl *guardListener) Accept() (net.Conn, error) {
	nc, err := gl.Listener.Accept()
	if err != nil {
		return nil, err
	}
	l := gl.l
	c := &Client{
		ID:      l.nextID.Add(1),
		Addr:    nc.RemoteAddr().String(),
		LAddr:   nc.LocalAddr().String(),
		Created: time.Now(),
	}
	c.SetProto(2)
	g := newGuardConn(nc, Limits{
		MaxBulk: l.opts.MaxBulk,
		AuthRequired: func() bool {
			return !c.Authed() && l.opts.PasswordSet != nil && l.opts.PasswordSet()
		},
	})
	c.guard = g
	l.mu.Lock()
	l.pending[g] = c
	l.mu.Unlock()
	return g, nil
}

func (l *Listener) accept(conn redcon.Conn) bool {
	l.mu.Lock()
	c := l.pending[conn.NetConn()]
	delete(l.pending, conn.NetConn())
	full := l.opts.MaxClients != nil && l.opts.MaxClients() > 0 && len(l.clients) >= l.opts.MaxClients()
	if c != nil && !full {
		l.clients[c.ID] = c
	}
	l.mu.Unlock()
	if c == nil {
		return false
	}
	if full {
		l.rejected.Add(1)
		conn.WriteError("ERR max number of clients reached")
		return false
	}
	l.accepted.Add(1)
	c.conn = conn
	conn.SetContext(c)
	return true
}

func (l *Listener) serve(conn redcon.Conn, cmd redcon.Command) {
	c, ok := conn.Context().(*Client)
	if !ok || c.Closed() {
		return
	}
	l.h.Serve(c, cmd)
}

func (l *Listener) closed(conn redcon.Conn, err error) {
	c, ok := conn.Context().(*Client)
	if !ok {
		return
	}
	l.mu.Lock()
	delete(l.clients, c.ID)
	l.mu.Unlock()
	c.closed.Store(true)
	if err != nil && IsProtocolError(err) {
		l.logf("client id=%d addr=%s closed: %v", c.ID, c.Addr, err)
	}
	l.h.Closed(c)
}
