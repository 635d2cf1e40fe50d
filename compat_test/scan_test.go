package compat

import (
	"fmt"
	"math/rand/v2"
	"strconv"
	"sync"
	"testing"
)

// TestScanUnderConcurrentWrites checks DESIGN §5's guarantee: every key
// present for the whole iteration is returned, whatever is written meanwhile,
// and the cursor is an unsigned 64-bit number.
func TestScanUnderConcurrentWrites(t *testing.T) {
	s := startDigby(t)
	c := client(t, s, 3)
	stable := 3000
	if long() {
		stable = 30000
	}
	pipe := c.Pipeline()
	for i := 0; i < stable; i++ {
		pipe.Set(ctx, "stable:"+strconv.Itoa(i), "v", 0)
	}
	_, err := pipe.Exec(ctx)
	must(t, err)

	stop := make(chan struct{})
	var wg sync.WaitGroup
	for w := 0; w < 2; w++ {
		wg.Add(1)
		go func(seed uint64) {
			defer wg.Done()
			r := rand.New(rand.NewPCG(seed, 1))
			wc := client(t, s, 2)
			for {
				select {
				case <-stop:
					return
				default:
				}
				k := fmt.Sprintf("churn:%d", r.IntN(5000))
				if r.IntN(2) == 0 {
					wc.Set(ctx, k, "x", 0)
				} else {
					wc.Del(ctx, k)
				}
			}
		}(uint64(w))
	}
	for _, count := range []int64{1, 10, 500} {
		seen := map[string]bool{}
		var cursor uint64
		calls := 0
		for {
			keys, next, err := c.Scan(ctx, cursor, "stable:*", count).Result()
			must(t, err)
			for _, k := range keys {
				seen[k] = true
			}
			calls++
			if next == 0 {
				break
			}
			if next <= cursor {
				t.Fatalf("cursor went back: %d after %d", next, cursor)
			}
			cursor = next
		}
		for i := 0; i < stable; i++ {
			if !seen["stable:"+strconv.Itoa(i)] {
				t.Fatalf("COUNT %d: stable:%d never returned (%d calls)", count, i, calls)
			}
		}
	}
	close(stop)
	wg.Wait()
}

func TestScanOptions(t *testing.T) {
	s := startDigby(t)
	c := client(t, s, 2)
	must(t, c.MSet(ctx, "a1", "x", "a2", "x", "b1", "x").Err())
	var all []string
	var cursor uint64
	for {
		keys, next, err := c.ScanType(ctx, cursor, "a*", 1, "string").Result()
		must(t, err)
		all = append(all, keys...)
		if next == 0 {
			break
		}
		cursor = next
	}
	eq(t, "scan match", len(all), 2)
	keys, _, err := c.ScanType(ctx, 0, "*", 100, "hash").Result()
	must(t, err)
	eq(t, "scan type hash", len(keys), 0)
	eq(t, "bad cursor", fmt.Sprint(c.Do(ctx, "SCAN", "-1").Err()), "ERR invalid cursor")
	eq(t, "count 0", fmt.Sprint(c.Do(ctx, "SCAN", "0", "COUNT", "0").Err()), "ERR syntax error")
}
