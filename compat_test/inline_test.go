package compat

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"strings"
	"testing"
	"time"
)

// inlineCase is raw client input holding inline requests (lines not
// starting with '*'), sent as is to both servers.
type inlineCase struct {
	name string
	in   string
	// closes marks input after which the server replies and closes the
	// connection (a protocol error, or QUIT).
	closes bool
	// tail marks a closing case with input after the line that closes; it
	// is always sent in one write, as a server that closed before reading it
	// would reset the connection and its reply could be lost.
	tail bool
}

// inlineCases are the inputs whose replies digby must send byte for byte as
// Redis does. Replies reveal the parsed arguments: ECHO returns its one
// argument, SET/MSET then GET/MGET return the values stored, and a wrong
// argument count gives Redis's arity error. Every case uses its own keys.
var inlineCases = []inlineCase{
	// plain words
	{name: "word", in: "PING\r\n"},
	{name: "word-lower", in: "ping\r\necho hello\r\n"},
	{name: "echo", in: "ECHO hello\r\n"},
	{name: "set-get", in: "SET inl:plain v1\r\nGET inl:plain\r\n"},
	{name: "arity-echo", in: "ECHO a b\r\n"},
	{name: "arity-echo-none", in: "ECHO\r\n"},
	{name: "mset-mget", in: "MSET inl:m1 one inl:m2 two\r\nMGET inl:m1 inl:m2 inl:m3\r\n"},
	{name: "unknown-command", in: "NOSUCH a b\r\n"},
	{name: "star-arg", in: "ECHO *1\r\n"},
	{name: "high-bytes", in: "SET inl:hi a\xa0b\x85c\xff\r\nGET inl:hi\r\n"},

	// blanks
	{name: "tab-separator", in: "ECHO\thello\r\n"},
	{name: "many-blanks", in: "   ECHO    spaced   \r\n"},
	{name: "mixed-blanks", in: "\t ECHO \t\t x \t\r\n"},
	{name: "blanks-arity", in: "ECHO  a \t b\r\n"},
	{name: "leading-vt-ff", in: "\v\f ECHO x\r\n"},
	{name: "vt-ff-inside-word", in: "SET inl:vt a\vb\fc\r\nGET inl:vt\r\n"},
	{name: "cr-inside-line", in: "ECHO a\rb\r\n"},
	{name: "cr-separator", in: "ECHO\rcr\r\n"},

	// double quotes
	{name: "dq-space", in: "ECHO \"hello world\"\r\n"},
	{name: "dq-escapes", in: "ECHO \"n\\nr\\rt\\tb\\ba\\aq\\\"s\\\\e\"\r\n"},
	{name: "dq-hex", in: "ECHO \"\\x41\\x6a\\x7A\\x7e\"\r\n"},
	{name: "dq-hex-nul", in: "ECHO \"a\\x00b\"\r\n"},
	{name: "dq-hex-high", in: "ECHO \"\\xff\\xFE\\x80\"\r\n"},
	{name: "dq-hex-invalid", in: "ECHO \"\\xZZ\"\r\n"},
	{name: "dq-hex-short", in: "ECHO \"\\x4\"\r\n"},
	{name: "dq-hex-half", in: "ECHO \"\\x4g\"\r\n"},
	{name: "dq-other-escape", in: "ECHO \"\\q\\0\\'\\ \"\r\n"},
	{name: "dq-raw-controls", in: "ECHO \"tab\there\rcr\vvt\"\r\n"},
	{name: "dq-single-inside", in: "ECHO \"it's\"\r\n"},
	{name: "dq-crlf-escape", in: "ECHO \"a\\r\\nb\"\r\n"},
	{name: "dq-close-then-vt", in: "ECHO \"a\"\vb\r\n"},
	{name: "dq-close-then-cr", in: "ECHO \"a\"\rb\r\n"},
	{name: "dq-set-get", in: "SET \"inl:dq key\" \"v a l\"\r\nGET \"inl:dq key\"\r\n"},
	{name: "dq-command-name", in: "\"ECHO\" x\r\n"},

	// single quotes
	{name: "sq-space", in: "ECHO 'hello world'\r\n"},
	{name: "sq-escaped-quote", in: "ECHO 'it\\'s'\r\n"},
	{name: "sq-no-escapes", in: "ECHO 'a\\nb\\x41\\\\c'\r\n"},
	{name: "sq-double-inside", in: "ECHO 'say \"hi\"'\r\n"},
	{name: "sq-set-get", in: "SET 'inl:sq key' 'v\\'1'\r\nGET 'inl:sq key'\r\n"},

	// quotes opening in the middle of a word
	{name: "mid-dq", in: "ECHO a\"b c\"\r\n"},
	{name: "mid-sq", in: "ECHO a'b c'\r\n"},
	{name: "mid-command", in: "EC\"HO\" mid\r\n"},
	{name: "mid-set-get", in: "SET inl:mid x\"y z\"\r\nGET inl:mid\r\n"},
	{name: "mid-escape", in: "ECHO pre\"\\x41\\n\"\r\n"},

	// empty quoted arguments
	{name: "empty-dq", in: "ECHO \"\"\r\n"},
	{name: "empty-sq", in: "ECHO ''\r\n"},
	{name: "empty-arity", in: "ECHO \"\" ''\r\n"},
	{name: "empty-mset", in: "MSET inl:e1 \"\" inl:e2 ''\r\nMGET inl:e1 inl:e2\r\nSTRLEN inl:e1\r\n"},
	{name: "empty-command", in: "\"\" a\r\n"},
	{name: "empty-command-alone", in: "\"\"\r\n"},

	// line ends
	{name: "lf", in: "ECHO lf\n"},
	{name: "crlf", in: "ECHO crlf\r\n"},
	{name: "cr-cr-lf", in: "ECHO cr\r\r\n"},
	{name: "dq-lf", in: "ECHO \"q\"\n"},
	{name: "sq-lf", in: "ECHO 'q'\n"},
	{name: "dq-raw-cr", in: "ECHO \"a\rb\"\n"},
	{name: "mixed-ends", in: "ECHO one\nECHO two\r\nECHO three\n"},

	// empty and blank lines produce no reply
	{name: "empty-lines", in: "ECHO one\r\n\r\n\n   \r\n\t\n \t \nECHO two\r\n"},
	{name: "only-empty", in: "\r\n\n\r\n"},
	{name: "blank-then-multibulk", in: "  \r\n*2\r\n$4\r\nECHO\r\n$2\r\nmb\r\n"},

	// A raw NUL byte: Redis 7 looks for line ends with strchr, which stops
	// at the NUL, so such a line never ends; it waits for more input until
	// the request is too big. (A case that leaves it waiting cannot end
	// with the marker, so each of these ends too big.)
	{name: "nul-inline", in: "ECHO a\x00b\r\n" + strings.Repeat("c", 64*1024), closes: true},
	{name: "nul-after-command", in: "ECHO a\r\n\x00ECHO b\r\n" + strings.Repeat("c", 64*1024), closes: true},
	{name: "nul-mbulk-header", in: "*1\r\n$4\r\nPING\r\n*1\x00\r\n$4\r\nPING\r\n" + strings.Repeat("c", 64*1024), closes: true},

	// Multibulk framing as Redis 7 reads it: a header line ends at its
	// first '\r' and the byte after it is skipped unread; the two bytes
	// after a bulk are skipped unread; a header with no '\r' waits (until
	// the request is too big); the '$' of a bulk header is checked once
	// its line is whole.
	{name: "mb-bulk-end-unchecked", in: "*1\r\n$4\r\nPINGxx"},
	{name: "mb-bulk-end-then-next", in: "*2\r\n$4\r\nECHO\r\n$2\r\nabXY*1\r\n$4\r\nPING\r\n"},
	{name: "mb-header-cr-any", in: "*2\rX$4\rYECHO\r\n$2\r-hi\r\n"},
	{name: "mb-bulk-short-tail", in: "*2\r\n$4\r\nECHO\r\n$1\r\nab\r\n"},
	{name: "mb-lf-only-waits", in: "*1\n$4\nPING\n" + strings.Repeat("c", 64*1024), closes: true},
	{name: "mb-lf-in-count", in: "*1\n$4\r\nPING\r\n", closes: true, tail: true},
	{name: "mb-lf-in-bulk-len", in: "*1\r\n$4\n\r\nPING\r\n", closes: true, tail: true},
	{name: "mb-dollar-waits", in: "*1\r\nX" + strings.Repeat("c", 64*1024), closes: true},

	// HTTP sent to the port (cross-protocol scripting): POST or Host: as a
	// command closes the connection with no reply, not even to the
	// commands before it in the same read
	{name: "http-post", in: "POST / HTTP/1.1\r\nHost: x\r\n\r\n", closes: true, tail: true},
	{name: "http-host-after-command", in: "ECHO a\r\nHost: x\r\n", closes: true, tail: true},

	// pipelines
	{name: "pipeline", in: "SET inl:p1 a\r\nGET inl:p1\r\nECHO \"x y\"\r\nPING\nECHO 'z'\r\nGET inl:p1\n"},
	{name: "mixed-inline-multibulk", in: "ECHO inline\r\n*2\r\n$4\r\nECHO\r\n$5\r\nmulti\r\nECHO 'back'\r\n*1\r\n$4\r\nPING\r\nECHO \"end\"\n"},
	{name: "multibulk-quotes-literal", in: "*2\r\n$4\r\nECHO\r\n$5\r\n\"a b\"\r\nECHO \"a b\"\r\n"},
	{name: "empty-multibulk-then-inline", in: "*0\r\nECHO after-empty\r\n"},
	{name: "multi-exec", in: "MULTI\r\nSET inl:tx 'a b'\r\nECHO plain\r\nGET inl:tx\r\nEXEC\r\n"},
	{name: "many-args", in: manyArgs()},
	{name: "long-arg", in: "ECHO " + strings.Repeat("L", 60000) + "\r\nECHO short\r\n"},

	// protocol errors (and QUIT): the reply, then the connection closes
	{name: "err-dq-unbalanced", in: "ECHO \"abc\r\n", closes: true},
	{name: "err-sq-unbalanced", in: "ECHO 'abc\r\n", closes: true},
	{name: "err-dq-escaped-close", in: "ECHO \"abc\\\"\r\n", closes: true},
	{name: "err-sq-escaped-close", in: "ECHO 'a\\\\'\r\n", closes: true},
	{name: "err-dq-trailing-backslash", in: "ECHO \"a\\\r\n", closes: true},
	{name: "err-dq-followed", in: "ECHO \"abc\"def\r\n", closes: true},
	{name: "err-sq-followed", in: "ECHO 'abc'def\r\n", closes: true},
	{name: "err-dq-then-sq", in: "ECHO \"a\"'b'\r\n", closes: true},
	{name: "err-mid-followed", in: "ECHO a\"b\"c\r\n", closes: true},
	{name: "err-lf-only", in: "ECHO \"abc\n", closes: true},
	{name: "err-after-commands", in: "SET inl:before ok\r\nGET inl:before\r\nECHO \"bad\r\n", closes: true},
	{name: "err-rest-ignored", in: "ECHO ok\r\nECHO 'bad\r\nECHO never\r\n*1\r\n$4\r\nPING\r\n", closes: true, tail: true},
	{name: "err-after-multibulk", in: "*2\r\n$4\r\nECHO\r\n$2\r\nmb\r\nECHO x\"y\"z\r\n", closes: true},
	{name: "quit", in: "ECHO a\r\nQUIT\r\nECHO never\r\n", closes: true, tail: true},
	{name: "err-too-big", in: strings.Repeat("a", 64*1024+1), closes: true},
	{name: "err-too-big-after-command", in: "ECHO ok\r\n" + strings.Repeat("b", 64*1024+1), closes: true},
}

// manyArgs is an inline MSET of 300 pairs and an MGET of them all: more
// arguments than one line usually has.
func manyArgs() string {
	var b strings.Builder
	b.WriteString("MSET")
	for i := 0; i < 300; i++ {
		fmt.Fprintf(&b, " inl:many%d 'v %d'", i, i)
	}
	b.WriteString("\r\nMGET")
	for i := 0; i < 300; i += 7 {
		fmt.Fprintf(&b, " inl:many%d", i)
	}
	b.WriteString("\r\n")
	return b.String()
}

// inlineEnd is sent after a case's input (when it does not close the
// connection) and its reply marks the end of the case's replies.
var (
	inlineEnd      = encode("ECHO", "inline-case-end")
	inlineEndReply = "$15\r\ninline-case-end\r\n"
)

// inlineExchange sends in to addr on a new connection, chunk bytes per
// write (all at once if chunk <= 0), and returns every byte the server
// sends back. For a closing case it reads until the server closes; for the
// others it sends inlineEnd after in and reads up to its reply, which it
// leaves out. The deadline only keeps a broken server from hanging the test.
func inlineExchange(addr, in string, closes bool, chunk int) (string, error) {
	c, err := net.Dial("tcp", addr)
	if err != nil {
		return "", err
	}
	defer c.Close()
	if err := c.SetDeadline(time.Now().Add(10 * time.Second)); err != nil {
		return "", err
	}
	data := []byte(in)
	if !closes {
		data = append(data, inlineEnd...)
	}
	if chunk <= 0 {
		chunk = len(data)
	}
	for p := 0; p < len(data); p += chunk {
		if _, err := c.Write(data[p:min(p+chunk, len(data))]); err != nil {
			return "", fmt.Errorf("write: %w", err)
		}
	}
	var out []byte
	buf := make([]byte, 64<<10)
	for {
		n, err := c.Read(buf)
		out = append(out, buf[:n]...)
		if !closes && bytes.HasSuffix(out, []byte(inlineEndReply)) {
			return string(out[:len(out)-len(inlineEndReply)]), nil
		}
		switch {
		case closes && errors.Is(err, io.EOF):
			return string(out), nil
		case errors.Is(err, os.ErrDeadlineExceeded):
			if closes {
				return string(out), fmt.Errorf("connection not closed")
			}
			return string(out), fmt.Errorf("end marker not answered")
		case err != nil:
			return string(out), err
		}
	}
}

// flushBoth empties every database of both servers.
func flushBoth(t *testing.T, servers ...*server) {
	t.Helper()
	for _, s := range servers {
		if _, err := dialRaw(t, s.addr).do("FLUSHALL"); err != nil {
			t.Fatal(err)
		}
	}
}

// runInlineCases sends every case to redis and digby with the given write
// size and requires identical replies and, for error cases, that both close.
func runInlineCases(t *testing.T, redis, digby *server, chunk int) {
	for _, tc := range inlineCases {
		t.Run(tc.name, func(t *testing.T) {
			size := chunk
			switch {
			case tc.tail:
				size = 0
			case size > 0 && len(tc.in) > 4096:
				size = 4096 // keep long inputs to a sane number of writes
			}
			want, werr := inlineExchange(redis.addr, tc.in, tc.closes, size)
			got, gerr := inlineExchange(digby.addr, tc.in, tc.closes, size)
			if werr != nil {
				t.Fatalf("redis: %v after %q", werr, want)
			}
			if gerr != nil {
				t.Fatalf("digby: %v after %q\ninput %q\nredis %q", gerr, got, tc.in, want)
			}
			if got != want {
				t.Errorf("input %q:\nredis %q\ndigby %q", tc.in, want, got)
			}
		})
	}
}

// TestInlineDifferential sends each inline input in one write to a real
// redis-server and to digby-server and requires the same reply bytes. It
// covers argument splitting (blanks, tabs, double quotes with every escape,
// single quotes, quotes inside a word, empty quoted arguments), CRLF and bare
// LF line ends, empty and blank lines, pipelines, inline requests mixed with
// multibulk ones, and the protocol errors after which both servers close.
func TestInlineDifferential(t *testing.T) {
	redis := startRedis(t)
	digby := startDigby(t)
	flushBoth(t, redis, digby)
	runInlineCases(t, redis, digby, 0)
}

// TestInlineDifferentialSplit sends the same inputs one byte per write (4 KiB
// for long inputs; in one write for input after a malformed line), so
// requests arrive cut at every position, and requires the replies
// TestInlineDifferential requires.
func TestInlineDifferentialSplit(t *testing.T) {
	redis := startRedis(t)
	digby := startDigby(t)
	flushBoth(t, redis, digby)
	runInlineCases(t, redis, digby, 1)
}
