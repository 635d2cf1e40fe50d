package compat

import (
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

func TestConnectionAndServerCommands(t *testing.T) {
	s := startDigby(t)
	for _, proto := range []int{2, 3} {
		t.Run(fmt.Sprint("resp", proto), func(t *testing.T) {
			c := redis.NewClient(&redis.Options{Addr: s.addr, Protocol: proto, ClientName: "tester"})
			defer c.Close()
			eq(t, "ping", c.Ping(ctx).Val(), "PONG")
			eq(t, "echo", c.Echo(ctx, "hi").Val(), "hi")
			eq(t, "client getname", c.ClientGetName(ctx).Val(), "tester")
			if id := c.ClientID(ctx).Val(); id <= 0 {
				t.Fatalf("client id %d", id)
			}
			list := c.ClientList(ctx).Val()
			if !strings.Contains(list, "name=tester") || !strings.Contains(list, "lib-name=go-redis") {
				t.Fatalf("client list %q", list)
			}
			info, err := c.ClientInfo(ctx).Result()
			must(t, err)
			eq(t, "client info name", info.Name, "tester")
			cfg := c.ConfigGet(ctx, "*").Val()
			for _, k := range []string{"save", "appendonly", "appendfsync", "maxmemory", "databases", "port"} {
				if _, ok := cfg[k]; !ok {
					t.Fatalf("CONFIG GET * lacks %s: %v", k, cfg)
				}
			}
			must(t, c.ConfigSet(ctx, "maxmemory", "1gb").Err())
			eq(t, "config set", c.ConfigGet(ctx, "maxmemory").Val()["maxmemory"], "1073741824")
			must(t, c.ConfigResetStat(ctx).Err())
			infoAll := c.Info(ctx).Val()
			for _, sec := range []string{"# Server", "# Clients", "# Memory", "# Persistence", "# Stats", "# Keyspace", "# Digby", "page_size:4096", "redis_version:"} {
				if !strings.Contains(infoAll, sec) {
					t.Fatalf("INFO lacks %q", sec)
				}
			}
			n, err := c.Do(ctx, "COMMAND", "COUNT").Int()
			must(t, err)
			if n < 70 {
				t.Fatalf("command count %d", n)
			}
			must(t, c.Do(ctx, "COMMAND", "DOCS", "set").Err())
			cmds, err := c.Command(ctx).Result()
			must(t, err)
			if cmds["get"] == nil || cmds["get"].Arity != 2 || !cmds["get"].ReadOnly || cmds["set"].ReadOnly {
				t.Fatalf("COMMAND get: %+v", cmds["get"])
			}
			tm, err := c.Time(ctx).Result()
			must(t, err)
			if d := time.Since(tm); d > time.Hour || d < -time.Hour {
				t.Fatalf("time %v", tm)
			}
			eq(t, "wait", c.Wait(ctx, 0, 0).Val(), int64(0))
			must(t, c.Do(ctx, "FUNCTION", "FLUSH").Err())
			must(t, c.Do(ctx, "SCRIPT", "FLUSH").Err())
			must(t, c.Do(ctx, "CLIENT", "NO-EVICT", "on").Err())
			must(t, c.Do(ctx, "CLIENT", "NO-TOUCH", "on").Err())
			eq(t, "unknown", fmt.Sprint(c.Do(ctx, "HSET", "h", "f", "v").Err()), "ERR unknown command 'HSET', with args beginning with: 'h' 'f' 'v' ")
		})
	}
}

func TestHelloMapsAndNulls(t *testing.T) {
	s := startDigby(t)
	r := dialRaw(t, s.addr)
	got, err := r.do("HELLO", "3")
	must(t, err)
	if !strings.HasPrefix(got, "%7\r\n$6\r\nserver\r\n") || !strings.Contains(got, "$5\r\nproto\r\n:3\r\n") {
		t.Fatalf("HELLO 3 %q", got)
	}
	got, _ = r.do("GET", "missing")
	eq(t, "resp3 null", got, "_\r\n")
	got, _ = r.do("CONFIG", "GET", "appendfsync")
	eq(t, "resp3 map", got, "%1\r\n$11\r\nappendfsync\r\n$8\r\neverysec\r\n")
	got, _ = r.do("INFO", "replication")
	if !strings.HasPrefix(got, "=") || !strings.Contains(got, "txt:# Replication") {
		t.Fatalf("resp3 verbatim %q", got)
	}
	got, _ = r.do("HELLO", "2")
	got, _ = r.do("GET", "missing")
	eq(t, "resp2 null", got, "$-1\r\n")
}

func TestRequirePass(t *testing.T) {
	dir := t.TempDir()
	pw := filepath.Join(dir, "pw")
	must(t, os.WriteFile(pw, []byte("s3cret\n"), 0o600))
	s := startDigby(t, "--requirepass-file", pw)
	r := dialRaw(t, s.addr)
	got, _ := r.do("GET", "x")
	eq(t, "noauth", got, "-NOAUTH Authentication required.\r\n")
	got, _ = r.do("AUTH", "wrong")
	eq(t, "wrongpass", got, "-WRONGPASS invalid username-password pair or user is disabled.\r\n")
	got, _ = r.do("AUTH", "s3cret")
	eq(t, "auth", got, "+OK\r\n")
	got, _ = r.do("SET", "x", "1")
	eq(t, "after auth", got, "+OK\r\n")
	c := redis.NewClient(&redis.Options{Addr: s.addr, Password: "s3cret"})
	defer c.Close()
	eq(t, "go-redis with password", c.Get(ctx, "x").Val(), "1")
}

func TestLimits(t *testing.T) {
	s := startDigby(t, "--proto-max-bulk-len", "1000", "--maxclients", "3")
	c := client(t, s, 3)
	must(t, c.Set(ctx, "ok", strings.Repeat("x", 1000), 0).Err())
	// an over-long bulk is refused at its header, and the connection closed
	conn, err := net.Dial("tcp", s.addr)
	must(t, err)
	defer conn.Close()
	fmt.Fprintf(conn, "*1\r\n$4\r\nPING\r\n*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$1001\r\n")
	conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	b, _ := io.ReadAll(conn)
	eq(t, "bulk limit", string(b), "+PONG\r\n-ERR Protocol error: invalid bulk length\r\n")
	// other clients are unaffected
	eq(t, "still serving", c.Get(ctx, "ok").Val(), strings.Repeat("x", 1000))
	// malformed input: Redis's error, connection closed
	bad := dialRaw(t, s.addr)
	bad.c.Write([]byte("*1\r\nx\r\n"))
	got, _ := bad.reply()
	eq(t, "malformed", got, "-ERR Protocol error: expected '$', got 'x'\r\n")
	bad.c.Close()
	// wait until the server has let go of the closed connections
	for strings.Count(c.ClientList(ctx).Val(), "\n") != 1 {
		time.Sleep(5 * time.Millisecond)
	}
	// maxclients: the pool's connection plus two raw ones fill the cap
	dialRaw(t, s.addr).do("PING")
	dialRaw(t, s.addr).do("PING")
	extra, err := net.Dial("tcp", s.addr)
	must(t, err)
	defer extra.Close()
	extra.SetReadDeadline(time.Now().Add(10 * time.Second))
	b, _ = io.ReadAll(extra)
	eq(t, "maxclients", string(b), "-ERR max number of clients reached\r\n")
}

func TestShutdownCommand(t *testing.T) {
	dir := t.TempDir()
	s := startDigbyIn(t, dir)
	c := client(t, s, 3)
	must(t, c.Set(ctx, "k", "v", 0).Err())
	c.Shutdown(ctx)
	err := <-s.done
	s.done <- err
	if err != nil {
		t.Fatalf("exit after SHUTDOWN: %v\n%s", err, s.log.String())
	}
	if !strings.Contains(s.log.String(), "bye") {
		t.Fatalf("no shutdown log line:\n%s", s.log.String())
	}
	s2 := startDigbyIn(t, dir)
	eq(t, "after shutdown", client(t, s2, 2).Get(ctx, "k").Val(), "v")
}

func TestBadFlags(t *testing.T) {
	for _, args := range [][]string{{"--nosuch", "1"}, {"--appendfsync", "sometimes"}, {"/no/such/file.conf"}} {
		out, err := runBinary(args...)
		if err == nil {
			t.Fatalf("%v accepted:\n%s", args, out)
		}
	}
	out, err := runBinary("--version")
	must(t, err)
	if !strings.HasPrefix(out, "digby-server v=") {
		t.Fatalf("--version %q", out)
	}
	out, err = runBinary("--help")
	must(t, err)
	if !strings.Contains(out, "--appendfsync") {
		t.Fatalf("--help %q", out)
	}
}

// TestConfigSetCacheSize: CONFIG SET cache-size bounds the page cache at
// once (INFO shows the new bound and at most that much cached); data stays
// readable; a non-positive size is refused and changes nothing.
func TestConfigSetCacheSize(t *testing.T) {
	s := startDigby(t)
	c := client(t, s, 3)
	val := strings.Repeat("v", 500)
	for i := 0; i < 3000; i++ {
		must(t, c.Set(ctx, fmt.Sprintf("key:%05d", i), val, 0).Err())
	}
	field := func(name string) int64 {
		t.Helper()
		for _, l := range strings.Split(c.Info(ctx, "digby").Val(), "\r\n") {
			if v, ok := strings.CutPrefix(l, name+":"); ok {
				var n int64
				fmt.Sscan(v, &n)
				return n
			}
		}
		t.Fatalf("INFO digby has no %s", name)
		return 0
	}
	must(t, c.ConfigSet(ctx, "cache-size", "256kb").Err())
	eq(t, "config get (in bytes, as Redis reports sizes)", c.ConfigGet(ctx, "cache-size").Val()["cache-size"], "262144")
	if got := field("cache_size"); got != 256<<10 {
		t.Fatalf("cache_size %d after CONFIG SET cache-size 256kb", got)
	}
	if got := field("cache_bytes"); got > 256<<10 {
		t.Fatalf("cache_bytes %d over the new bound", got)
	}
	for i := 0; i < 3000; i += 7 {
		eq(t, "read back", c.Get(ctx, fmt.Sprintf("key:%05d", i)).Val(), val)
	}
	if got := field("cache_bytes"); got > 256<<10 {
		t.Fatalf("cache_bytes %d over the bound after reads", got)
	}
	if err := c.ConfigSet(ctx, "cache-size", "0").Err(); err == nil {
		t.Fatal("CONFIG SET cache-size 0: no error")
	}
	eq(t, "config get after a refused set", c.ConfigGet(ctx, "cache-size").Val()["cache-size"], "262144")
	// One refused parameter refuses the whole CONFIG SET: nothing changes.
	if err := c.Do(ctx, "CONFIG", "SET", "appendfsync", "always", "cache-size", "0").Err(); err == nil {
		t.Fatal("CONFIG SET appendfsync always cache-size 0: no error")
	}
	eq(t, "appendfsync after a refused CONFIG SET", c.ConfigGet(ctx, "appendfsync").Val()["appendfsync"], "everysec")
	if got := field("cache_size"); got != 256<<10 {
		t.Fatalf("cache_size %d after a refused CONFIG SET", got)
	}
}

// TestFileSlackServer: --file-slack reaches the store (INFO digby reports
// the share in force: by default 15, or 50 under appendfsync always and
// following CONFIG SET appendfsync; 0 for lowest-first placement; a share
// given stays whatever the mode).
func TestFileSlackServer(t *testing.T) {
	for _, tc := range []struct {
		args           []string
		want, inAlways string // INFO's line as started, then under CONFIG SET appendfsync always
	}{
		{nil, "file_slack:15", "file_slack:50"},
		{[]string{"--appendfsync", "always"}, "file_slack:50", "file_slack:50"},
		{[]string{"--file-slack", "0"}, "file_slack:0", "file_slack:0"},
		{[]string{"--file-slack", "40"}, "file_slack:40", "file_slack:40"},
		{[]string{"--file-slack", "40", "--appendfsync", "always"}, "file_slack:40", "file_slack:40"},
	} {
		s := startDigby(t, tc.args...)
		c := client(t, s, 2)
		check := func(want string) {
			t.Helper()
			info, err := c.Info(ctx, "digby").Result()
			must(t, err)
			if !strings.Contains(info, want+"\r\n") {
				t.Fatalf("%v: INFO digby lacks %s:\n%s", tc.args, want, info)
			}
		}
		check(tc.want)
		must(t, c.ConfigSet(ctx, "appendfsync", "always").Err())
		check(tc.inAlways)
		must(t, c.ConfigSet(ctx, "appendfsync", "everysec").Err())
		if tc.args == nil {
			check("file_slack:15")
		}
		c.Close()
		s.stop()
	}
}
