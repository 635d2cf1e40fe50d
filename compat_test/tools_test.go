package compat

import (
	"fmt"
	"os/exec"
	"sort"
	"strings"
	"testing"
)

func runBinary(args ...string) (string, error) {
	out, err := exec.Command(binary, args...).CombinedOutput()
	return string(out), err
}

// cli runs redis-cli against s and returns its output.
func cli(t *testing.T, s *server, stdin string, args ...string) string {
	t.Helper()
	bin := requireTool(t, "redis-cli")
	cmd := exec.Command(bin, append([]string{"-p", fmt.Sprint(s.port)}, args...)...)
	cmd.Stdin = strings.NewReader(stdin)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("redis-cli %v: %v\n%s", args, err, out)
	}
	return string(out)
}

func TestRedisCLI(t *testing.T) {
	requireTool(t, "redis-cli")
	s := startDigby(t)
	eq(t, "set", cli(t, s, "", "SET", "greeting", "hello"), "OK\n")
	eq(t, "get", cli(t, s, "", "GET", "greeting"), "hello\n")
	eq(t, "incr", cli(t, s, "", "INCR", "n"), "1\n")
	eq(t, "ping", cli(t, s, "", "PING"), "PONG\n")
	for i := 0; i < 30; i++ {
		cli(t, s, "", "SET", fmt.Sprintf("user:%d", i), "x")
	}
	keys := strings.Fields(cli(t, s, "", "--scan", "--pattern", "user:1*"))
	sort.Strings(keys)
	want := []string{"user:1"}
	for i := 10; i < 20; i++ {
		want = append(want, fmt.Sprintf("user:%d", i))
	}
	sort.Strings(want)
	eq(t, "--scan", strings.Join(keys, " "), strings.Join(want, " "))
	// mass insertion with --pipe
	var b strings.Builder
	for i := 0; i < 5000; i++ {
		b.Write(encode("SET", fmt.Sprintf("pipe:%d", i), fmt.Sprint(i)))
	}
	out := cli(t, s, b.String(), "--pipe")
	if !strings.Contains(out, "errors: 0, replies: 5000") {
		t.Fatalf("--pipe: %s", out)
	}
	eq(t, "after pipe", cli(t, s, "", "GET", "pipe:4999"), "4999\n")
}

func TestRedisBenchmark(t *testing.T) {
	bin := requireTool(t, "redis-benchmark")
	s := startDigby(t)
	n := "20000"
	if long() {
		n = "200000"
	}
	out, err := exec.Command(bin, "-p", fmt.Sprint(s.port), "-t", "set,get,incr,mset", "-n", n, "-q").CombinedOutput()
	if err != nil {
		t.Fatalf("redis-benchmark: %v\n%s", err, out)
	}
	text := string(out)
	for _, test := range []string{"SET:", "GET:", "INCR:", "MSET"} {
		if !strings.Contains(text, test) {
			t.Fatalf("redis-benchmark did not finish %s:\n%s", test, text)
		}
	}
	if strings.Contains(strings.ToLower(text), "error") {
		t.Fatalf("redis-benchmark reported errors:\n%s", text)
	}
	t.Logf("\n%s", text)
}

// TestBenchScriptSyntax keeps scripts/bench.sh (not run by CI) parseable.
func TestBenchScriptSyntax(t *testing.T) {
	bash, err := exec.LookPath("bash")
	if err != nil {
		t.Skip("bash not installed")
	}
	if out, err := exec.Command(bash, "-n", "../scripts/bench.sh").CombinedOutput(); err != nil {
		t.Fatalf("bash -n scripts/bench.sh: %v\n%s", err, out)
	}
}
