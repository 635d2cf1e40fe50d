package resp

import (
	"errors"
	"sync"
	"time"
)

// errLoopDetach is ReadCommand's error on a connection an event loop
// serves: such a connection cannot be detached.
var errLoopDetach = errors.New("a connection served by an event loop cannot be detached")

// loopSock is a connection's socket under an event loop (Options.EventLoops):
// a non-blocking descriptor of the loop's own, and what the loop knows of
// it. Only the loop's goroutine uses it, except shutdown (Kill), which
// holds mu and never touches a closed descriptor (whose number may already
// name another connection's socket).
type loopSock struct {
	fd int

	mu     sync.Mutex
	closed bool // fd is closed (under mu)

	// pend is output the socket has not taken yet; while it is not empty
	// nothing more of the connection is served.
	pend []byte
	// broken: a write to the socket failed (pend will never go out).
	broken bool
	// mask is the events the loop's epoll set waits for on fd (0: fd is
	// not in the set).
	mask uint32
	// waiting: an AsyncHandler stopped the connection's pipeline to wait
	// for writes; Wake, then Resume, follow.
	waiting bool
	// perr and attack are what the parse that read the waiting pipeline
	// ended with, handled once it ends.
	perr   error
	attack bool
	// hup: the peer has gone (or Kill shut the socket down) while the
	// pipeline waited; the connection ends once it has been resumed.
	hup bool
	// closing: close once pend is written (QUIT, a framing error's reply);
	// endErr is what ended it.
	closing bool
	endErr  error
	// lastActive is when input last arrived, a pipeline last ended or
	// pending output last drained (the idle timeout counts from it, as the
	// goroutine form's read deadline is set after each reply).
	lastActive time.Time
}
