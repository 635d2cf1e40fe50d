package compat

import (
	"bytes"
	"math/rand/v2"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// TestLargeValue: SET and GET of a large value (32 MiB; 512 MiB with
// DIGBY_LONG=1, proto-max-bulk-len raised to 1gb) through the server,
// then GETRANGE, APPEND and STRLEN on it, and again after a restart. It
// logs the server's peak resident memory.
func TestLargeValue(t *testing.T) {
	size := 32 << 20
	if long() {
		size = 512 << 20
	}
	dir := t.TempDir()
	s := startDigbyIn(t, dir, "--proto-max-bulk-len", "1gb")
	c := redis.NewClient(&redis.Options{Addr: s.addr, Protocol: 2, ReadTimeout: 5 * time.Minute, WriteTimeout: 5 * time.Minute})
	defer c.Close()
	// Half compressible text, half random bytes.
	v := make([]byte, size)
	r := rand.New(rand.NewPCG(1, 1))
	for i := 0; i < size/2; i += 8 {
		copy(v[i:], "digby-v ")
	}
	for i := size / 2; i+8 <= size; i += 8 {
		x := r.Uint64()
		for j := 0; j < 8; j++ {
			v[i+j] = byte(x >> (8 * j))
		}
	}
	must(t, c.Set(ctx, "big", v, 0).Err())
	t.Logf("after SET: server peak RSS %d MiB", peakRSS(t, s)>>20)
	got, err := c.Get(ctx, "big").Bytes()
	if err != nil || !bytes.Equal(got, v) {
		t.Fatalf("GET of %d bytes: %d bytes back, %v", size, len(got), err)
	}
	got = nil
	t.Logf("%d MiB value: server peak RSS after SET and GET %d MiB", size>>20, peakRSS(t, s)>>20)
	eq(t, "getrange", c.GetRange(ctx, "big", int64(size-5), -1).Val(), string(v[size-5:]))
	eq(t, "append", c.Append(ctx, "big", "tail").Val(), int64(size+4))
	s.stop()
	s = startDigbyIn(t, dir, "--proto-max-bulk-len", "1gb")
	c2 := redis.NewClient(&redis.Options{Addr: s.addr, Protocol: 3, ReadTimeout: 5 * time.Minute})
	defer c2.Close()
	eq(t, "strlen after restart", c2.StrLen(ctx, "big").Val(), int64(size+4))
	got, err = c2.Get(ctx, "big").Bytes()
	if err != nil || len(got) != size+4 || !bytes.Equal(got[:size], v) || string(got[size:]) != "tail" {
		t.Fatalf("GET after restart: %d bytes, %v", len(got), err)
	}
	t.Logf("GET alone, after a restart: server peak RSS %d MiB", peakRSS(t, s)>>20)
}

// peakRSS is the server process's peak resident set (VmHWM), 0 if unknown.
func peakRSS(t *testing.T, s *server) int64 {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(s.cmd.Process.Pid) + "/status")
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if f := strings.Fields(line); len(f) >= 2 && f[0] == "VmHWM:" {
			kb, _ := strconv.ParseInt(f[1], 10, 64)
			return kb << 10
		}
	}
	return 0
}
