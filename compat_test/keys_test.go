package compat

import (
	"fmt"
	"sort"
	"strings"
	"testing"
	"time"
)

func TestKeyCommands(t *testing.T) {
	s := startDigby(t)
	c := client(t, s, 3)
	must(t, c.FlushAll(ctx).Err())
	must(t, c.MSet(ctx, "a", "1", "b", "2", "c", "3").Err())
	eq(t, "exists", c.Exists(ctx, "a", "b", "zz", "a").Val(), int64(3))
	eq(t, "type", c.Type(ctx, "a").Val(), "string")
	eq(t, "type none", c.Type(ctx, "zz").Val(), "none")
	keys := c.Keys(ctx, "*").Val()
	sort.Strings(keys)
	eq(t, "keys", strings.Join(keys, ","), "a,b,c")
	if k := c.RandomKey(ctx).Val(); k != "a" && k != "b" && k != "c" {
		t.Fatalf("randomkey %q", k)
	}
	eq(t, "dbsize", c.DBSize(ctx).Val(), int64(3))
	must(t, c.Rename(ctx, "a", "a2").Err())
	eq(t, "rename", c.Get(ctx, "a2").Val(), "1")
	eq(t, "rename missing", fmt.Sprint(c.Rename(ctx, "nope", "x").Err()), "ERR no such key")
	eq(t, "renamenx", c.RenameNX(ctx, "a2", "b").Val(), false)
	eq(t, "copy", c.Copy(ctx, "b", "b2", 0, false).Val(), int64(1))
	eq(t, "copy exists", c.Copy(ctx, "b", "b2", 0, false).Val(), int64(0))
	eq(t, "copy db", c.Copy(ctx, "b", "b", 1, false).Val(), int64(1))
	eq(t, "move", c.Move(ctx, "c", 2).Val(), true)
	eq(t, "moved away", c.Exists(ctx, "c").Val(), int64(0))
	eq(t, "touch", c.Touch(ctx, "b", "b2", "nope").Val(), int64(2))
	eq(t, "unlink", c.Unlink(ctx, "b2").Val(), int64(1))
	eq(t, "del", c.Del(ctx, "b2", "a2").Val(), int64(1))
	must(t, c.Set(ctx, "n", "12", 0).Err())
	eq(t, "object encoding int", c.ObjectEncoding(ctx, "n").Val(), "int")
	must(t, c.Set(ctx, "t", "text", 0).Err())
	eq(t, "object encoding embstr", c.ObjectEncoding(ctx, "t").Val(), "embstr")
	eq(t, "object refcount", c.ObjectRefCount(ctx, "t").Val(), int64(1))
	// expiry family
	eq(t, "expire", c.Expire(ctx, "t", 100*time.Second).Val(), true)
	eq(t, "ttl", c.TTL(ctx, "t").Val(), 100*time.Second)
	if p := c.PTTL(ctx, "t").Val(); p <= 99*time.Second || p > 100*time.Second {
		t.Fatalf("pttl %v", p)
	}
	eq(t, "expire nx", c.ExpireNX(ctx, "t", 5*time.Second).Val(), false)
	eq(t, "expire gt", c.ExpireGT(ctx, "t", 500*time.Second).Val(), true)
	eq(t, "expire lt", c.ExpireLT(ctx, "t", 50*time.Second).Val(), true)
	at := time.Now().Add(time.Hour).Truncate(time.Second)
	eq(t, "expireat", c.ExpireAt(ctx, "t", at).Val(), true)
	eq(t, "expiretime", c.ExpireTime(ctx, "t").Val(), time.Duration(at.Unix())*time.Second)
	eq(t, "pexpire", c.PExpire(ctx, "t", time.Hour).Val(), true)
	eq(t, "persist", c.Persist(ctx, "t").Val(), true)
	eq(t, "ttl none", c.TTL(ctx, "t").Val(), time.Duration(-1))
	eq(t, "ttl missing", c.TTL(ctx, "missing").Val(), time.Duration(-2))
	eq(t, "expire past deletes", c.ExpireAt(ctx, "t", time.Unix(1, 0)).Val(), true)
	eq(t, "gone", c.Exists(ctx, "t").Val(), int64(0))
	// tables
	must(t, c.Do(ctx, "SELECT", "1").Err())
	must(t, c.Do(ctx, "SWAPDB", "0", "1").Err())
	must(t, c.FlushDB(ctx).Err())
	must(t, c.FlushAll(ctx).Err())
	eq(t, "select range", fmt.Sprint(c.Do(ctx, "SELECT", "16").Err()), "ERR DB index is out of range")
}
