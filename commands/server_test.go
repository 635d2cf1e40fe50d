package commands

import (
	"context"
	"fmt"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/digby-db/digby/commands/config"
	"github.com/redis/go-redis/v9"
)

// startServer runs a Server in-process on a free port.
func startServer(t *testing.T, opts ...string) (*Server, *redis.Client) {
	t.Helper()
	return startServerWith(t, Hooks{}, opts...)
}

// startServerWith is startServer with hooks.
func startServerWith(t *testing.T, hooks Hooks, opts ...string) (*Server, *redis.Client) {
	t.Helper()
	cfg := config.Default()
	must := func(err error) {
		if err != nil {
			t.Fatal(err)
		}
	}
	must(cfg.Set("port", "0"))
	must(cfg.Set("dir", t.TempDir()))
	if v := os.Getenv("DIGBY_EVENT_LOOPS"); v != "" {
		// CI runs the package once more with the goroutine-a-connection form.
		must(cfg.Set("event-loops", v))
	}
	for i := 0; i+1 < len(opts); i += 2 {
		must(cfg.Set(opts[i], opts[i+1]))
	}
	s, err := Start(cfg, t.Logf, hooks)
	must(err)
	t.Cleanup(func() { s.Close() })
	c := redis.NewClient(&redis.Options{Addr: s.Addr().String()})
	t.Cleanup(func() { c.Close() })
	return s, c
}

func TestServerConcurrentIncr(t *testing.T) {
	s, c := startServer(t)
	ctx := context.Background()
	const clients, each = 8, 200
	var wg sync.WaitGroup
	for i := 0; i < clients; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			cc := redis.NewClient(&redis.Options{Addr: s.Addr().String(), Protocol: 2 + i%2})
			defer cc.Close()
			pipe := cc.Pipeline()
			for j := 0; j < each; j++ {
				pipe.Incr(ctx, "n")
				pipe.Set(ctx, fmt.Sprintf("c%d", i), j, 0)
				pipe.Get(ctx, fmt.Sprintf("c%d", i))
			}
			cmds, err := pipe.Exec(ctx)
			if err != nil {
				t.Error(err)
				return
			}
			// a read sees the same connection's earlier write in the pipeline
			for j := 0; j < each; j++ {
				if got := cmds[3*j+2].(*redis.StringCmd).Val(); got != fmt.Sprint(j) {
					t.Errorf("client %d: GET after SET %d = %q", i, j, got)
					return
				}
			}
			cc.ClientList(ctx) // reads other clients' state concurrently
		}(i)
	}
	wg.Wait()
	if n, _ := c.Get(ctx, "n").Int(); n != clients*each {
		t.Fatalf("n = %d, want %d", n, clients*each)
	}
	info := c.Info(ctx, "stats", "digby").Val()
	if !strings.Contains(info, "total_commands_processed:") || !strings.Contains(info, "page_size:4096") {
		t.Fatalf("info %q", info)
	}
}

func TestServerExpiryAndWatch(t *testing.T) {
	_, c := startServer(t, "hz", "50")
	ctx := context.Background()
	if err := c.Set(ctx, "gone", "v", 20*time.Millisecond).Err(); err != nil {
		t.Fatal(err)
	}
	for c.DBSize(ctx).Val() != 0 {
		time.Sleep(5 * time.Millisecond)
	}
	err := c.Watch(ctx, func(tx *redis.Tx) error {
		if err := c.Set(ctx, "w", "other", 0).Err(); err != nil {
			return err
		}
		_, err := tx.TxPipelined(ctx, func(p redis.Pipeliner) error {
			p.Set(ctx, "w", "mine", 0)
			return nil
		})
		return err
	}, "w")
	if err != redis.TxFailedErr {
		t.Fatalf("watch: %v", err)
	}
	if got := c.Get(ctx, "w").Val(); got != "other" {
		t.Fatalf("w = %q", got)
	}
}

func TestServerShutdownCommand(t *testing.T) {
	s, c := startServer(t)
	c.Shutdown(context.Background())
	select {
	case <-s.ShutdownRequested():
	case <-time.After(10 * time.Second):
		t.Fatal("SHUTDOWN did not signal")
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
}

// TestServerPipelinedReads: consecutive reads share a snapshot; each still
// sees the connection's earlier writes, and an error fails only its own reply.
func TestServerPipelinedReads(t *testing.T) {
	_, c := startServer(t)
	ctx := context.Background()
	pipe := c.Pipeline()
	set1 := pipe.Set(ctx, "a", "1", 0)
	get1 := pipe.Get(ctx, "a")
	miss := pipe.Get(ctx, "missing")
	bad := pipe.Do(ctx, "getrange", "a", "x", "1")
	strlen := pipe.StrLen(ctx, "a")
	incr := pipe.Incr(ctx, "a")
	get2 := pipe.Get(ctx, "a")
	mget := pipe.MGet(ctx, "a", "missing")
	_, _ = pipe.Exec(ctx) // each command's error is checked below
	if set1.Err() != nil || get1.Val() != "1" || miss.Err() == nil || strlen.Val() != 1 || incr.Val() != 2 || get2.Val() != "2" {
		t.Fatalf("set %v get %q miss %v strlen %d incr %d get %q", set1.Err(), get1.Val(), miss.Err(), strlen.Val(), incr.Val(), get2.Val())
	}
	if bad.Err() == nil || !strings.Contains(bad.Err().Error(), "not an integer") {
		t.Fatalf("getrange: %v", bad.Err())
	}
	if v := mget.Val(); len(v) != 2 || v[0] != "2" || v[1] != nil {
		t.Fatalf("mget %v", v)
	}
}

// TestCacheSizeHook: CONFIG SET cache-size calls the server's hook with the
// new bound (the binary moves its Go memory limit there); a refused value
// does not.
func TestCacheSizeHook(t *testing.T) {
	var mu sync.Mutex
	var got []int64
	s, c := startServerWith(t, Hooks{CacheSize: func(n int64) { mu.Lock(); got = append(got, n); mu.Unlock() }})
	ctx := context.Background()
	if err := c.ConfigSet(ctx, "cache-size", "1mb").Err(); err != nil {
		t.Fatal(err)
	}
	if err := c.ConfigSet(ctx, "cache-size", "0").Err(); err == nil {
		t.Fatal("cache-size 0 accepted")
	}
	mu.Lock()
	defer mu.Unlock()
	if len(got) != 1 || got[0] != 1<<20 || s.db.Stats().CacheSize != 1<<20 {
		t.Fatalf("hook saw %v, cache bound %d", got, s.db.Stats().CacheSize)
	}
}

// TestServerInfoInExec: INFO runs inside EXEC in the writer's transaction.
// Its keyspace section reads that transaction (the keys the queued writes
// before it made, as Redis shows them), not a snapshot: a snapshot would
// wait for the transaction's own commit once it changes nodes in place.
func TestServerInfoInExec(t *testing.T) {
	_, c := startServer(t)
	ctx := context.Background()
	for i := range 50 {
		if err := c.Set(ctx, fmt.Sprintf("k%d", i), "v", 0).Err(); err != nil {
			t.Fatal(err)
		}
	}
	done := make(chan error, 1)
	var info *redis.StringCmd
	go func() {
		_, err := c.TxPipelined(ctx, func(p redis.Pipeliner) error {
			p.Set(ctx, "k7", "w", 0) // changes a committed leaf in place
			p.Set(ctx, "new", "w", 0)
			info = p.Info(ctx, "keyspace")
			return nil
		})
		done <- err
	}()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("MULTI / SET / INFO keyspace / EXEC did not answer")
	}
	if got := info.Val(); !strings.Contains(got, "db0:keys=51,") {
		t.Fatalf("INFO keyspace inside EXEC: %q, want db0:keys=51", got)
	}
	if got := c.Info(ctx, "digby").Val(); strings.Contains(got, "inplace_nodes:0\r") {
		t.Fatalf("no node changed in place: the test did not test it\n%s", got)
	}
}

// TestServerInPlaceSetting: in-place yes (the default) changes committed
// pages in place under repeated writes; in-place no never does.
func TestServerInPlaceSetting(t *testing.T) {
	for _, v := range []string{"yes", "no"} {
		t.Run(v, func(t *testing.T) {
			_, c := startServer(t, "in-place", v)
			ctx := context.Background()
			for round := range 5 {
				p := c.Pipeline()
				for i := range 300 {
					p.Set(ctx, fmt.Sprintf("k%d", i), round, 0)
				}
				if _, err := p.Exec(ctx); err != nil {
					t.Fatal(err)
				}
			}
			if got := c.ConfigGet(ctx, "in-place").Val()["in-place"]; got != v {
				t.Fatalf("CONFIG GET in-place: %q, want %q", got, v)
			}
			none := strings.Contains(c.Info(ctx, "digby").Val(), "inplace_nodes:0\r")
			if none != (v == "no") {
				t.Fatalf("in-place %s: no node changed in place: %v", v, none)
			}
		})
	}
}

// TestServerDirtyCap: --dirty-cap reaches the store. With appendfsync no a
// flush happens only when the committed changes held in memory pass the
// cap: 30,000 keys (hundreds of dirty leaves) force flushes under a 1 MiB
// cap and none under the default 256 MiB.
func TestServerDirtyCap(t *testing.T) {
	for _, tc := range []struct {
		cap    string
		bytes  string
		forced bool
	}{{"1mb", "1048576", true}, {"", "268435456", false}} {
		t.Run("cap="+tc.bytes, func(t *testing.T) {
			opts := []string{"appendfsync", "no"}
			if tc.cap != "" {
				opts = append(opts, "dirty-cap", tc.cap)
			}
			_, c := startServer(t, opts...)
			ctx := context.Background()
			p := c.Pipeline()
			for i := range 30000 {
				p.Set(ctx, fmt.Sprintf("key:%d", i), "v", 0)
			}
			if _, err := p.Exec(ctx); err != nil {
				t.Fatal(err)
			}
			info := c.Info(ctx, "digby").Val()
			if !strings.Contains(info, "dirty_cap:"+tc.bytes+"\r") {
				t.Fatalf("INFO digby does not show dirty_cap:%s:\n%s", tc.bytes, info)
			}
			if got := c.ConfigGet(ctx, "dirty-cap").Val()["dirty-cap"]; got != tc.bytes {
				t.Fatalf("CONFIG GET dirty-cap: %q, want %q", got, tc.bytes)
			}
			none := strings.Contains(info, "\r\nflushes:0\r")
			if none == tc.forced {
				t.Fatalf("dirty cap %s: forced flushes %v, want %v:\n%s", tc.bytes, !none, tc.forced, info)
			}
		})
	}
}
