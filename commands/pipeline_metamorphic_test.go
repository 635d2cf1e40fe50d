package commands

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestPipelineMetamorphic checks that how a client's requests reach the
// server does not change what it answers. For each seed it generates a
// deterministic random sequence of a few hundred commands over a small key
// space and a few databases (string commands with and without options,
// key commands, MULTI/EXEC/DISCARD blocks, WATCH, SELECT, connection
// commands, and wrong-arity and unknown commands that only produce
// errors), and runs it against two fresh in-process servers:
//
//   - one command at a time, multibulk-framed, each reply read before the
//     next command is sent;
//   - all commands pipelined on one connection, each framed as multibulk or
//     inline (with blanks, quotes and escapes varied) and with empty
//     requests interleaved, the byte stream cut into writes of 1 byte to a
//     few KiB with short random pauses.
//
// The reply byte streams must be identical. A pass shows, for these
// commands and seeds, that the in-place request reader frames requests the same
// however they are split across reads and whichever framing is used
// (arguments kept by a MULTI queue included), and that the command layer's
// pipeline (writes submitted to the writer together, reads on a shared
// snapshot after the connection's earlier writes, connection commands in
// between) gives each command the result it has when run alone, in order.
// Nothing in the sequence depends on the clock (expiry times are far in
// the future and never read back); deadlines only guard against hangs.
func TestPipelineMetamorphic(t *testing.T) {
	seeds, n := 20, 300
	if os.Getenv("DIGBY_LONG") == "1" {
		seeds, n = 400, 600
	}
	for seed := uint64(1); seed <= uint64(seeds); seed++ {
		t.Run(fmt.Sprintf("seed=%d", seed), func(t *testing.T) {
			t.Parallel()
			g := &metaGen{r: rand.New(rand.NewPCG(seed, 0x6d657461))}
			cmds := g.sequence(n)
			one := metaOneByOne(t, cmds)
			piped := metaPipelined(t, cmds, rand.New(rand.NewPCG(seed, 0x70697065)))
			metaCompare(t, cmds, one, piped)
		})
	}
}

// metaCompare reports the first command whose replies differ.
func metaCompare(t *testing.T, cmds [][]string, one, piped [][]byte) {
	t.Helper()
	if len(one) != len(cmds) || len(piped) != len(cmds) {
		t.Fatalf("replies: %d one at a time, %d pipelined, for %d commands", len(one), len(piped), len(cmds))
	}
	for i := range cmds {
		if !bytes.Equal(one[i], piped[i]) {
			var ctx strings.Builder
			for j := max(0, i-12); j <= i; j++ {
				fmt.Fprintf(&ctx, "  #%d %q -> %q\n", j, cmds[j], one[j])
			}
			t.Fatalf("command #%d %q:\n one at a time: %q\n pipelined:     %q\nthe commands before it and their replies one at a time:\n%s",
				i, cmds[i], one[i], piped[i], ctx.String())
		}
	}
	if !bytes.Equal(bytes.Join(one, nil), bytes.Join(piped, nil)) {
		t.Fatal("reply streams differ") // unreachable when every reply matches
	}
}

// metaDial connects to a fresh server, with a deadline against hangs.
func metaDial(t *testing.T) net.Conn {
	t.Helper()
	s, _ := startServer(t)
	nc, err := net.Dial("tcp", s.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { nc.Close() })
	if err := nc.SetDeadline(time.Now().Add(2 * time.Minute)); err != nil {
		t.Fatal(err)
	}
	return nc
}

// metaOneByOne sends each command and reads its reply before the next.
func metaOneByOne(t *testing.T, cmds [][]string) [][]byte {
	t.Helper()
	nc := metaDial(t)
	br := bufio.NewReader(nc)
	out := make([][]byte, 0, len(cmds))
	for i, args := range cmds {
		if _, err := nc.Write(appendMultibulk(nil, args)); err != nil {
			t.Fatalf("write #%d %q: %v", i, args, err)
		}
		reply, err := readRESP(br, nil)
		if err != nil {
			t.Fatalf("reply to #%d %q: %v (after %q)", i, args, err, reply)
		}
		out = append(out, reply)
	}
	return out
}

// metaPipelined writes all commands at once from another goroutine, in
// random-sized pieces with random pauses, and reads one reply per command.
func metaPipelined(t *testing.T, cmds [][]string, r *rand.Rand) [][]byte {
	t.Helper()
	nc := metaDial(t)
	stream := metaEncode(cmds, r)
	type cut struct {
		n     int
		pause time.Duration
	}
	// The cuts are decided here, so that they depend on the seed alone.
	// Most seeds mix small, medium and large writes; some send only tiny
	// ones (every request split across reads), some only large ones
	// without pauses (long pipelines, buffers filled to the brim).
	var cuts []cut
	profile := r.IntN(6)
	for rest := len(stream); rest > 0; {
		var n int
		switch k := r.IntN(10); {
		case profile == 0:
			n = 1 + r.IntN(8)
		case profile == 1:
			n = 1024 + r.IntN(3072)
		case k < 4:
			n = 1 + r.IntN(16)
		case k < 8:
			n = 1 + r.IntN(512)
		default:
			n = 1 + r.IntN(4096)
		}
		n = min(n, rest)
		var pause time.Duration
		if (profile == 0 && r.IntN(64) == 0) || (profile > 1 && r.IntN(4) == 0) {
			pause = time.Duration(r.IntN(300)) * time.Microsecond
		}
		cuts = append(cuts, cut{n, pause})
		rest -= n
	}
	werr := make(chan error, 1)
	go func() {
		b := stream
		for _, c := range cuts {
			if _, err := nc.Write(b[:c.n]); err != nil {
				werr <- err
				return
			}
			b = b[c.n:]
			if c.pause > 0 {
				time.Sleep(c.pause)
			}
		}
		werr <- nil
	}()
	br := bufio.NewReader(nc)
	out := make([][]byte, 0, len(cmds))
	for i, args := range cmds {
		reply, err := readRESP(br, nil)
		if err != nil {
			nc.Close() // stops the writer
			t.Fatalf("pipelined reply to #%d %q: %v (after %q)", i, args, err, reply)
		}
		out = append(out, reply)
	}
	if err := <-werr; err != nil {
		t.Fatalf("pipelined write: %v", err)
	}
	return out
}

// metaEncode frames the commands for the pipelined run: multibulk, or
// inline when the coin says so (always for plain words, sometimes with
// quotes and escapes otherwise), with empty requests (which get no reply)
// between some of them.
func metaEncode(cmds [][]string, r *rand.Rand) []byte {
	var b []byte
	for _, args := range cmds {
		if r.IntN(25) == 0 {
			b = append(b, [...]string{"\r\n", "\n", "   \r\n", "*0\r\n", "*-1\r\n"}[r.IntN(5)]...)
		}
		plain := true
		for _, a := range args {
			plain = plain && isPlainWord(a)
		}
		switch {
		case plain && r.IntN(2) == 0, !plain && r.IntN(8) == 0:
			b = appendInline(b, args, r)
		default:
			b = appendMultibulk(b, args)
		}
	}
	return b
}

// isPlainWord reports whether a may be sent unquoted in an inline request.
func isPlainWord(a string) bool {
	if a == "" {
		return false
	}
	for i := 0; i < len(a); i++ {
		if c := a[i]; c <= ' ' || c >= 0x7f || c == '"' || c == '\'' {
			return false
		}
	}
	return true
}

func appendMultibulk(b []byte, args []string) []byte {
	b = append(b, '*')
	b = strconv.AppendInt(b, int64(len(args)), 10)
	b = append(b, '\r', '\n')
	for _, a := range args {
		b = append(b, '$')
		b = strconv.AppendInt(b, int64(len(a)), 10)
		b = append(b, '\r', '\n')
		b = append(b, a...)
		b = append(b, '\r', '\n')
	}
	return b
}

// appendInline writes args as an inline request as sdssplitargs reads it:
// plain words bare or quoted, anything else in double quotes with escapes.
func appendInline(b []byte, args []string, r *rand.Rand) []byte {
	blanks := []string{" ", " ", " ", "  ", "\t", " \t "}
	if r.IntN(8) == 0 {
		b = append(b, blanks[r.IntN(len(blanks))]...)
	}
	for i, a := range args {
		if i > 0 {
			b = append(b, blanks[r.IntN(len(blanks))]...)
		}
		k := r.IntN(10)
		switch {
		case isPlainWord(a) && (i == 0 || k < 7):
			b = append(b, a...)
		case isPlainWord(a) && k < 8 && !strings.Contains(a, `\`):
			b = append(b, '\'')
			b = append(b, a...)
			b = append(b, '\'')
		default:
			b = append(b, '"')
			for j := 0; j < len(a); j++ {
				switch c := a[j]; {
				case c == '"' || c == '\\':
					b = append(b, '\\', c)
				case c < ' ' || c >= 0x7f:
					b = append(b, fmt.Sprintf(`\x%02x`, c)...)
				default:
					b = append(b, c)
				}
			}
			b = append(b, '"')
		}
	}
	if r.IntN(8) == 0 {
		b = append(b, ' ')
	}
	if r.IntN(3) == 0 {
		return append(b, '\n')
	}
	return append(b, '\r', '\n')
}

// readRESP appends one complete RESP2 reply (arrays nested to any depth)
// read from br to out.
func readRESP(br *bufio.Reader, out []byte) ([]byte, error) {
	line, err := br.ReadBytes('\n')
	out = append(out, line...)
	if err != nil {
		return out, err
	}
	if len(line) < 3 || line[len(line)-2] != '\r' {
		return out, fmt.Errorf("malformed reply line %q", line)
	}
	body := string(line[1 : len(line)-2])
	switch line[0] {
	case '+', '-', ':':
		return out, nil
	case '$':
		n, err := strconv.Atoi(body)
		if err != nil || n < -1 {
			return out, fmt.Errorf("bad bulk length %q", line)
		}
		if n == -1 {
			return out, nil
		}
		start := len(out)
		out = append(out, make([]byte, n+2)...)
		if _, err := io.ReadFull(br, out[start:]); err != nil {
			return out, err
		}
		if !bytes.HasSuffix(out, []byte("\r\n")) {
			return out, fmt.Errorf("bulk of %d bytes not ended by CRLF", n)
		}
		return out, nil
	case '*':
		n, err := strconv.Atoi(body)
		if err != nil || n < -1 {
			return out, fmt.Errorf("bad array length %q", line)
		}
		for i := 0; i < n; i++ {
			if out, err = readRESP(br, out); err != nil {
				return out, err
			}
		}
		return out, nil
	}
	return out, fmt.Errorf("unexpected reply type %q", line)
}

// metaGen generates a command sequence from its random source.
type metaGen struct {
	r     *rand.Rand
	out   [][]string
	depth int // inside a generated MULTI block
}

// pairs is the command name followed by n key-value pairs.
func (g *metaGen) pairs(name string, n int) []string {
	args := []string{name}
	for range n {
		args = append(args, g.key(), g.value())
	}
	return args
}

func (g *metaGen) sequence(n int) [][]string {
	for len(g.out) < n {
		g.command()
	}
	return g.out
}

func (g *metaGen) emit(args ...string) {
	// vary the command name's case: it must not matter
	switch g.r.IntN(6) {
	case 0:
		args[0] = strings.ToLower(args[0])
	case 1:
		b := []byte(strings.ToLower(args[0]))
		for i := range b {
			if g.r.IntN(2) == 0 && 'a' <= b[i] && b[i] <= 'z' {
				b[i] -= 'a' - 'A'
			}
		}
		args[0] = string(b)
	}
	g.out = append(g.out, args)
}

func (g *metaGen) pick(s ...string) string { return s[g.r.IntN(len(s))] }

// key returns a key of the small key space, now and then an unusual one.
func (g *metaGen) key() string {
	if g.r.IntN(12) == 0 {
		return g.pick("", "sp ace", "nul\x00key", "crlf\r\nkey", `q"uote`, "k0 ")
	}
	return g.pick("k0", "k1", "k2", "k3", "k4", "k5", "n0", "n1", "n2")
}

func (g *metaGen) keys(max int) []string {
	ks := make([]string, 1+g.r.IntN(max))
	for i := range ks {
		ks[i] = g.key()
	}
	return ks
}

func (g *metaGen) word(n int) string {
	const letters = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.:"
	b := make([]byte, n)
	for i := range b {
		b[i] = letters[g.r.IntN(len(letters))]
	}
	return string(b)
}

// value returns a value: a word, a number, unusual bytes or a long string.
func (g *metaGen) value() string {
	switch k := g.r.IntN(20); {
	case k < 8:
		return g.word(1 + g.r.IntN(8))
	case k < 14:
		return g.num()
	case k < 17:
		return g.pick("", "hello world", "a\r\nb", "\x00\xff\x01", `"quoted"`, `back\slash`, "'single'", "tab\tx", "*3", "$5")
	default:
		return g.word(200 + g.r.IntN(3000))
	}
}

func (g *metaGen) num() string {
	switch g.r.IntN(8) {
	case 0:
		return g.pick("9223372036854775807", "-9223372036854775808", "9223372036854775806", "-9223372036854775807")
	case 1:
		return g.pick("1.5", "x", "", " 1", "01", "+1", "1e3", "99999999999999999999")
	default:
		return strconv.Itoa(g.r.IntN(200) - 50)
	}
}

func (g *metaGen) index() string {
	switch g.r.IntN(6) {
	case 0:
		return g.pick("-1", "-100", "9223372036854775807", "-9223372036854775808", "x")
	default:
		return strconv.Itoa(g.r.IntN(40) - 10)
	}
}

func (g *metaGen) db() string {
	if g.r.IntN(10) == 0 {
		return g.pick("16", "-1", "x", "99")
	}
	return strconv.Itoa(g.r.IntN(4))
}

// setOpts returns SET's options: usually valid, now and then not.
func (g *metaGen) setOpts() []string {
	var o []string
	switch g.r.IntN(6) {
	case 0:
		o = append(o, "NX")
	case 1:
		o = append(o, "XX")
	}
	if g.r.IntN(3) == 0 {
		o = append(o, "GET")
	}
	switch g.r.IntN(10) {
	case 0:
		o = append(o, "EX", "1000000") // never expires during the run
	case 1:
		o = append(o, "KEEPTTL")
	case 2:
		o = append(o, g.pick("EX", "PX", "NX", "BOGUS")) // syntax or value errors
	}
	g.r.Shuffle(len(o), func(i, j int) { o[i], o[j] = o[j], o[i] })
	return o
}

func (g *metaGen) command() {
	r := g.r
	switch k := r.IntN(100); {
	case k < 10:
		g.emit(append([]string{"SET", g.key(), g.value()}, g.setOpts()...)...)
	case k < 14:
		g.emit("SET", g.key(), g.value())
	case k < 22:
		g.emit("GET", g.key())
	case k < 26:
		g.emit(append([]string{"MGET"}, g.keys(5)...)...)
	case k < 29:
		g.emit(g.pairs("MSET", 1+r.IntN(4))...)
	case k < 33:
		g.emit("INCR", g.key())
	case k < 36:
		g.emit(g.pick("INCRBY", "DECRBY"), g.key(), g.num())
	case k < 38:
		g.emit("DECR", g.key())
	case k < 42:
		g.emit("APPEND", g.key(), g.value())
	case k < 44:
		g.emit("STRLEN", g.key())
	case k < 47:
		g.emit(g.pick("GETRANGE", "GETRANGE", "SUBSTR"), g.key(), g.index(), g.index())
	case k < 50:
		off := strconv.Itoa(r.IntN(64))
		if r.IntN(8) == 0 {
			off = g.pick("-1", "x", "4000", "600")
		}
		g.emit("SETRANGE", g.key(), off, g.value())
	case k < 54:
		g.emit(append([]string{g.pick("DEL", "DEL", "UNLINK")}, g.keys(3)...)...)
	case k < 57:
		g.emit(append([]string{g.pick("EXISTS", "EXISTS", "TOUCH")}, g.keys(4)...)...)
	case k < 59:
		g.emit("TYPE", g.key())
	case k < 62:
		g.emit(g.pick("RENAME", "RENAME", "RENAMENX"), g.key(), g.key())
	case k < 65:
		args := []string{"COPY", g.key(), g.key()}
		if r.IntN(2) == 0 {
			args = append(args, "DB", g.db())
		}
		if r.IntN(2) == 0 {
			args = append(args, "REPLACE")
		}
		g.emit(args...)
	case k < 67:
		g.emit("GETDEL", g.key())
	case k < 68:
		g.emit(g.pick("GETSET", "SETNX"), g.key(), g.value())
	case k < 69:
		g.emit("GETEX", g.key(), g.pick("PERSIST", "EX", "EX", "BOGUS"), "1000000")
	case k < 70:
		g.emit("MOVE", g.key(), g.db())
	case k < 71:
		g.emit(g.pairs("MSETNX", 1+r.IntN(3))...)
	case k < 72:
		g.emit(g.pick("EXPIRE", "PERSIST"), g.key(), "1000000")
	case k < 76:
		g.emit("SELECT", g.db())
	case k < 78:
		g.emit("DBSIZE")
	case k < 80:
		if r.IntN(2) == 0 {
			g.emit("PING")
		} else {
			g.emit("PING", g.value())
		}
	case k < 82:
		g.emit("ECHO", g.value())
	case k < 85:
		g.wrong()
	case k < 86:
		if r.IntN(4) == 0 {
			g.emit("FLUSHDB")
		} else {
			g.emit("SWAPDB", g.db(), g.db())
		}
	case k < 88:
		g.emit(append([]string{"WATCH"}, g.keys(2)...)...)
	case k < 89:
		g.emit(g.pick("UNWATCH", "EXEC", "DISCARD", "MULTI"))
	case k < 90:
		g.emit("RESET")
	default:
		g.multi()
	}
}

// wrong emits a command that can only fail: unknown, or of wrong arity.
func (g *metaGen) wrong() {
	switch g.r.IntN(14) {
	case 0, 12:
		g.emit("NOSUCHCMD", g.key(), g.value())
	case 1, 13:
		g.emit("FOO")
	case 2:
		g.emit("GET")
	case 3:
		g.emit("GET", g.key(), g.key())
	case 4:
		g.emit("SET", g.key())
	case 5:
		g.emit("MSET", g.key())
	case 6:
		g.emit("INCR")
	case 7:
		g.emit("MGET")
	case 8:
		g.emit("RENAME", g.key())
	case 9:
		g.emit("SELECT")
	case 10:
		g.emit("ECHO", "a", "b")
	default:
		g.emit("GETRANGE", g.key(), "0")
	}
}

// multi emits a MULTI block: usually ended by EXEC, sometimes by DISCARD or
// not at all (the commands after it are queued until one comes).
func (g *metaGen) multi() {
	if g.depth > 0 {
		g.emit("MULTI") // nested: an error, the block goes on
		return
	}
	g.depth++
	defer func() { g.depth-- }()
	if g.r.IntN(4) == 0 {
		g.emit(append([]string{"WATCH"}, g.keys(2)...)...)
		if g.r.IntN(2) == 0 {
			g.command() // may touch a watched key before MULTI
		}
	}
	g.emit("MULTI")
	for i := g.r.IntN(7); i > 0; i-- {
		g.command()
	}
	switch k := g.r.IntN(25); {
	case k < 3:
		g.emit("DISCARD")
	case k < 4:
	default:
		g.emit("EXEC")
	}
}
