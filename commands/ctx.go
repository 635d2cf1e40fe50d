package commands

import (
	"errors"
	"fmt"
	"strings"

	"github.com/digby-db/digby/resp"
	"github.com/digby-db/digby/store"
)

// Ctx is what a handler sees: its arguments, where to reply, and the
// transaction it runs in (nil for connection commands).
type Ctx struct {
	e    *Engine
	c    *resp.Client
	args [][]byte
	w    *resp.Writer
	tx   *store.Tx
	db   int
	now  int64 // unix ms, fixed for the command (for an EXEC, for all of it)
	exec bool  // running inside EXEC
	quit bool  // close the connection after the reply
	// sk is the table key of the command's first key, when submit made it
	// already (for the writer's hint): stored reuses it. more are those of
	// the keys after it that submit hinted (slot.hintMore), or for a read
	// those of all its keys that touchKeys made, in order, and next the
	// first of them stored has not yet given.
	sk   []byte
	more [][]byte
	next int
}

// replyError is a Redis error reply ("ERR …", "WRONGTYPE …") returned by a
// handler; its text is sent as is.
type replyError string

func (e replyError) Error() string { return string(e) }

// Error replies Redis sends in many places.
const (
	errSyntax    = replyError("ERR syntax error")
	errNotInt    = replyError("ERR value is not an integer or out of range")
	errNotFloat  = replyError("ERR value is not a valid float")
	errWrongType = replyError("WRONGTYPE Operation against a key holding the wrong kind of value")
	errOverflow  = replyError("ERR increment or decrement would overflow")
	errNoKey     = replyError("ERR no such key")
	errDBRange   = replyError("ERR DB index is out of range")
)

// errKeyLong names MaxKeyLen, so the two cannot drift apart.
var errKeyLong = replyError(fmt.Sprintf("ERR key too long: digby keys are at most %d bytes", uint64(MaxKeyLen)))

// errArity is the wrong-number-of-arguments error for a command name ("config|get").
func errArity(name string) replyError {
	return replyError(fmt.Sprintf("ERR wrong number of arguments for '%s' command", name))
}

// errorReply turns a handler or store error into the error line sent to the client.
func errorReply(err error) string {
	var re replyError
	if errors.As(err, &re) {
		return string(re)
	}
	if errors.Is(err, store.ErrFailed) {
		return misconf(err)
	}
	if errors.Is(err, store.ErrKeyTooLarge) {
		return string(errKeyLong)
	}
	if errors.Is(err, store.ErrValueTooLarge) {
		return "ERR string exceeds maximum allowed size"
	}
	msg := err.Error()
	if strings.HasPrefix(msg, "panic") {
		return "ERR internal error: " + msg
	}
	return "ERR " + msg
}

// misconf is the reply to writes while the store is in its failed state.
func misconf(cause error) string {
	return "MISCONF digby is unable to persist to disk (" + cause.Error() + "): writes are refused until the server is restarted; reads still work"
}

// arg returns argument i as a string.
func (x *Ctx) arg(i int) string { return string(x.args[i]) }

// argIs reports whether argument i equals word, ignoring case.
func (x *Ctx) argIs(i int, word string) bool { return strings.EqualFold(string(x.args[i]), word) }
