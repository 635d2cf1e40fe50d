package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestDefaults(t *testing.T) {
	c := Default()
	if c.Addr() != "127.0.0.1:6379" {
		t.Fatalf("addr %q", c.Addr())
	}
	if c.Size("proto-max-bulk-len") != 512<<20 || c.Size("cache-size") != 256<<20 {
		t.Fatal("sizes")
	}
	if c.Get("appendfsync") != "everysec" || c.Get("dir") != "./data" || c.Int("databases") != 16 {
		t.Fatal("defaults")
	}
}

func TestParseFlagsAndFile(t *testing.T) {
	dir := t.TempDir()
	conf := filepath.Join(dir, "digby.conf")
	pw := filepath.Join(dir, "pw")
	os.WriteFile(pw, []byte("s3cret\n"), 0o600)
	os.WriteFile(conf, []byte("# comment\nport 7000\nappendfsync always\nsave \"\"\nrequirepass-file "+pw+"\n"), 0o600)
	c, err := Parse([]string{conf, "--port", "7001", "--cache-size=1gb", "--save", "900", "1"})
	if err != nil {
		t.Fatal(err)
	}
	if c.Get("port") != "7001" || c.Get("appendfsync") != "always" || c.Size("cache-size") != 1<<30 {
		t.Fatalf("got %v", c.vals)
	}
	if c.Get("save") != "900 1" || c.Get("requirepass") != "s3cret" {
		t.Fatalf("save %q pw %q", c.Get("save"), c.Get("requirepass"))
	}
}

// TestEventLoopsValues: event-loops takes auto (the default, in any
// case) or a count from 0 to 64.
func TestEventLoopsValues(t *testing.T) {
	if v := Default().Get("event-loops"); v != "auto" {
		t.Fatalf("default event-loops %q, want auto", v)
	}
	for _, v := range []string{"auto", "AUTO", "0", "1", "64"} {
		c, err := Parse([]string{"--event-loops", v})
		if err != nil || c.Get("event-loops") != v {
			t.Fatalf("--event-loops %s: %v, got %q", v, err, c.Get("event-loops"))
		}
	}
}

// TestIntOrAuto: the parameters that take auto or a number read as auto
// (in any case) or as the number, 0 included.
func TestIntOrAuto(t *testing.T) {
	for _, tc := range []struct {
		name, v string
		n       int64
		auto    bool
	}{
		{"file-slack", "auto", 0, true}, {"file-slack", "Auto", 0, true},
		{"file-slack", "0", 0, false}, {"file-slack", "40", 40, false},
		{"event-loops", "AUTO", 0, true}, {"event-loops", "3", 3, false},
	} {
		c, err := Parse([]string{"--" + tc.name, tc.v})
		if err != nil {
			t.Fatal(err)
		}
		if n, auto := c.IntOrAuto(tc.name); n != tc.n || auto != tc.auto {
			t.Fatalf("--%s %s: IntOrAuto %d, %v; want %d, %v", tc.name, tc.v, n, auto, tc.n, tc.auto)
		}
	}
	if _, auto := Default().IntOrAuto("file-slack"); !auto {
		t.Fatal("default file-slack is not auto")
	}
}

func TestParseErrors(t *testing.T) {
	for _, args := range [][]string{
		{"--nope", "1"},
		{"--port", "x"},
		{"--appendfsync", "sometimes"},
		{"--page-size", "5000"},
		{"--cache-size", "0"},
		{"--file-slack", "91"},
		{"--file-slack", "-1"},
		{"--file-slack", "some"},
		{"--dirty-cap", "512kb"},
		{"--dirty-cap", "lots"},
		{"--event-loops", "65"},
		{"--event-loops", "-1"},
		{"--event-loops", "some"},
		{"-p", "1"},
		{"/does/not/exist.conf"},
	} {
		if _, err := Parse(args); err == nil {
			t.Errorf("Parse(%q) accepted", args)
		}
	}
}

func TestRuntime(t *testing.T) {
	c := Default()
	if err := c.SetRuntime("port", "1"); err != ErrImmutable {
		t.Fatalf("port: %v", err)
	}
	if err := c.SetRuntime("dirty-cap", "1gb"); err != ErrImmutable {
		t.Fatalf("dirty-cap: %v", err)
	}
	if err := c.SetRuntime("maxclients", "5"); err != nil || c.Int("maxclients") != 5 {
		t.Fatal(err)
	}
	got := c.Match("app*")
	if len(got) != 2 || got[0][0] != "appendfsync" || got[1][0] != "appendonly" {
		t.Fatalf("match %v", got)
	}
	for _, kv := range c.Match("*") {
		if kv[0] == "requirepass" {
			t.Fatal("secret listed")
		}
	}
	if g := c.Match("proto-max-bulk-len"); len(g) != 1 || g[0][1] != "536870912" {
		t.Fatalf("%v", g)
	}
	// Enums are kept lower-cased; a refused value changes nothing.
	if err := c.SetRuntime("appendfsync", "ALWAYS"); err != nil || c.Get("appendfsync") != "always" {
		t.Fatalf("appendfsync ALWAYS: %v, %q", err, c.Get("appendfsync"))
	}
	if err := c.SetRuntime("appendfsync", "sometimes"); err == nil || c.Get("appendfsync") != "always" {
		t.Fatalf("appendfsync sometimes: %v, value %q", err, c.Get("appendfsync"))
	}
}

func TestSplitArgs(t *testing.T) {
	w, err := SplitArgs(`save "" 'a b' "x\ny"`)
	if err != nil || strings.Join(w, "|") != "save||a b|x\ny" {
		t.Fatalf("%q %v", w, err)
	}
	if _, err := SplitArgs(`a "b`); err == nil {
		t.Fatal("unbalanced accepted")
	}
}

func TestParseSize(t *testing.T) {
	for in, want := range map[string]int64{"1": 1, "1k": 1000, "1kb": 1024, "2MB": 2 << 20, "1g": 1e9, "1gb": 1 << 30} {
		if got, err := ParseSize(in); err != nil || got != want {
			t.Errorf("%s: %d %v", in, got, err)
		}
	}
	if _, err := ParseSize("-1"); err == nil {
		t.Error("negative")
	}
}

// TestReportSizesInBytes: CONFIG GET reports the size parameters in bytes,
// whatever unit they were set with, and every other parameter as set.
func TestReportSizesInBytes(t *testing.T) {
	c := Default()
	for name, want := range map[string]string{
		"cache-size":                "2097152",
		"dirty-cap":                 "2097152",
		"proto-max-bulk-len":        "2097152",
		"client-query-buffer-limit": "2097152",
		"maxmemory":                 "2097152",
	} {
		if err := c.Set(name, "2mb"); err != nil {
			t.Fatal(err)
		}
		if got := c.Report(name); got != want {
			t.Errorf("%s set to 2mb: reported %q, want %q", name, got, want)
		}
	}
	if got := c.Report("page-size"); got != "4096" {
		t.Errorf("page-size: reported %q", got)
	}
	if err := c.Set("timeout", "30"); err != nil {
		t.Fatal(err)
	}
	for name, want := range map[string]string{"timeout": "30", "appendfsync": "everysec", "maxmemory-policy": "noeviction"} {
		if got := c.Report(name); got != want {
			t.Errorf("%s: reported %q, want %q", name, got, want)
		}
	}
}
