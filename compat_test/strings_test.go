package compat

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

func TestStringCommands(t *testing.T) {
	s := startDigby(t)
	for _, proto := range []int{2, 3} {
		t.Run(fmt.Sprintf("resp%d", proto), func(t *testing.T) {
			c := client(t, s, proto)
			must(t, c.FlushAll(ctx).Err())
			must(t, c.Set(ctx, "a", "1", 0).Err())
			eq(t, "get", c.Get(ctx, "a").Val(), "1")
			if err := c.Get(ctx, "missing").Err(); !errors.Is(err, redis.Nil) {
				t.Fatalf("get missing: %v", err)
			}
			eq(t, "setnx", c.SetNX(ctx, "a", "2", 0).Val(), false)
			eq(t, "set xx", c.SetXX(ctx, "a", "3", 0).Val(), true)
			eq(t, "getset", c.GetSet(ctx, "a", "4").Val(), "3")
			eq(t, "incr", c.Incr(ctx, "a").Val(), int64(5))
			eq(t, "decr", c.Decr(ctx, "a").Val(), int64(4))
			eq(t, "incrby", c.IncrBy(ctx, "a", 10).Val(), int64(14))
			eq(t, "decrby", c.DecrBy(ctx, "a", 4).Val(), int64(10))
			eq(t, "incrbyfloat", c.IncrByFloat(ctx, "a", 0.5).Val(), 10.5)
			eq(t, "append", c.Append(ctx, "s", "hello").Val(), int64(5))
			eq(t, "append", c.Append(ctx, "s", " world").Val(), int64(11))
			eq(t, "strlen", c.StrLen(ctx, "s").Val(), int64(11))
			eq(t, "getrange", c.GetRange(ctx, "s", 0, 4).Val(), "hello")
			eq(t, "getrange neg", c.GetRange(ctx, "s", -5, -1).Val(), "world")
			eq(t, "setrange", c.SetRange(ctx, "s", 6, "WORLD").Val(), int64(11))
			eq(t, "after setrange", c.Get(ctx, "s").Val(), "hello WORLD")
			must(t, c.MSet(ctx, "m1", "x", "m2", "y").Err())
			vals := c.MGet(ctx, "m1", "nope", "m2").Val()
			eq(t, "mget len", len(vals), 3)
			eq(t, "mget 0", vals[0], any("x"))
			eq(t, "mget 1", vals[1], nil)
			eq(t, "msetnx", c.MSetNX(ctx, "m1", "z", "m3", "w").Val(), false)
			eq(t, "msetnx ok", c.MSetNX(ctx, "m4", "z", "m5", "w").Val(), true)
			eq(t, "getdel", c.GetDel(ctx, "m4").Val(), "z")
			eq(t, "exists after getdel", c.Exists(ctx, "m4").Val(), int64(0))
			must(t, c.SetEx(ctx, "e", "v", 100*time.Second).Err())
			eq(t, "ttl", c.TTL(ctx, "e").Val(), 100*time.Second)
			eq(t, "getex persist", c.GetEx(ctx, "e", 0).Val(), "v")
			must(t, c.Do(ctx, "GETEX", "e", "PERSIST").Err())
			eq(t, "ttl after persist", c.TTL(ctx, "e").Val(), time.Duration(-1))
			must(t, c.Set(ctx, "l1", "ohmytext", 0).Err())
			must(t, c.Set(ctx, "l2", "mynewtext", 0).Err())
			lcs := c.LCS(ctx, &redis.LCSQuery{Key1: "l1", Key2: "l2"}).Val()
			eq(t, "lcs", lcs.MatchString, "mytext")
			lcsLen := c.LCS(ctx, &redis.LCSQuery{Key1: "l1", Key2: "l2", Len: true}).Val()
			eq(t, "lcs len", lcsLen.Len, int64(6))
			// SET options and errors as Redis words them
			eq(t, "set get", c.SetArgs(ctx, "a", "new", redis.SetArgs{Get: true}).Val(), "10.5")
			err := c.Do(ctx, "SET", "a", "b", "NX", "XX").Err()
			eq(t, "nx xx", fmt.Sprint(err), "ERR syntax error")
			err = c.Do(ctx, "SET", "a", "b", "EX", "0").Err()
			eq(t, "ex 0", fmt.Sprint(err), "ERR invalid expire time in 'set' command")
			must(t, c.Set(ctx, "big", "9223372036854775807", 0).Err())
			eq(t, "overflow", fmt.Sprint(c.Incr(ctx, "big").Err()), "ERR increment or decrement would overflow")
			eq(t, "not int", fmt.Sprint(c.Incr(ctx, "s").Err()), "ERR value is not an integer or out of range")
			err = c.Do(ctx, "GET").Err()
			eq(t, "arity", fmt.Sprint(err), "ERR wrong number of arguments for 'get' command")
			// Long keys (past the engine's 224-byte tree keys), two
			// sharing their first 300 bytes, are distinct keys.
			long := strings.Repeat("k", 300)
			must(t, c.Set(ctx, long+"1", "v1", 0).Err())
			must(t, c.Set(ctx, long+"2", strings.Repeat("w", 70000), 0).Err())
			eq(t, "long key", c.Get(ctx, long+"1").Val(), "v1")
			eq(t, "long key 2", c.StrLen(ctx, long+"2").Val(), int64(70000))
			eq(t, "long key absent", c.Exists(ctx, long+"3").Val(), int64(0))
			must(t, c.Set(ctx, long[:216], "v", 0).Err())
			eq(t, "216-byte key", c.Get(ctx, long[:216]).Val(), "v")
			big := strings.Repeat("x", 100000)
			must(t, c.Set(ctx, "bigval", big, 0).Err())
			eq(t, "big value", c.Get(ctx, "bigval").Val(), big)
		})
	}
}
