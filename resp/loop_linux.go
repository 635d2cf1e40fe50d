//go:build linux

package resp

import (
	"errors"
	"fmt"
	"io"
	"os"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// eventLoop serves many connections from one goroutine, as Redis does:
// it waits on an epoll set of their sockets, reads what is ready, serves
// each read's pipeline and writes the replies, with no goroutine to park
// and wake per request. Its goroutine parks in Go's poller on the epoll
// descriptor itself when nothing is ready (so no thread blocks in
// epoll_wait), and an eventfd in the set wakes it for new connections and
// answered writes.
//
// With an AsyncHandler a pipeline that must wait for its writes stops
// (ServeAsync returns false) and the loop serves other connections while
// the writer applies them; Client.Wake queues the connection and the loop
// resumes it. A connection is read again only once its pipeline has ended
// and its replies are written: its requests are served in order, one
// read at a time, as a goroutine would serve them.
//
// Invariants: only the loop's goroutine reads, writes or closes a
// connection's descriptor (Kill only shuts it down, under loopSock.mu);
// a connection in conns is in the epoll set exactly with the events of
// its loopSock.mask.
type eventLoop struct {
	l  *Listener
	ah AsyncHandler // l.h when it serves asynchronously, else nil

	epfd   int
	evfd   int      // eventfd: woken connections and new ones are queued
	poll   *os.File // epfd in Go's poller: the loop parks on it
	raw    syscall.RawConn
	events []syscall.EpollEvent
	conns  map[int32]*Client // by descriptor
	// stopped are the connections whose pipelines stopped for writes
	// since the last AsyncHandler.Submit.
	stopped []*Client

	mu       sync.Mutex
	incoming []*Client // admitted, not yet in the set
	woken    []*Client // pipelines whose writes were answered
	spare    []*Client // woken's other array
	stop     bool      // the Listener is closing: end once conns is empty
	exited   bool      // run has returned: no connection may be queued
	sleeping atomic.Bool
}

// startLoops starts n event loops; connections are given to them in turn.
func (l *Listener) startLoops(n int) error {
	ah, _ := l.h.(AsyncHandler)
	for i := 0; i < n; i++ {
		lp, err := newEventLoop(l, ah)
		if err != nil {
			l.stopLoops()
			l.loops = nil
			return err
		}
		l.loops = append(l.loops, lp)
		l.loopsDone.Add(1)
		go func() {
			defer l.loopsDone.Done()
			lp.run()
		}()
	}
	return nil
}

func newEventLoop(l *Listener, ah AsyncHandler) (*eventLoop, error) {
	epfd, err := syscall.EpollCreate1(syscall.EPOLL_CLOEXEC)
	if err != nil {
		return nil, fmt.Errorf("epoll_create1: %w", err)
	}
	evfd, _, errno := syscall.RawSyscall(syscall.SYS_EVENTFD2, 0, syscall.O_CLOEXEC|syscall.O_NONBLOCK, 0)
	if errno != 0 {
		syscall.Close(epfd)
		return nil, fmt.Errorf("eventfd: %w", errno)
	}
	lp := &eventLoop{l: l, ah: ah, epfd: epfd, evfd: int(evfd), events: make([]syscall.EpollEvent, 256), conns: map[int32]*Client{}}
	ev := syscall.EpollEvent{Events: syscall.EPOLLIN, Fd: int32(evfd)}
	if err := syscall.EpollCtl(epfd, syscall.EPOLL_CTL_ADD, lp.evfd, &ev); err != nil {
		syscall.Close(epfd)
		syscall.Close(lp.evfd)
		return nil, fmt.Errorf("epoll_ctl eventfd: %w", err)
	}
	if err := syscall.SetNonblock(epfd, true); err != nil {
		syscall.Close(epfd)
		syscall.Close(lp.evfd)
		return nil, fmt.Errorf("epoll descriptor: %w", err)
	}
	lp.poll = os.NewFile(uintptr(epfd), "epoll")
	// A deadline can be set only on a descriptor in Go's poller: one that
	// cannot would make the loop's goroutine block a thread.
	if err := lp.poll.SetReadDeadline(time.Time{}); err != nil {
		lp.poll.Close()
		syscall.Close(lp.evfd)
		return nil, fmt.Errorf("epoll descriptor not pollable: %w", err)
	}
	if lp.raw, err = lp.poll.SyscallConn(); err != nil {
		lp.poll.Close()
		syscall.Close(lp.evfd)
		return nil, fmt.Errorf("epoll descriptor: %w", err)
	}
	return lp, nil
}

// takeSocket gives cn a descriptor of its own in place of its net.Conn,
// for an event loop, before the connection is admitted (so that Kill
// never sees it change). Where that fails cn keeps its net.Conn and is
// served by a goroutine.
func (l *Listener) takeSocket(cn *conn) {
	if len(l.loops) == 0 {
		return
	}
	sc, ok := cn.nc.(syscall.Conn)
	if !ok {
		return
	}
	raw, err := sc.SyscallConn()
	if err != nil {
		return
	}
	fd := -1
	cerr := raw.Control(func(s uintptr) { fd, err = syscall.Dup(int(s)) })
	if err != nil || cerr != nil {
		return
	}
	// The duplicate shares the socket (and its O_NONBLOCK); Go's own
	// descriptor leaves Go's poller.
	syscall.CloseOnExec(fd)
	cn.sock = &loopSock{fd: fd, lastActive: time.Now()}
	_ = cn.nc.Close()
	cn.nc = nil
}

// toLoop hands the admitted client c to an event loop when takeSocket
// gave it a descriptor, and reports whether it did.
func (l *Listener) toLoop(c *Client) bool {
	if c.own.sock == nil {
		return false
	}
	lp := l.loops[int(c.ID)%len(l.loops)]
	c.wake = func() { lp.wake(c) }
	lp.mu.Lock()
	if lp.exited {
		// Admitted as Close began, after the loop had ended.
		lp.mu.Unlock()
		c.own.sock.close()
		l.finish(c, nil)
		return true
	}
	lp.incoming = append(lp.incoming, c)
	lp.signal()
	lp.mu.Unlock()
	return true
}

// close closes the descriptor, once: by the loop, or at admission for a
// connection refused before any loop took it.
func (s *loopSock) close() {
	s.mu.Lock()
	if !s.closed {
		s.closed = true
		_ = syscall.Close(s.fd)
	}
	s.mu.Unlock()
}

// stopLoops tells the loops to end once their connections have.
func (l *Listener) stopLoops() {
	for _, lp := range l.loops {
		lp.mu.Lock()
		lp.stop = true
		if !lp.exited {
			lp.sleeping.Store(true) // make signal write
			lp.signal()
		}
		lp.mu.Unlock()
	}
}

// wake queues c, whose writes were answered, for Resume.
func (lp *eventLoop) wake(c *Client) {
	lp.mu.Lock()
	lp.woken = append(lp.woken, c)
	if !lp.exited {
		lp.signal()
	}
	lp.mu.Unlock()
}

// signal wakes the loop if it is parked, or about to park. Called with
// mu held and the loop not exited: run closes the eventfd after setting
// exited under mu, so a signal never writes to a closed descriptor (whose
// number another file may have taken).
func (lp *eventLoop) signal() {
	if !lp.sleeping.CompareAndSwap(true, false) {
		return
	}
	one := [8]byte{1}
	for {
		_, err := rawWrite(lp.evfd, one[:])
		if err != syscall.EINTR {
			return // EAGAIN: the counter is full, so the loop is woken anyway
		}
	}
}

// run is the loop's goroutine.
func (lp *eventLoop) run() {
	defer func() {
		lp.poll.Close()
		syscall.Close(lp.evfd)
	}()
	lastIdle := time.Now()
	for {
		lp.mu.Lock()
		incoming, woken, stop := lp.incoming, lp.woken, lp.stop
		lp.incoming, lp.woken, lp.spare = nil, lp.spare[:0], woken
		lp.mu.Unlock()
		for _, c := range incoming {
			lp.add(c)
		}
		for i, c := range woken {
			woken[i] = nil
			lp.resume(c)
		}
		lp.submit()
		if stop && len(lp.conns) == 0 && len(incoming) == 0 {
			lp.mu.Lock()
			done := len(lp.incoming) == 0
			lp.exited = done
			lp.mu.Unlock()
			if done {
				return
			}
		}
		n := lp.wait()
		for _, ev := range lp.events[:n] {
			if ev.Fd == int32(lp.evfd) {
				var b [8]byte
				_, _ = rawRead(lp.evfd, b[:])
				continue
			}
			if c := lp.conns[ev.Fd]; c != nil {
				lp.event(c, ev.Events)
			}
		}
		lp.submit()
		if d := lp.l.idleTimeout(); d > 0 && time.Since(lastIdle) >= time.Second {
			lastIdle = time.Now()
			lp.expireIdle(d, lastIdle)
		}
	}
}

// submit hands the writes of the pipelines that stopped to the writer,
// together (AsyncHandler.Submit).
func (lp *eventLoop) submit() {
	if len(lp.stopped) == 0 {
		return
	}
	lp.ah.Submit(lp.stopped)
	clear(lp.stopped)
	lp.stopped = lp.stopped[:0]
}

// wait returns how many events are in lp.events, parking the goroutine
// in Go's poller when none are ready and nothing is queued (at most a
// second while an idle timeout is set).
func (lp *eventLoop) wait() int {
	n, err := rawPoll(lp.epfd, lp.events)
	if n > 0 || (err != nil && err != syscall.EINTR) {
		return max(n, 0)
	}
	lp.sleeping.Store(true)
	lp.mu.Lock()
	queued := len(lp.incoming) > 0 || len(lp.woken) > 0 || lp.stop && len(lp.conns) == 0
	lp.mu.Unlock()
	if queued {
		lp.sleeping.Store(false)
		return 0
	}
	if lp.l.idleTimeout() > 0 {
		_ = lp.poll.SetReadDeadline(time.Now().Add(time.Second))
	} else {
		_ = lp.poll.SetReadDeadline(time.Time{})
	}
	n = 0
	_ = lp.raw.Read(func(uintptr) bool {
		n, err = rawPoll(lp.epfd, lp.events)
		return n > 0 || (err != nil && err != syscall.EINTR && err != syscall.EAGAIN)
	})
	lp.sleeping.Store(false)
	return max(n, 0)
}

// add puts a new connection in the set.
func (lp *eventLoop) add(c *Client) {
	s := c.own.sock
	lp.conns[int32(s.fd)] = c
	if c.Closed() {
		lp.end(c, nil)
		return
	}
	if err := lp.setMask(c, syscall.EPOLLIN); err != nil {
		lp.close(c, err)
	}
}

// setMask makes the set wait for events m on c's socket (none: out of it).
func (lp *eventLoop) setMask(c *Client, m uint32) error {
	s := c.own.sock
	if s.mask == m {
		return nil
	}
	op := syscall.EPOLL_CTL_MOD
	switch {
	case s.mask == 0:
		op = syscall.EPOLL_CTL_ADD
	case m == 0:
		op = syscall.EPOLL_CTL_DEL
	}
	ev := syscall.EpollEvent{Events: m, Fd: int32(s.fd)}
	if err := syscall.EpollCtl(lp.epfd, op, s.fd, &ev); err != nil {
		return fmt.Errorf("epoll_ctl: %w", err)
	}
	s.mask = m
	return nil
}

// settle sets c's events from its state: none while its pipeline waits
// (or its peer has gone), output while replies wait for the socket,
// input otherwise.
func (lp *eventLoop) settle(c *Client) {
	s := c.own.sock
	m := uint32(syscall.EPOLLIN)
	switch {
	case s.waiting:
		m = 0
	case len(s.pend) > 0:
		m = syscall.EPOLLOUT
	}
	if err := lp.setMask(c, m); err != nil {
		lp.close(c, err)
	}
}

// event handles the events ev reported for c.
func (lp *eventLoop) event(c *Client, ev uint32) {
	s := c.own.sock
	if s.waiting {
		// Input (or a hang-up) while the pipeline waits: look again once
		// it has ended. Out of the set meanwhile, or the loop would spin.
		if ev&(syscall.EPOLLHUP|syscall.EPOLLERR) != 0 {
			s.hup = true
		}
		lp.settle(c)
		return
	}
	if len(s.pend) > 0 {
		if err := s.writePend(); err != nil {
			lp.close(c, err)
			return
		}
		if len(s.pend) > 0 {
			lp.settle(c)
			return
		}
		s.lastActive = time.Now() // the client is reading: not idle
		if s.closing {
			lp.close(c, s.endErr)
			return
		}
		// Drained: serve what was read and wait for input again.
		if lp.serveBuffered(c) {
			lp.settle(c)
		}
		return
	}
	if ev&(syscall.EPOLLIN|syscall.EPOLLHUP|syscall.EPOLLERR) != 0 {
		lp.read(c)
	}
}

// read reads what c's socket holds and serves it.
func (lp *eventLoop) read(c *Client) {
	cn := c.own
	s := cn.sock
	for {
		space := cn.rd.Space()
		n, err := rawRead(s.fd, space)
		for err == syscall.EINTR {
			n, err = rawRead(s.fd, space)
		}
		switch {
		case n > 0:
			cn.rd.Fill(n) // lastActive: after, once the read is served
		case err == syscall.EAGAIN:
			return
		case err == nil || errors.Is(err, syscall.ECONNRESET):
			lp.close(c, nil) // closed by the client
			return
		default:
			lp.close(c, err)
			return
		}
		if !lp.serveBuffered(c) {
			return
		}
		if n < len(space) {
			// The set reports input still unread: no read that fails
			// with EAGAIN per request.
			lp.settle(c)
			return
		}
	}
}

// serveBuffered serves the complete requests buffered for c, as
// Listener.loop does, and reports whether c can read again (false: its
// pipeline waits, its replies wait for the socket, or it ended).
func (lp *eventLoop) serveBuffered(c *Client) bool {
	cn := c.own
	s := cn.sock
	for {
		cmds, perr := cn.rd.Parse()
		attack := attackAt(cmds)
		if attack >= 0 {
			cmds, perr = cmds[:attack], nil
		}
		if len(cmds) > 0 && !c.Closed() {
			if lp.ah != nil {
				if !lp.ah.ServeAsync(c, cmds) {
					s.waiting, s.perr, s.attack = true, perr, attack >= 0
					lp.stopped = append(lp.stopped, c)
					return false
				}
			} else if lp.l.serveSync(c, cn, cmds); cn.detached {
				lp.close(c, errLoopDetach)
				return false
			}
		}
		if !lp.after(c, attack >= 0, perr) {
			return false
		}
		if !cn.rd.Buffered() {
			return true
		}
	}
}

// after finishes a served read (Listener.afterServe) and reports whether
// c goes on.
func (lp *eventLoop) after(c *Client, attack bool, perr error) bool {
	end, err := lp.l.afterServe(c, c.own, attack, perr)
	s := c.own.sock
	s.lastActive = time.Now() // idle counts from the end of a pipeline, as after a read
	if end {
		lp.end(c, err)
		return false
	}
	if len(s.pend) > 0 {
		lp.settle(c)
		return false
	}
	return true
}

// resume goes on with c's pipeline, whose writes were answered.
func (lp *eventLoop) resume(c *Client) {
	s := c.own.sock
	if lp.ah == nil || !s.waiting || lp.conns[int32(s.fd)] != c {
		return
	}
	s.waiting = false
	if !lp.ah.Resume(c) {
		s.waiting = true
		lp.stopped = append(lp.stopped, c)
		return
	}
	if !lp.after(c, s.attack, s.perr) {
		return
	}
	s.perr, s.attack = nil, false
	if s.hup {
		lp.end(c, nil)
		return
	}
	if lp.serveBuffered(c) {
		lp.settle(c)
	}
}

// end ends c once its replies are written.
func (lp *eventLoop) end(c *Client, err error) {
	s := c.own.sock
	if len(s.pend) > 0 && !s.broken {
		s.closing, s.endErr = true, err
		lp.settle(c)
		return
	}
	lp.close(c, err)
}

// close closes c's socket and lets the Listener forget it.
func (lp *eventLoop) close(c *Client, err error) {
	s := c.own.sock
	if lp.conns[int32(s.fd)] != c {
		return
	}
	delete(lp.conns, int32(s.fd))
	if s.mask != 0 {
		_ = lp.setMask(c, 0)
	}
	s.close()
	lp.l.finish(c, err)
}

// expireIdle ends the connections that sent nothing for d.
func (lp *eventLoop) expireIdle(d time.Duration, now time.Time) {
	for _, c := range lp.conns {
		s := c.own.sock
		if !s.waiting && len(s.pend) == 0 && now.Sub(s.lastActive) >= d {
			lp.close(c, nil)
		}
	}
}

// write sends b, keeping in pend what the socket does not take now.
func (s *loopSock) write(b []byte) error {
	if len(s.pend) > 0 {
		s.pend = append(s.pend, b...)
		return nil
	}
	rest, err := s.send(b)
	s.pend = append(s.pend, rest...)
	return err
}

// writePend sends what pend holds, as much as the socket takes.
func (s *loopSock) writePend() error {
	rest, err := s.send(s.pend)
	if err != nil {
		return err
	}
	s.pend = append(s.pend[:0], rest...) // rest is pend's tail: copy moves it down
	if len(s.pend) == 0 && cap(s.pend) > outKeep {
		s.pend = nil
	}
	return nil
}

// send writes b until the socket would block, and returns what is left;
// a failed write marks the socket broken.
func (s *loopSock) send(b []byte) ([]byte, error) {
	for len(b) > 0 {
		n, err := rawWrite(s.fd, b)
		switch {
		case n > 0:
			b = b[n:]
		case err == syscall.EINTR:
		case err == syscall.EAGAIN:
			return b, nil
		case err != nil:
			s.broken = true
			return nil, err
		default:
			s.broken = true
			return nil, io.ErrShortWrite
		}
	}
	return nil, nil
}

// shutdown shuts the socket down from any goroutine (Kill): its loop then
// sees it hang up. A closed descriptor is left alone.
func (s *loopSock) shutdown() {
	s.mu.Lock()
	if !s.closed {
		_ = syscall.Shutdown(s.fd, syscall.SHUT_RDWR)
	}
	s.mu.Unlock()
}
