package compat

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

func TestRestartPersistence(t *testing.T) {
	dir := t.TempDir()
	s := startDigbyIn(t, dir)
	c := client(t, s, 3)
	must(t, c.Set(ctx, "durable", "yes", 0).Err())
	must(t, c.Set(ctx, "ttl", "v", time.Hour).Err())
	must(t, c.Do(ctx, "SELECT", "3").Err())
	c3 := redis.NewClient(&redis.Options{Addr: s.addr, DB: 3})
	must(t, c3.Set(ctx, "in3", "x", 0).Err())
	c3.Close()
	c.Close()
	s.stop()
	if _, err := os.Stat(dir); err != nil {
		t.Fatal(err)
	}

	s2 := startDigbyIn(t, dir)
	c = client(t, s2, 2)
	eq(t, "after restart", c.Get(ctx, "durable").Val(), "yes")
	if ttl := c.TTL(ctx, "ttl").Val(); ttl <= 0 || ttl > time.Hour {
		t.Fatalf("ttl after restart %v", ttl)
	}
	c3 = client(t, &server{addr: s2.addr}, 2)
	must(t, c3.Do(ctx, "SELECT", "3").Err())
	eq(t, "table 3", c3.Get(ctx, "in3").Val(), "x")
	s2.stop()
}

// TestAlwaysSurvivesSIGKILL: with appendfsync always every acknowledged
// write must be there after the server is killed, with the commit log
// (replayed at the restart) and without.
func TestAlwaysSurvivesSIGKILL(t *testing.T) {
	for _, commitLog := range []string{"no", "yes"} {
		t.Run("commit-log="+commitLog, func(t *testing.T) { alwaysSurvivesSIGKILL(t, commitLog) })
	}
}

func alwaysSurvivesSIGKILL(t *testing.T, commitLog string) {
	dir := t.TempDir()
	s := startDigbyIn(t, dir, "--appendfsync", "always", "--commit-log", commitLog)
	const writers = 4
	per := 200
	if long() {
		per = 2000
	}
	var mu sync.Mutex
	acked := map[string]string{}
	var wg sync.WaitGroup
	for w := 0; w < writers; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			c := redis.NewClient(&redis.Options{Addr: s.addr, MaxRetries: -1})
			defer c.Close()
			for i := 0; i < per; i++ {
				k, v := fmt.Sprintf("w%d:%d", w, i), fmt.Sprint(i)
				if err := c.Set(ctx, k, v, 0).Err(); err != nil {
					return
				}
				mu.Lock()
				acked[k] = v
				mu.Unlock()
			}
		}(w)
	}
	// kill once a good part of the writes is acknowledged
	for {
		mu.Lock()
		n := len(acked)
		mu.Unlock()
		if n >= writers*per/2 {
			break
		}
		time.Sleep(time.Millisecond)
	}
	if commitLog == "yes" {
		// The writes went through the log.
		info, err := client(t, s, 2).Info(ctx, "digby").Result()
		must(t, err)
		if !strings.Contains(info, "commit_log:1\r\n") || strings.Contains(info, "log_blocks:0\r\n") {
			t.Errorf("INFO digby with --commit-log yes after %d acknowledged writes:\n%s", writers*per/2, info)
		}
	}
	s.kill()
	wg.Wait()

	s2 := startDigbyIn(t, dir)
	c := client(t, s2, 3)
	mu.Lock()
	defer mu.Unlock()
	for k, v := range acked {
		got, err := c.Get(ctx, k).Result()
		if err != nil || got != v {
			t.Fatalf("acknowledged %s=%s lost after SIGKILL: %q %v", k, v, got, err)
		}
	}
	t.Logf("%d acknowledged writes all present", len(acked))
	if commitLog == "yes" {
		// The writes went through the log: the restart replayed it
		// (and, started without --commit-log, removed the files).
		if !strings.Contains(s2.log.String(), "replayed") {
			t.Errorf("restart did not replay the commit log; its log:\n%s", s2.log.String())
		}
	}
}

func TestSaveWritesBackup(t *testing.T) {
	s := startDigby(t)
	c := client(t, s, 3)
	must(t, c.Set(ctx, "k", "v", 0).Err())
	before := c.LastSave(ctx).Val()
	must(t, c.Save(ctx).Err())
	if _, err := os.Stat(filepath.Join(s.dir, "dump.digby")); err != nil {
		t.Fatalf("SAVE wrote nothing: %v", err)
	}
	if after := c.LastSave(ctx).Val(); after < before {
		t.Fatalf("lastsave %d < %d", after, before)
	}
	eq(t, "bgsave", c.BgSave(ctx).Val(), "Background saving started")
	// the backup opens as a database
	for c.Do(ctx, "INFO", "persistence").Err() == nil {
		info := c.Info(ctx, "persistence").Val()
		if !containsLine(info, "rdb_bgsave_in_progress:1") {
			break
		}
	}
	s.stop()
	restored := t.TempDir()
	b, err := os.ReadFile(filepath.Join(s.dir, "dump.digby"))
	must(t, err)
	must(t, os.WriteFile(filepath.Join(restored, "digby.db"), b, 0o644))
	s2 := startDigbyIn(t, restored)
	eq(t, "backup opens", client(t, s2, 3).Get(ctx, "k").Val(), "v")
}

func containsLine(s, line string) bool {
	for _, l := range splitLines(s) {
		if l == line {
			return true
		}
	}
	return false
}

func splitLines(s string) []string {
	var out []string
	start := 0
	for i := 0; i < len(s); i++ {
		if s[i] == '\n' {
			l := s[start:i]
			if len(l) > 0 && l[len(l)-1] == '\r' {
				l = l[:len(l)-1]
			}
			out = append(out, l)
			start = i + 1
		}
	}
	return append(out, s[start:])
}

func TestActiveExpiry(t *testing.T) {
	s := startDigby(t)
	c := client(t, s, 3)
	for i := 0; i < 50; i++ {
		must(t, c.Set(ctx, fmt.Sprint("e", i), "v", 100*time.Millisecond).Err())
	}
	must(t, c.Set(ctx, "keep", "v", 0).Err())
	// never read the keys: active expiry must remove them from the store
	for {
		info := c.Info(ctx, "keyspace").Val()
		if containsLine(info, "db0:keys=1,expires=0,avg_ttl=0") {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	eq(t, "lazy view", c.Exists(ctx, "e1").Val(), int64(0))
}

// TestConfigSetAppendfsync: CONFIG SET appendfsync always on a server
// started with "no" (which flushes only under memory pressure or at
// shutdown) makes the next acknowledged write survive SIGKILL.
func TestConfigSetAppendfsync(t *testing.T) {
	dir := t.TempDir()
	s := startDigbyIn(t, dir, "--appendfsync", "no")
	c := client(t, s, 3)
	must(t, c.Set(ctx, "before", "1", 0).Err())
	must(t, c.ConfigSet(ctx, "appendfsync", "ALWAYS").Err()) // any case; reported lower-case
	eq(t, "config get", c.ConfigGet(ctx, "appendfsync").Val()["appendfsync"], "always")
	must(t, c.Set(ctx, "after", "2", 0).Err())
	if err := c.ConfigSet(ctx, "appendfsync", "sometimes").Err(); err == nil {
		t.Fatal("CONFIG SET appendfsync sometimes: no error")
	}
	eq(t, "config get after a refused set", c.ConfigGet(ctx, "appendfsync").Val()["appendfsync"], "always")
	c.Close()
	s.kill()

	s2 := startDigbyIn(t, dir)
	c = client(t, s2, 3)
	eq(t, "write acknowledged under always, after SIGKILL", c.Get(ctx, "after").Val(), "2")
	eq(t, "write before the switch (flushed by the first always batch)", c.Get(ctx, "before").Val(), "1")
}
