//go:build !linux

package resp

import "errors"

// errNoLoop is why Options.EventLoops has no effect on this system.
var errNoLoop = errors.New("event loops need Linux's epoll")

// write is never reached: no loopSock is made without event loops.
func (s *loopSock) write(b []byte) error { return errNoLoop }

// shutdown is never reached: no loopSock is made without event loops.
func (s *loopSock) shutdown() {}

// startLoops reports that event loops are not available here; the
// Listener serves each connection with a goroutine instead.
func (l *Listener) startLoops(n int) error { return errNoLoop }

// takeSocket leaves cn with its net.Conn: there are no loops.
func (l *Listener) takeSocket(cn *conn) {}

// close is never reached: no loopSock is made without event loops.
func (s *loopSock) close() {}

// toLoop is never reached: startLoops failed.
func (l *Listener) toLoop(c *Client) bool { return false }

// stopLoops has no loops to stop.
func (l *Listener) stopLoops() {}

type eventLoop struct{}
