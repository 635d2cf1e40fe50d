package resp

import (
	"bytes"
	"errors"
	"fmt"
	"math/rand"
	"strings"
	"testing"

	"github.com/tidwall/redcon"
)

// encode frames args as one multibulk request.
func encode(args ...[]byte) []byte {
	b := fmt.Appendf(nil, "*%d\r\n", len(args))
	for _, a := range args {
		b = fmt.Appendf(b, "$%d\r\n", len(a))
		b = append(b, a...)
		b = append(b, "\r\n"...)
	}
	return b
}

// feed gives data to a Reader in the chunks cuts mark and returns every
// command's arguments (copied) and the error, if any.
func feed(t testing.TB, lim Limits, data []byte, cuts []int) ([][][]byte, error) {
	t.Helper()
	r := NewReader(lim)
	var got [][][]byte
	collect := func(cmds []redcon.Command) {
		for _, c := range cmds {
			var args [][]byte
			for _, a := range c.Args {
				args = append(args, append([]byte{}, a...))
			}
			got = append(got, args)
		}
	}
	prev := 0
	for _, cut := range append(cuts, len(data)) {
		part := data[prev:cut]
		prev = cut
		for len(part) > 0 {
			sp := r.Space()
			if len(sp) == 0 {
				t.Fatal("Space returned no room")
			}
			n := copy(sp, part)
			r.Fill(n)
			part = part[n:]
			cmds, err := r.Parse()
			collect(cmds)
			if err != nil {
				return got, err
			}
		}
	}
	cmds, err := r.Parse()
	collect(cmds)
	return got, err
}

// fill gives b to r a read at a time, parsing after each, and returns the
// commands found (their headers copied: Parse reuses its slice).
func fill(t testing.TB, r *Reader, b []byte) []redcon.Command {
	t.Helper()
	var all []redcon.Command
	for len(b) > 0 {
		n := copy(r.Space(), b)
		r.Fill(n)
		b = b[n:]
		cmds, err := r.Parse()
		if err != nil {
			t.Fatal(err)
		}
		all = append(all, cmds...)
	}
	return all
}

// randomCuts returns sorted cut points in [0, n].
func randomCuts(rng *rand.Rand, n int) []int {
	cuts := make([]int, rng.Intn(8))
	for i := range cuts {
		cuts[i] = rng.Intn(n + 1)
	}
	for i := 1; i < len(cuts); i++ {
		for j := i; j > 0 && cuts[j] < cuts[j-1]; j-- {
			cuts[j], cuts[j-1] = cuts[j-1], cuts[j]
		}
	}
	return cuts
}

// TestReaderModel frames random commands (binary arguments, empty ones,
// some larger than a read buffer, empty multibulks between them), cuts the
// stream at random points and checks that the commands come back exactly,
// for many seeds.
func TestReaderModel(t *testing.T) {
	for seed := int64(0); seed < 300; seed++ {
		rng := rand.New(rand.NewSource(seed))
		var data []byte
		var want [][][]byte
		for range 1 + rng.Intn(40) {
			if rng.Intn(10) == 0 {
				data = append(data, "*0\r\n"...)
			}
			args := make([][]byte, 1+rng.Intn(5))
			for i := range args {
				n := rng.Intn(20)
				switch rng.Intn(20) {
				case 0:
					n = 0
				case 1:
					n = readChunk + rng.Intn(3*readChunk)
				}
				a := make([]byte, n)
				rng.Read(a)
				args[i] = a
			}
			want = append(want, args)
			data = append(data, encode(args...)...)
		}
		got, err := feed(t, Limits{}, data, randomCuts(rng, len(data)))
		if err != nil {
			t.Fatalf("seed %d: %v", seed, err)
		}
		if len(got) != len(want) {
			t.Fatalf("seed %d: %d commands, want %d", seed, len(got), len(want))
		}
		for i := range want {
			if len(got[i]) != len(want[i]) {
				t.Fatalf("seed %d command %d: %d args, want %d", seed, i, len(got[i]), len(want[i]))
			}
			for j := range want[i] {
				if !bytes.Equal(got[i][j], want[i][j]) {
					t.Fatalf("seed %d command %d arg %d differs", seed, i, j)
				}
			}
		}
	}
}

// TestReaderArgsStay checks the promise handlers rely on: arguments handed
// out are never written again, however much is read after them, and
// appending to one does not touch its neighbour.
func TestReaderArgsStay(t *testing.T) {
	r := NewReader(Limits{})
	first := fill(t, r, encode([]byte("SET"), []byte("k"), []byte("v")))
	if len(first) != 1 {
		t.Fatalf("%d commands", len(first))
	}
	kept := first[0].Args
	_ = append(kept[1], 'X', 'X', 'X')
	_ = append(kept, []byte("extra"))
	for i := range 5000 {
		fill(t, r, encode([]byte("SET"), fmt.Appendf(nil, "key%d", i), bytes.Repeat([]byte{'z'}, i%50)))
		fill(t, r, []byte("PING  inline\r\n"))
	}
	if string(kept[0]) != "SET" || string(kept[1]) != "k" || string(kept[2]) != "v" {
		t.Fatalf("kept args changed: %q", kept)
	}
}

// TestReaderErrors checks each framing error's text (Redis's), that the
// requests before the malformed one are still returned, and that the
// error sticks.
func TestReaderErrors(t *testing.T) {
	ping := "*1\r\n$4\r\nPING\r\n"
	big := strings.Repeat("a", inlineMax+1)
	for _, c := range []struct {
		in, err string
		auth    bool
	}{
		{in: "*1\r\nx\r\n", err: "expected '$', got 'x'"},
		{in: "*x\r\n", err: "invalid multibulk length"},
		{in: "*\r\n", err: "invalid multibulk length"},
		{in: "*1\n\r\n", err: "invalid multibulk length"},
		{in: "*1\n$4\r\nPING\r\n", err: "invalid multibulk length"},
		{in: "*3000000000\r\n", err: "invalid multibulk length"},
		{in: "*1\r\n$-1\r\n", err: "invalid bulk length"},
		{in: "*1\r\n$01\r\n", err: "invalid bulk length"},
		{in: "*1\r\n$2\n\r\n", err: "invalid bulk length"},
		{in: "*1\r\nx" + big, err: "too big bulk count string"},
		{in: "*1\n$4\nPING\n" + big, err: "too big mbulk count string"},
		{in: "*1\r\n$20001\r\n", err: "invalid bulk length"},
		{in: "*11\r\n", err: "unauthenticated multibulk length", auth: true},
		{in: "*1\r\n$16385\r\n", err: "unauthenticated bulk length", auth: true},
		{in: big, err: "too big inline request"},
		{in: "*" + big, err: "too big mbulk count string"},
		{in: "*1\r\n$" + big, err: "too big bulk count string"},
		{in: "SET \"a b\" c\"\r\n", err: "unbalanced quotes in request"},
		{in: "SET 'a\r\n", err: "unbalanced quotes in request"},
		{in: "ECHO a\x00b\r\nPING\r\n" + big, err: "too big inline request"},
		{in: "*1\x00\r\n$4\r\nPING\r\n" + big, err: "too big mbulk count string"},
	} {
		lim := Limits{MaxBulk: func() int64 { return 20000 }, AuthRequired: func() bool { return c.auth }}
		for _, cuts := range [][]int{nil, {len(ping) + 1}, {len(ping) + len(c.in) - 1}} {
			got, err := feed(t, lim, []byte(ping+c.in), cuts)
			if err == nil || err.Error() != "Protocol error: "+c.err || !IsProtocolError(err) {
				t.Fatalf("%.40q: error %v, want %q", c.in, err, c.err)
			}
			if len(got) != 1 || string(got[0][0]) != "PING" {
				t.Fatalf("%.40q: commands before the error %q", c.in, got)
			}
		}
	}
	r := NewReader(Limits{})
	r.Fill(copy(r.Space(), "*x\r\n"))
	_, err1 := r.Parse()
	r.Fill(copy(r.Space(), ping))
	cmds, err2 := r.Parse()
	if err1 == nil || err2 != err1 || len(cmds) != 0 {
		t.Fatalf("error did not stick: %v %v %d", err1, err2, len(cmds))
	}
}

// TestReaderBigBulkMemory checks that a header announcing a huge bulk costs
// memory only as its bytes arrive.
func TestReaderBigBulkMemory(t *testing.T) {
	r := NewReader(Limits{})
	hdr := "*2\r\n$3\r\nSET\r\n$400000000\r\n"
	r.Fill(copy(r.Space(), hdr))
	if _, err := r.Parse(); err != nil {
		t.Fatal(err)
	}
	sent := len(hdr)
	chunk := bytes.Repeat([]byte{'v'}, 1000)
	for range 100 {
		for b := chunk; len(b) > 0; {
			n := copy(r.Space(), b)
			r.Fill(n)
			b = b[n:]
			sent += n
		}
		if _, err := r.Parse(); err != nil {
			t.Fatal(err)
		}
	}
	if len(r.buf) > max(readChunk, 2*sent) {
		t.Fatalf("buffer of %d bytes after %d sent", len(r.buf), sent)
	}
}

// TestReaderInline checks inline requests end to end: CRLF or LF, blank
// lines skipped, and sdssplitargs's quoting.
func TestReaderInline(t *testing.T) {
	in := "SET a b\r\n\r\n  \t \nGET\t\"x y\"  'it\\'s'\nECHO \"\\x41\\n\\q\" a\"b c\"\r\nPING \"\"\r\n"
	want := [][]string{{"SET", "a", "b"}, {"GET", "x y", "it's"}, {"ECHO", "A\nq", "ab c"}, {"PING", ""}}
	for cut := 0; cut <= len(in); cut++ {
		got, err := feed(t, Limits{}, []byte(in), []int{cut})
		if err != nil {
			t.Fatal(err)
		}
		if fmt.Sprintf("%q", got) != fmt.Sprintf("%q", want) {
			t.Fatalf("cut %d: got %q want %q", cut, got, want)
		}
	}
}

// TestReaderLongInline: reading as much as Space offers each time (a
// client that sent everything at once), an inline line is refused once a
// read takes it past 64 KiB without a newline, as Redis refuses it: reads
// within a line are 16 KiB at most, so 79,000 bytes are served and 82,000
// refused (redis-server 7.0 answers both so).
func TestReaderLongInline(t *testing.T) {
	for _, c := range []struct {
		n  int
		ok bool
	}{{65000, true}, {79000, true}, {82000, false}, {100000, false}} {
		line := "ECHO " + strings.Repeat("a", c.n-7) + "\r\n"
		r := NewReader(Limits{})
		var got int
		var err error
		for b := []byte(line); len(b) > 0 && err == nil; {
			k := copy(r.Space(), b)
			r.Fill(k)
			b = b[k:]
			var cmds []redcon.Command
			cmds, err = r.Parse()
			got += len(cmds)
		}
		if c.ok && (err != nil || got != 1) {
			t.Fatalf("%d bytes: %v, %d commands; want it served", c.n, err, got)
		}
		if !c.ok && (err == nil || err.Error() != "Protocol error: too big inline request") {
			t.Fatalf("%d bytes: %v; want too big inline request", c.n, err)
		}
	}
}

// TestSplitArgs compares splitArgs with the arguments Redis's
// sdssplitargs gives for the same lines.
func TestSplitArgs(t *testing.T) {
	for _, c := range []struct {
		line string
		want []string // nil: unbalanced quotes
	}{
		{"", []string{}},
		{"   ", []string{}},
		{"a", []string{"a"}},
		{" a  b\tc ", []string{"a", "b", "c"}},
		{"a\vb", []string{"a\vb"}},
		{`"a b"`, []string{"a b"}},
		{`"\x4a\x4B\xzz"`, []string{"JK" + "xzz"}},
		{`"\n\r\t\b\a\\\""`, []string{"\n\r\t\b\a\\\""}},
		{`'a\'b' 'c\d'`, []string{"a'b", `c\d`}},
		{`x"y z"`, []string{"xy z"}},
		{`""`, []string{""}},
		{`"a"b`, nil},
		{`'a'b`, nil},
		{`"abc`, nil},
		{`'abc`, nil},
		{`"abc\`, nil},
	} {
		got, ok := splitArgs([]byte(c.line), nil)
		if c.want == nil {
			if ok {
				t.Fatalf("%q: accepted as %q", c.line, got)
			}
			continue
		}
		if !ok {
			t.Fatalf("%q: refused", c.line)
		}
		gs := make([]string, len(got))
		for i, a := range got {
			gs[i] = string(a)
		}
		if fmt.Sprintf("%q", gs) != fmt.Sprintf("%q", c.want) {
			t.Fatalf("%q: got %q want %q", c.line, gs, c.want)
		}
	}
}

// FuzzReader feeds arbitrary bytes in two chunks: the Reader must not
// panic, and must find the same commands and error as when fed all at once.
func FuzzReader(f *testing.F) {
	f.Add([]byte("*1\r\n$4\r\nPING\r\n"), 3)
	f.Add([]byte("*0\r\nPING\r\n*2\r\n$3\r\nGET\r\n$99999\r\n"), 7)
	f.Add([]byte("SET \"a\\x41\" 'b\\'c'\r\nGET a\n"), 9)
	f.Fuzz(func(t *testing.T, data []byte, cut int) {
		lim := Limits{MaxBulk: func() int64 { return 1000 }}
		if cut < 0 {
			cut = -cut
		}
		cut %= len(data) + 1
		whole, err1 := feed(t, lim, data, nil)
		split, err2 := feed(t, lim, data, []int{cut})
		if fmt.Sprint(err1) != fmt.Sprint(err2) {
			t.Fatalf("errors differ: %v / %v", err1, err2)
		}
		if fmt.Sprintf("%q", whole) != fmt.Sprintf("%q", split) {
			t.Fatalf("commands differ: %q / %q", whole, split)
		}
	})
}

// TestReaderQueryLimit checks client-query-buffer-limit: an incomplete
// request holding more bytes than the limit is refused (the requests
// before it still returned), one within it is not.
func TestReaderQueryLimit(t *testing.T) {
	lim := Limits{MaxQuery: func() int64 { return 1 << 20 }}
	ping := "*1\r\n$4\r\nPING\r\n"
	body := strings.Repeat("v", 1<<20)
	got, err := feed(t, lim, []byte(ping+"*2\r\n$3\r\nSET\r\n$2000000\r\n"+body), []int{len(ping) + 5})
	if !errors.Is(err, ErrQueryLimit) || len(got) != 1 {
		t.Fatalf("over the limit: %v, %d commands", err, len(got))
	}
	got, err = feed(t, lim, []byte(ping+"*2\r\n$3\r\nSET\r\n$1000000\r\n"+body[:1000000]+"\r\n"), []int{len(ping) + 5})
	if err != nil || len(got) != 2 || len(got[1][1]) != 1000000 {
		t.Fatalf("within the limit: %v, %d commands", err, len(got))
	}
}

// BenchmarkReaderPipeline parses reads of 16 pipelined SETs (redis-
// benchmark's -P 16 shape, 3-byte values) as the connection loop does:
// Space, Fill, Parse. ns/op is per command.
func BenchmarkReaderPipeline(b *testing.B) {
	var batch []byte
	for i := range 16 {
		batch = append(batch, encode([]byte("SET"), fmt.Appendf(nil, "key:%012d", i), []byte("xxx"))...)
	}
	r := NewReader(Limits{MaxBulk: func() int64 { return 512 << 20 }, AuthRequired: func() bool { return false }})
	b.SetBytes(int64(len(batch) / 16))
	b.ReportAllocs()
	for n := 0; n < b.N; {
		for rest := batch; len(rest) > 0; {
			k := copy(r.Space(), rest)
			r.Fill(k)
			rest = rest[k:]
			cmds, err := r.Parse()
			if err != nil {
				b.Fatal(err)
			}
			n += len(cmds)
		}
	}
}

// TestReaderFramingAsRedis: header lines end at their first '\r', whose
// next byte is skipped unread, and the two bytes after a bulk are skipped
// unread, as Redis reads them (checked against redis-server by
// compat_test's inline differential); a header without a '\r' waits. Each
// input is fed whole and cut at every position.
func TestReaderFramingAsRedis(t *testing.T) {
	for _, c := range []struct {
		in   string
		want string // the commands, args joined by spaces, commands by "|"
	}{
		{"*1\r\n$4\r\nPINGxx", "PING"},
		{"*2\r\n$4\r\nECHO\r\n$2\r\nabXY*1\r\n$4\r\nPING\r\n", "ECHO ab|PING"},
		{"*1\rX$4\rYPING\r\n", "PING"},
		{"*1\r\n$1\r\nab\r\n", "a"}, // "b\r" skipped, then an empty inline line
		{"*1\n$4\nPING\n", ""},      // no '\r' yet: waits
		{"*1\r\n$4\r", ""},          // the byte after '\r' not yet read
	} {
		for cut := 0; cut <= len(c.in); cut++ {
			var cuts []int
			if cut > 0 && cut < len(c.in) {
				cuts = []int{cut}
			}
			got, err := feed(t, Limits{}, []byte(c.in), cuts)
			if err != nil {
				t.Fatalf("%q cut at %d: %v", c.in, cut, err)
			}
			var parts []string
			for _, args := range got {
				var words []string
				for _, a := range args {
					words = append(words, string(a))
				}
				parts = append(parts, strings.Join(words, " "))
			}
			if g := strings.Join(parts, "|"); g != c.want {
				t.Fatalf("%q cut at %d: commands %q, want %q", c.in, cut, g, c.want)
			}
		}
	}
}
