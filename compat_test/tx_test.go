package compat

import (
	"errors"
	"fmt"
	"strconv"
	"sync"
	"testing"

	"github.com/redis/go-redis/v9"
)

func TestPipeline(t *testing.T) {
	s := startDigby(t)
	c := client(t, s, 3)
	pipe := c.Pipeline()
	for i := 0; i < 1000; i++ {
		pipe.Set(ctx, fmt.Sprintf("p%d", i), i, 0)
	}
	get := pipe.Get(ctx, "p999")
	incr := pipe.Incr(ctx, "p0")
	if _, err := pipe.Exec(ctx); err != nil {
		t.Fatal(err)
	}
	eq(t, "pipelined get sees the pipelined set", get.Val(), "999")
	eq(t, "incr", incr.Val(), int64(1))
	eq(t, "dbsize", c.DBSize(ctx).Val(), int64(1000))
}

func TestTxPipeline(t *testing.T) {
	s := startDigby(t)
	for _, proto := range []int{2, 3} {
		c := client(t, s, proto)
		must(t, c.FlushAll(ctx).Err())
		tx := c.TxPipeline()
		tx.Set(ctx, "x", "1", 0)
		incr := tx.Incr(ctx, "x")
		bad := tx.Incr(ctx, "y")
		tx.Set(ctx, "y", "text", 0)
		bad2 := tx.Incr(ctx, "y")
		_, err := tx.Exec(ctx)
		if err == nil {
			t.Fatal("runtime error in EXEC not reported")
		}
		eq(t, "incr in tx", incr.Val(), int64(2))
		eq(t, "incr y", bad.Val(), int64(1))
		eq(t, "runtime error", fmt.Sprint(bad2.Err()), "ERR value is not an integer or out of range")
		eq(t, "applied", c.Get(ctx, "y").Val(), "text")
	}
	// a queuing error aborts the whole transaction
	r := dialRaw(t, s.addr)
	for _, step := range [][2]string{
		{"MULTI", "+OK\r\n"},
		{"SET q 1", "+QUEUED\r\n"},
		{"GET", "-ERR wrong number of arguments for 'get' command\r\n"},
		{"EXEC", "-EXECABORT Transaction discarded because of previous errors.\r\n"},
		{"EXISTS q", ":0\r\n"},
		{"EXEC", "-ERR EXEC without MULTI\r\n"},
		{"DISCARD", "-ERR DISCARD without MULTI\r\n"},
	} {
		got, err := r.do(splitWords(step[0])...)
		must(t, err)
		eq(t, step[0], got, step[1])
	}
}

func splitWords(s string) []string {
	var out []string
	start := 0
	for i := 0; i <= len(s); i++ {
		if i == len(s) || s[i] == ' ' {
			if i > start {
				out = append(out, s[start:i])
			}
			start = i + 1
		}
	}
	return out
}

// TestWatchConcurrent increments a counter from many clients with
// WATCH/MULTI/EXEC while another writer keeps touching the key: no update
// may be lost, and the concurrent writer must make some EXECs abort.
func TestWatchConcurrent(t *testing.T) {
	s := startDigby(t)
	c := client(t, s, 3)
	must(t, c.Set(ctx, "counter", "0", 0).Err())
	const workers, each = 8, 50
	var wg sync.WaitGroup
	stop := make(chan struct{})
	var bumps int64
	var bumpMu sync.Mutex
	go func() {
		// the concurrent writer adds 1000 at a time, outside any transaction
		for {
			select {
			case <-stop:
				return
			default:
			}
			if c.IncrBy(ctx, "counter", 1000).Err() == nil {
				bumpMu.Lock()
				bumps++
				bumpMu.Unlock()
			}
		}
	}()
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			wc := client(t, s, 2)
			for done := 0; done < each; {
				err := wc.Watch(ctx, func(tx *redis.Tx) error {
					n, err := tx.Get(ctx, "counter").Int64()
					if err != nil {
						return err
					}
					_, err = tx.TxPipelined(ctx, func(p redis.Pipeliner) error {
						p.Set(ctx, "counter", strconv.FormatInt(n+1, 10), 0)
						return nil
					})
					return err
				}, "counter")
				if errors.Is(err, redis.TxFailedErr) {
					continue
				}
				if err != nil {
					t.Error(err)
					return
				}
				done++
			}
		}()
	}
	wg.Wait()
	close(stop)
	// wait for the bumper's last command
	must(t, c.Ping(ctx).Err())
	bumpMu.Lock()
	defer bumpMu.Unlock()
	got, err := c.Get(ctx, "counter").Int64()
	must(t, err)
	if got != workers*each+bumps*1000 && got != workers*each+(bumps+1)*1000 {
		t.Fatalf("counter %d, want %d (+1000 for a bump in flight)", got, workers*each+bumps*1000)
	}
}

func TestWatchSemantics(t *testing.T) {
	s := startDigby(t)
	a, b := dialRaw(t, s.addr), dialRaw(t, s.addr)
	run := func(c *raw, args ...string) string {
		t.Helper()
		got, err := c.do(args...)
		must(t, err)
		return got
	}
	// absent key created and deleted again by another client: EXEC aborts
	run(a, "WATCH", "w")
	run(b, "SET", "w", "1")
	run(b, "DEL", "w")
	run(a, "MULTI")
	run(a, "SET", "w", "mine")
	eq(t, "touched", run(a, "EXEC"), "*-1\r\n")
	// FLUSHDB of a watched existing key aborts
	run(b, "SET", "w", "1")
	run(a, "WATCH", "w")
	run(b, "FLUSHDB")
	run(a, "MULTI")
	run(a, "PING")
	eq(t, "flushdb", run(a, "EXEC"), "*-1\r\n")
	// untouched: EXEC runs
	run(a, "WATCH", "w")
	run(b, "SET", "other", "1")
	run(a, "MULTI")
	run(a, "SET", "w", "ok")
	eq(t, "untouched", run(a, "EXEC"), "*1\r\n+OK\r\n")
	// expiry of a watched key aborts
	run(b, "SET", "e", "1", "PX", "30")
	run(a, "WATCH", "e")
	for run(b, "EXISTS", "e") != ":0\r\n" {
	}
	run(a, "MULTI")
	run(a, "PING")
	eq(t, "expired", run(a, "EXEC"), "*-1\r\n")
	eq(t, "watch in multi", func() string { run(a, "MULTI"); return run(a, "WATCH", "x") }(), "-ERR WATCH inside MULTI is not allowed\r\n")
	eq(t, "nested", run(a, "MULTI"), "-ERR MULTI calls can not be nested\r\n")
	eq(t, "discard", run(a, "DISCARD"), "+OK\r\n")
}
