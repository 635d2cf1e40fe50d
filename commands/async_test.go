package commands

// Tests of the asynchronous form of the command layer's pipeline
// (Engine.ServeAsync and Engine.Resume), driven as an event loop drives
// them: a pipeline that stops to wait for its writes is resumed only once
// resp.Client.Wake says they are answered, and other connections are
// served meanwhile.
//
// They learn of the wake through resp.Client.SetWake, which sets the
// function Client.Wake calls (the Listener's event loop sets it itself).

import (
	"bufio"
	"bytes"
	"fmt"
	"math/rand/v2"
	"os"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/digby-db/digby/resp"
	"github.com/tidwall/redcon"
)

// asyncTimeout bounds every wait of these tests: for a wake, and for a
// ServeAsync or Resume call to return. Nothing legitimately takes long.
const asyncTimeout = 20 * time.Second

// asyncClient is a connection served through ServeAsync and Resume, whose
// wakes are counted and queued on woken.
type asyncClient struct {
	conn *fakeConn
	c    *resp.Client
	// woken holds a token once the connection is woken and not yet
	// resumed. It is buffered: the wake may come before ServeAsync or
	// Resume has even returned (writes answered at once, or a closed store).
	woken chan struct{}
	wakes atomic.Int64 // Client.Wake calls, in all
	stops int64        // ServeAsync/Resume calls that returned false
}

func newAsyncClient(id int64) *asyncClient {
	a := &asyncClient{conn: &fakeConn{}, woken: make(chan struct{}, 1)}
	a.c = resp.NewClient(a.conn, id)
	a.c.SetWake(func() {
		a.wakes.Add(1)
		select {
		case a.woken <- struct{}{}:
		default: // a second wake before the resume: wakes counts it
		}
	})
	return a
}

// bounded runs a ServeAsync or Resume call, failing the test when it does
// not return within asyncTimeout (a pipeline that hangs). The call runs in
// another goroutine; the channel orders it with the test's own.
func bounded(t *testing.T, what string, call func() bool) bool {
	t.Helper()
	done := make(chan bool, 1)
	go func() { done <- call() }()
	select {
	case ended := <-done:
		return ended
	case <-time.After(asyncTimeout):
		t.Fatalf("%s did not return within %v", what, asyncTimeout)
		return false
	}
}

// submitted hands a stopped pipeline's writes over, as an event loop
// does once it has served all it could (Engine.Submit).
func (a *asyncClient) submitted(e *Engine, ended bool) bool {
	if !ended {
		e.Submit([]*resp.Client{a.c})
	}
	return ended
}

// serve starts the pipeline cmds and records whether it stopped.
func (a *asyncClient) serve(t *testing.T, e *Engine, cmds []redcon.Command) bool {
	t.Helper()
	ended := bounded(t, "ServeAsync", func() bool { return a.submitted(e, e.ServeAsync(a.c, cmds)) })
	if !ended {
		a.stops++
	}
	return ended
}

// await waits for the wake of the stopped pipeline (the token may already
// be there), then checks that there was exactly one wake per stop.
func (a *asyncClient) await(t *testing.T) {
	t.Helper()
	select {
	case <-a.woken:
	case <-time.After(asyncTimeout):
		t.Fatalf("connection %d: no wake within %v after its pipeline stopped (%d stops, %d wakes)",
			a.c.ID, asyncTimeout, a.stops, a.wakes.Load())
	}
	a.checkWakes(t)
}

// checkWakes fails unless the connection was woken once per stop.
func (a *asyncClient) checkWakes(t *testing.T) {
	t.Helper()
	if w := a.wakes.Load(); w != a.stops {
		t.Fatalf("connection %d: %d wakes for %d stops", a.c.ID, w, a.stops)
	}
}

// resume resumes the woken pipeline and records whether it stopped again.
func (a *asyncClient) resume(t *testing.T, e *Engine) bool {
	t.Helper()
	ended := bounded(t, "Resume", func() bool { return a.submitted(e, e.Resume(a.c)) })
	if !ended {
		a.stops++
	}
	return ended
}

// serveAll serves cmds to its end as an event loop does with one
// connection: ServeAsync, then, each time it stops, the wake and Resume.
func (a *asyncClient) serveAll(t *testing.T, e *Engine, cmds []redcon.Command) {
	t.Helper()
	for ended := a.serve(t, e, cmds); !ended; ended = a.resume(t, e) {
		a.await(t)
	}
}

// syncClient is a connection served through Serve: the first command of a
// pipeline is Serve's argument, the others come from ReadPipeline.
type syncClient struct {
	conn *pipeConn
	c    *resp.Client
}

func newSyncClient(id int64) *syncClient {
	s := &syncClient{conn: &pipeConn{}}
	s.c = resp.NewClient(s.conn, id)
	return s
}

func (s *syncClient) serve(e *Engine, cmds []redcon.Command) {
	if len(cmds) == 0 {
		return
	}
	s.conn.rest = cmds[1:]
	e.Serve(s.c, cmds[0])
}

// toCommands makes a pipeline of args, with arguments of its own (a
// handler may keep them: each engine gets its own).
func toCommands(args [][]string) []redcon.Command {
	cmds := make([]redcon.Command, len(args))
	for i, a := range args {
		for _, s := range a {
			cmds[i].Args = append(cmds[i].Args, []byte(s))
		}
	}
	return cmds
}

// splitReplies cuts a RESP2 reply stream into one reply per command.
func splitReplies(b []byte) ([][]byte, error) {
	br := bufio.NewReader(bytes.NewReader(b))
	var out [][]byte
	for {
		if _, err := br.Peek(1); err != nil {
			return out, nil
		}
		reply, err := readRESP(br, nil)
		if err != nil {
			return out, fmt.Errorf("reply #%d: %v (%q)", len(out), err, reply)
		}
		out = append(out, reply)
	}
}

// compareReplies fails at the first command whose reply differs between
// the synchronous and the asynchronous serving of one connection's cmds.
func compareReplies(t *testing.T, who string, cmds [][]string, want, got []byte) {
	t.Helper()
	if bytes.Equal(want, got) {
		return
	}
	w, werr := splitReplies(want)
	g, gerr := splitReplies(got)
	for i := 0; i < len(w) && i < len(g); i++ {
		if bytes.Equal(w[i], g[i]) {
			continue
		}
		var ctx strings.Builder
		for j := max(0, i-10); j < i; j++ {
			fmt.Fprintf(&ctx, "  #%d %q -> %q\n", j, at(cmds, j), w[j])
		}
		t.Fatalf("%s, command #%d %q:\n Serve:      %q\n ServeAsync: %q\nthe commands before it and their replies through Serve:\n%s",
			who, i, at(cmds, i), w[i], g[i], ctx.String())
	}
	t.Fatalf("%s: %d replies through Serve (%v), %d through ServeAsync (%v), for %d commands; the shorter stream is a prefix of the longer",
		who, len(w), werr, len(g), gerr, len(cmds))
}

func at(cmds [][]string, i int) []string {
	if i < len(cmds) {
		return cmds[i]
	}
	return nil
}

// exec serves one command on a fresh synchronous connection to e and
// returns its reply.
func (s *syncClient) exec(t *testing.T, e *Engine, args ...string) []byte {
	t.Helper()
	before := s.conn.out.Len()
	s.serve(e, toCommands([][]string{args}))
	return bytes.Clone(s.conn.out.Bytes()[before:])
}

// bulks parses a RESP2 array of bulk strings (KEYS' reply).
func bulks(t *testing.T, b []byte) []string {
	t.Helper()
	br := bufio.NewReader(bytes.NewReader(b))
	line, err := br.ReadString('\n')
	if err != nil || !strings.HasPrefix(line, "*") {
		t.Fatalf("not an array: %q", b)
	}
	n, err := strconv.Atoi(strings.TrimSpace(line[1:]))
	if err != nil {
		t.Fatalf("not an array: %q", b)
	}
	out := make([]string, 0, n)
	for range n {
		el, err := readRESP(br, nil)
		if err != nil || len(el) == 0 || el[0] != '$' {
			t.Fatalf("array element %q of %q: %v", el, b, err)
		}
		i := bytes.IndexByte(el, '\n')
		out = append(out, string(el[i+1:len(el)-2]))
	}
	return out
}

// dumpStore lists every key of e's 16 databases with its type, value and
// whether it has a time to live (expiry times are minutes to days away
// and set at different instants in two runs: only their presence is
// compared). It reads through the command layer, on a connection of its own.
func dumpStore(t *testing.T, e *Engine) map[string]string {
	t.Helper()
	s := newSyncClient(1 << 40)
	defer e.Closed(s.c)
	out := map[string]string{}
	for db := range 16 {
		if r := s.exec(t, e, "SELECT", strconv.Itoa(db)); string(r) != "+OK\r\n" {
			t.Fatalf("SELECT %d: %q", db, r)
		}
		for _, k := range bulks(t, s.exec(t, e, "KEYS", "*")) {
			ttl := s.exec(t, e, "PTTL", k)
			if n, err := strconv.Atoi(strings.TrimSpace(string(ttl[1:]))); err == nil && ttl[0] == ':' && n > 0 {
				ttl = []byte("ttl")
			}
			out[fmt.Sprintf("db%d %q", db, k)] = fmt.Sprintf("%q %q %q", s.exec(t, e, "TYPE", k), s.exec(t, e, "GET", k), ttl)
		}
	}
	return out
}

// compareStores fails unless the two engines hold the same keys and values.
func compareStores(t *testing.T, want, got *Engine) {
	t.Helper()
	w, g := dumpStore(t, want), dumpStore(t, got)
	keys := make([]string, 0, len(w)+len(g))
	for k := range w {
		keys = append(keys, k)
	}
	for k := range g {
		if _, ok := w[k]; !ok {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	for _, k := range keys {
		if w[k] != g[k] {
			t.Fatalf("store differs at %s: after Serve %s, after ServeAsync %s", k, orAbsent(w[k]), orAbsent(g[k]))
		}
	}
}

func orAbsent(s string) string {
	if s == "" {
		return "(absent)"
	}
	return s
}

// metaKeySpace is every key metaGen.key draws.
var metaKeySpace = []string{"k0", "k1", "k2", "k3", "k4", "k5", "n0", "n1", "n2",
	"", "sp ace", "nul\x00key", "crlf\r\nkey", `q"uote`, "k0 "}

// isolate makes a connection's generated commands independent of other
// connections' (prefixed the same way with another prefix): every
// argument that is a key of the generator's key space is prefixed (values
// that happen to equal one are too: the same in both runs), and the
// commands that act on whole databases (DBSIZE, FLUSHDB, SWAPDB) are
// dropped. Then what one connection's commands answer does not depend on
// when another's run, so the connections may interleave differently in
// the two runs. Each key of the result is checked against the command
// table, so that a generator that grows its key space fails here rather
// than making the test flaky.
func isolate(t *testing.T, e *Engine, cmds [][]string, prefix string) [][]string {
	t.Helper()
	var out [][]string
	for _, args := range cmds {
		switch strings.ToLower(args[0]) {
		case "dbsize", "flushdb", "swapdb", "flushall":
			continue
		}
		a := slices.Clone(args)
		for j := 1; j < len(a); j++ {
			if slices.Contains(metaKeySpace, a[j]) {
				a[j] = prefix + a[j]
			}
		}
		if cmd, _ := e.resolve(toCommands([][]string{a})[0].Args); cmd != nil {
			cmd.eachKey(toCommands([][]string{a})[0].Args, func(key []byte) {
				if !bytes.HasPrefix(key, []byte(prefix)) {
					t.Fatalf("%q: key %q is not isolated (has metaGen's key space grown? update metaKeySpace)", a, key)
				}
			})
		}
		out = append(out, a)
	}
	return out
}

// cutPipelines cuts cmds into pipelines: some of one command, some of a
// few, some long (an event loop serves what one read brought).
func cutPipelines(cmds [][]string, r *rand.Rand) [][][]string {
	var out [][][]string
	for rest := cmds; len(rest) > 0; {
		var n int
		switch k := r.IntN(10); {
		case k < 3:
			n = 1
		case k < 7:
			n = 2 + r.IntN(8)
		default:
			n = 10 + r.IntN(70)
		}
		n = min(n, len(rest))
		out = append(out, rest[:n])
		rest = rest[n:]
	}
	return out
}

// asyncTotals are counted over all seeds of TestAsyncPipelineMetamorphic,
// to show that the test exercised what it is about.
var asyncTotals struct {
	stops       atomic.Int64 // pipelines that stopped for their writes
	interleaved atomic.Int64 // pipelines served while another connection's waited
}

// TestAsyncPipelineMetamorphic checks that serving a connection's pipelines
// through ServeAsync and Resume, as an event loop does, answers exactly
// what Serve answers and leaves the same data. For each seed, one to four
// connections each get a random command sequence from the generator of
// TestPipelineMetamorphic (strings with and without options, key
// commands, MULTI/EXEC/DISCARD, WATCH, SELECT between writes, reads of
// keys written just before in the same pipeline, connection commands, and
// errors: wrong arity, unknown commands, INCR of a value that is not an
// integer), cut into pipelines of 1 to 79 commands. Two fresh engines
// serve them:
//
//   - through Serve, each connection's pipelines in turn;
//   - through ServeAsync and Resume, on one goroutine that plays the event
//     loop: it picks connections at random, and while a connection's
//     pipeline waits for its writes it mostly serves other connections'
//     pipelines, resuming the waiting one only after its wake (blocking
//     for it, with a timeout, when there is nothing else to do).
//
// Each connection's reply stream must be byte for byte the same, every
// stop must be followed by exactly one wake, and the two stores must end
// with the same keys, values and expiry flags. With several connections
// their keys are disjoint (isolate), so the result does not depend on how
// they interleave; with one connection the whole generator is used,
// FLUSHDB and SWAPDB included.
func TestAsyncPipelineMetamorphic(t *testing.T) {
	seeds, n := 24, 300
	if os.Getenv("DIGBY_LONG") == "1" {
		seeds, n = 400, 600
	}
	t.Run("seeds", func(t *testing.T) {
		for seed := uint64(1); seed <= uint64(seeds); seed++ {
			t.Run(fmt.Sprintf("seed=%d", seed), func(t *testing.T) {
				t.Parallel()
				asyncMetamorphic(t, seed, n)
			})
		}
	})
	if t.Failed() {
		return
	}
	if asyncTotals.stops.Load() == 0 {
		t.Fatal("no pipeline ever stopped for its writes: ServeAsync was not exercised")
	}
	if asyncTotals.interleaved.Load() == 0 {
		t.Fatal("no pipeline was served while another waited: interleaving was not exercised")
	}
	t.Logf("%d stops, %d pipelines served while another connection's waited",
		asyncTotals.stops.Load(), asyncTotals.interleaved.Load())
}

func asyncMetamorphic(t *testing.T, seed uint64, n int) {
	r := rand.New(rand.NewPCG(seed, 0x6173796e63)) // "async"
	nconn := 1 + int(seed%4)
	syncE, asyncE := newTestEngine(t), newTestEngine(t)

	// Each connection's commands, and their pipelines.
	cmds := make([][][]string, nconn)
	pipes := make([][][][]string, nconn)
	for i := range nconn {
		g := &metaGen{r: rand.New(rand.NewPCG(seed, 0x6d657461+uint64(i)))}
		cmds[i] = g.sequence(n)
		if nconn > 1 {
			cmds[i] = isolate(t, syncE, cmds[i], fmt.Sprintf("c%d:", i))
		}
		pipes[i] = cutPipelines(cmds[i], r)
	}

	// Through Serve.
	want := make([][]byte, nconn)
	for i := range nconn {
		s := newSyncClient(int64(i + 1))
		for _, p := range pipes[i] {
			s.serve(syncE, toCommands(p))
		}
		syncE.Closed(s.c)
		want[i] = s.conn.out.Bytes()
	}

	// Through ServeAsync and Resume, interleaved.
	clients := make([]*asyncClient, nconn)
	for i := range clients {
		clients[i] = newAsyncClient(int64(i + 1))
	}
	next := make([]int, nconn)     // each connection's next pipeline
	waiting := make([]bool, nconn) // whose pipeline has stopped
	var stops, interleaved int64
	for {
		var active, idle []int
		nwaiting := 0
		for i := range nconn {
			if waiting[i] {
				active = append(active, i)
				nwaiting++
			} else if next[i] < len(pipes[i]) {
				active = append(active, i)
				idle = append(idle, i)
			}
		}
		if len(active) == 0 {
			break
		}
		i := active[r.IntN(len(active))]
		a := clients[i]
		if waiting[i] {
			woken := false
			select {
			case <-a.woken:
				woken = true
				a.checkWakes(t)
			default:
			}
			if woken || len(idle) == 0 || r.IntN(4) == 0 {
				if !woken {
					a.await(t)
				}
				if a.resume(t, asyncE) {
					waiting[i] = false
				} else {
					stops++
				}
				continue
			}
			// Serve another connection while this one waits.
			i = idle[r.IntN(len(idle))]
			a = clients[i]
		}
		if nwaiting > 0 {
			interleaved++
		}
		if !a.serve(t, asyncE, toCommands(pipes[i][next[i]])) {
			waiting[i] = true
			stops++
		}
		next[i]++
	}
	for i, a := range clients {
		a.checkWakes(t)
		asyncE.Closed(a.c)
		compareReplies(t, fmt.Sprintf("seed %d, connection %d of %d", seed, i, nconn), cmds[i], want[i], a.conn.out.Bytes())
	}
	compareStores(t, syncE, asyncE)
	if stops == 0 {
		t.Fatalf("seed %d: no pipeline stopped for its writes", seed)
	}
	asyncTotals.stops.Add(stops)
	asyncTotals.interleaved.Add(interleaved)
}

// TestAsyncReadsOwnWrites: the pipeline SET a 1, GET a, INCR a, GET a
// served through ServeAsync stops at least once (each GET must wait for
// the write before it), is woken, and after its resumes has answered
// exactly what Serve answers, which is what Redis answers: each read sees
// the write before it.
func TestAsyncReadsOwnWrites(t *testing.T) {
	args := [][]string{{"SET", "a", "1"}, {"GET", "a"}, {"INCR", "a"}, {"GET", "a"}}
	const golden = "+OK\r\n$1\r\n1\r\n:2\r\n$1\r\n2\r\n"

	s := newSyncClient(1)
	s.serve(newTestEngine(t), toCommands(args))
	if got := s.conn.out.String(); got != golden {
		t.Fatalf("Serve answered %q, want %q", got, golden)
	}

	e := newTestEngine(t)
	a := newAsyncClient(1)
	if a.serve(t, e, toCommands(args)) {
		t.Fatal("ServeAsync did not stop: GET a must wait for SET a 1")
	}
	for {
		a.await(t)
		if a.resume(t, e) {
			break
		}
	}
	a.checkWakes(t)
	if got := a.conn.out.String(); got != golden {
		t.Fatalf("ServeAsync and Resume answered %q, want %q (Serve's)", got, golden)
	}
	t.Logf("the pipeline stopped %d times", a.stops)
}

// TestAsyncScripted serves handwritten pipelines, each covering one thing
// the asynchronous path must get right, through Serve and through
// ServeAsync/Resume, and requires the same replies, the expected replies
// where given, and the same data: reads after writes in one pipeline,
// SELECT between writes (each write goes to the database selected when
// it was sent), MULTI/EXEC with queued writes and reads, an EXEC that
// WATCH aborts, and errors among writes (unknown command, wrong arity,
// INCR of a non-integer, and an error inside EXEC) that must neither
// reorder nor swallow the replies of the writes around them.
func TestAsyncScripted(t *testing.T) {
	for _, tc := range []struct {
		name string
		cmds [][]string
		want string // "" when only compared with Serve
	}{
		{"read-after-write", [][]string{
			{"SET", "k", "v"}, {"GET", "k"}, {"APPEND", "k", "w"}, {"STRLEN", "k"}, {"GET", "k"},
		}, "+OK\r\n$1\r\nv\r\n:2\r\n:2\r\n$2\r\nvw\r\n"},
		{"select-between-writes", [][]string{
			{"SET", "k", "zero"}, {"SELECT", "1"}, {"SET", "k", "one"}, {"SELECT", "2"}, {"SET", "k", "two"},
			{"GET", "k"}, {"SELECT", "1"}, {"GET", "k"}, {"SELECT", "0"}, {"GET", "k"},
		}, "+OK\r\n+OK\r\n+OK\r\n+OK\r\n+OK\r\n$3\r\ntwo\r\n+OK\r\n$3\r\none\r\n+OK\r\n$4\r\nzero\r\n"},
		{"errors-between-writes", [][]string{
			{"SET", "s", "abc"}, {"INCR", "s"}, {"SET", "n", "1"}, {"NOSUCH", "x"}, {"INCR", "n"},
			{"GET"}, {"INCR", "n"}, {"SET", "x"}, {"GET", "n"}, {"INCRBY", "n", "x"}, {"GET", "s"},
		}, "+OK\r\n-ERR value is not an integer or out of range\r\n+OK\r\n" +
			"-ERR unknown command 'NOSUCH', with args beginning with: 'x' \r\n:2\r\n" +
			"-ERR wrong number of arguments for 'get' command\r\n:3\r\n" +
			"-ERR wrong number of arguments for 'set' command\r\n$1\r\n3\r\n" +
			"-ERR value is not an integer or out of range\r\n$3\r\nabc\r\n"},
		{"multi-exec", [][]string{
			{"SET", "a", "1"}, {"MULTI"}, {"INCR", "a"}, {"GET", "a"}, {"SET", "b", "x"}, {"INCR", "b"}, {"EXEC"},
			{"GET", "a"}, {"GET", "b"},
		}, "+OK\r\n+OK\r\n+QUEUED\r\n+QUEUED\r\n+QUEUED\r\n+QUEUED\r\n" +
			"*4\r\n:2\r\n$1\r\n2\r\n+OK\r\n-ERR value is not an integer or out of range\r\n" +
			"$1\r\n2\r\n$1\r\nx\r\n"},
		{"multi-exec-abort", [][]string{
			{"MULTI"}, {"SET", "a", "1"}, {"GET"}, {"EXEC"}, {"GET", "a"}, {"SET", "a", "2"}, {"GET", "a"},
		}, ""},
		{"multi-select", [][]string{
			{"SET", "k", "0"}, {"MULTI"}, {"SELECT", "3"}, {"SET", "k", "3"}, {"EXEC"}, {"GET", "k"}, {"SELECT", "0"}, {"GET", "k"},
		}, ""},
		{"watch", [][]string{
			{"WATCH", "w"}, {"SET", "w", "1"}, {"MULTI"}, {"SET", "w", "2"}, {"EXEC"}, {"GET", "w"},
			{"WATCH", "w"}, {"MULTI"}, {"INCR", "w"}, {"EXEC"}, {"GET", "w"},
		}, "+OK\r\n+OK\r\n+OK\r\n+QUEUED\r\n*-1\r\n$1\r\n1\r\n+OK\r\n+OK\r\n+QUEUED\r\n*1\r\n:2\r\n$1\r\n2\r\n"},
		{"writes-only", [][]string{
			{"SET", "a", "1"}, {"SET", "b", "2"}, {"MSET", "c", "3", "d", "4"}, {"DEL", "a"}, {"INCR", "b"},
		}, "+OK\r\n+OK\r\n+OK\r\n:1\r\n:3\r\n"},
		{"reads-only", [][]string{{"GET", "nope"}, {"PING"}, {"EXISTS", "nope"}}, "$-1\r\n+PONG\r\n:0\r\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			syncE, asyncE := newTestEngine(t), newTestEngine(t)
			s := newSyncClient(1)
			s.serve(syncE, toCommands(tc.cmds))
			a := newAsyncClient(1)
			a.serveAll(t, asyncE, toCommands(tc.cmds))
			a.checkWakes(t)
			compareReplies(t, tc.name, tc.cmds, s.conn.out.Bytes(), a.conn.out.Bytes())
			if tc.want != "" && s.conn.out.String() != tc.want {
				t.Fatalf("Serve answered %q, want %q", s.conn.out.String(), tc.want)
			}
			compareStores(t, syncE, asyncE)
		})
	}
}

// TestAsyncInterleaved: while connection A's pipeline waits for its
// writes, connection B's pipelines are served to their end (B stopping
// and being resumed in turn), and only then is A resumed. Each
// connection's replies are exactly Serve's, A's writes are all applied,
// and A's reads see A's own writes, not B's: they write the same key x,
// A in database 0, B in database 1 (SELECT), so whichever order the two
// connections' writes reach the store in, the answers are fixed.
func TestAsyncInterleaved(t *testing.T) {
	pa := [][]string{{"SET", "x", "a1"}, {"INCR", "ca"}, {"GET", "x"}, {"GET", "ca"}, {"SET", "x", "a2"}, {"GET", "x"}}
	pb := [][]string{{"SELECT", "1"}, {"SET", "x", "b1"}, {"GET", "x"}, {"INCR", "cb"}, {"MULTI"}, {"INCR", "cb"}, {"GET", "x"}, {"EXEC"}, {"GET", "cb"}}
	const wantA = "+OK\r\n:1\r\n$2\r\na1\r\n$1\r\n1\r\n+OK\r\n$2\r\na2\r\n"
	const wantB = "+OK\r\n+OK\r\n$2\r\nb1\r\n:1\r\n+OK\r\n+QUEUED\r\n+QUEUED\r\n*2\r\n:2\r\n$2\r\nb1\r\n$1\r\n2\r\n"

	syncE, asyncE := newTestEngine(t), newTestEngine(t)
	sa, sb := newSyncClient(1), newSyncClient(2)
	sa.serve(syncE, toCommands(pa))
	sb.serve(syncE, toCommands(pb))
	if sa.conn.out.String() != wantA || sb.conn.out.String() != wantB {
		t.Fatalf("Serve answered A %q and B %q, want %q and %q", sa.conn.out.String(), sb.conn.out.String(), wantA, wantB)
	}

	a, b := newAsyncClient(1), newAsyncClient(2)
	if a.serve(t, asyncE, toCommands(pa)) {
		t.Fatal("A's pipeline did not stop: GET x must wait for SET x")
	}
	b.serveAll(t, asyncE, toCommands(pb)) // while A waits
	if b.stops == 0 {
		t.Fatal("B's pipeline never stopped")
	}
	for {
		a.await(t)
		if a.resume(t, asyncE) {
			break
		}
	}
	a.checkWakes(t)
	b.checkWakes(t)
	compareReplies(t, "connection A", pa, sa.conn.out.Bytes(), a.conn.out.Bytes())
	compareReplies(t, "connection B", pb, sb.conn.out.Bytes(), b.conn.out.Bytes())
	compareStores(t, syncE, asyncE)
}

// TestAsyncKillWhileWaiting: a connection killed (Client.Kill, from
// another goroutine, as CLIENT KILL does) or closed (Client.Close) while
// its pipeline waits for its writes still gets its wake, and Resume then
// ends the pipeline (returns true, in bounded time) without serving the
// commands after the stop; the writes submitted before the kill are
// applied, and the ones after the stop are not; a later ServeAsync of the
// killed connection serves nothing after its first command and ends.
func TestAsyncKillWhileWaiting(t *testing.T) {
	for _, how := range []string{"kill", "close"} {
		t.Run(how, func(t *testing.T) {
			e := newTestEngine(t)
			a := newAsyncClient(1)
			args := [][]string{{"SET", "a", "1"}, {"SET", "b", "2"}, {"GET", "a"}, {"SET", "c", "3"}, {"GET", "c"}}
			if a.serve(t, e, toCommands(args)) {
				t.Fatal("ServeAsync did not stop: GET a must wait for the SETs")
			}
			switch how {
			case "kill":
				done := make(chan struct{})
				go func() { a.c.Kill(); close(done) }()
				<-done
			case "close":
				a.c.Close()
			}
			a.await(t)
			ended := a.resume(t, e)
			if !ended {
				// Allowed by the contract (another wake follows), but it
				// must end after it.
				a.await(t)
				if !a.resume(t, e) {
					t.Fatal("Resume of a closed connection stopped twice")
				}
			}
			a.checkWakes(t)
			got := a.conn.out.String()
			if !strings.HasPrefix("+OK\r\n+OK\r\n$1\r\n1\r\n+OK\r\n$1\r\n3\r\n", got) {
				t.Fatalf("replies %q are not a prefix of the pipeline's", got)
			}
			if strings.Contains(got, "$") {
				t.Fatalf("commands after the stop were served after the %s: %q", how, got)
			}
			if how == "close" && !a.conn.closed {
				t.Fatal("Close did not close the connection")
			}
			e.Closed(a.c)

			// The writes submitted before the kill were applied; the SET
			// after the stop was not.
			d := dumpStore(t, e)
			if len(d) != 2 || d[`db0 "a"`] == "" || d[`db0 "b"`] == "" {
				t.Fatalf("after the %s the store holds %v, want a and b", how, d)
			}

			// A killed connection's next pipeline: its first command may
			// run (serve checks Closed from the second on), nothing
			// after it, and it ends.
			before := a.conn.out.Len()
			a.serveAll(t, e, toCommands([][]string{{"SET", "z", "1"}, {"GET", "z"}, {"SET", "y", "1"}}))
			if r, _ := splitReplies(a.conn.out.Bytes()[before:]); len(r) > 1 {
				t.Fatalf("a closed connection's pipeline was served: %q", a.conn.out.Bytes()[before:])
			}
		})
	}
}

// TestAsyncClosedStore: on a closed store, SubmitAsync answers the writes
// (with ErrClosed) before it returns, so the wake comes before ServeAsync
// has returned false; the pipeline must still stop and be resumed once
// (one wake per stop), end, and answer what Serve answers on a closed
// store: errors, in order, one per command.
func TestAsyncClosedStore(t *testing.T) {
	// The EXEC is submitted, and answered without running: MULTI still
	// ends with it, so the SET after it is not queued.
	args := [][]string{{"SET", "a", "1"}, {"GET", "a"}, {"PING"}, {"INCR", "a"},
		{"MULTI"}, {"SET", "b", "2"}, {"EXEC"}, {"SET", "c", "3"}, {"PING"}}
	syncE, asyncE := newTestEngine(t), newTestEngine(t)
	syncE.db.Close()
	asyncE.db.Close()
	s := newSyncClient(1)
	s.serve(syncE, toCommands(args))
	a := newAsyncClient(1)
	a.serveAll(t, asyncE, toCommands(args))
	a.checkWakes(t)
	compareReplies(t, "closed store", args, s.conn.out.Bytes(), a.conn.out.Bytes())
	if r, err := splitReplies(a.conn.out.Bytes()); err != nil || len(r) != len(args) {
		t.Fatalf("%d replies (%v) for %d commands: %q", len(r), err, len(args), a.conn.out.Bytes())
	}
}

// TestAsyncExecKillsSelf: a CLIENT KILL of the connection itself queued in
// MULTI closes it after EXEC's reply, through the asynchronous form too:
// the PING after the EXEC is not served.
func TestAsyncExecKillsSelf(t *testing.T) {
	args := [][]string{{"MULTI"}, {"CLIENT", "KILL", "ID", "1", "SKIPME", "no"}, {"EXEC"}, {"PING"}}
	s, a := newSyncClient(1), newAsyncClient(1)
	syncE := newTestEngineWith(t, EngineOptions{Clients: func() []*resp.Client { return []*resp.Client{s.c} }})
	asyncE := newTestEngineWith(t, EngineOptions{Clients: func() []*resp.Client { return []*resp.Client{a.c} }})
	s.serve(syncE, toCommands(args))
	a.serveAll(t, asyncE, toCommands(args))
	compareReplies(t, "CLIENT KILL of itself in EXEC", args, s.conn.out.Bytes(), a.conn.out.Bytes())
	if r, err := splitReplies(a.conn.out.Bytes()); err != nil || len(r) != len(args)-1 || !a.c.Closed() {
		t.Fatalf("%d replies (%v), closed %v; want %d and closed: %q", len(r), err, a.c.Closed(), len(args)-1, a.conn.out.Bytes())
	}
}
