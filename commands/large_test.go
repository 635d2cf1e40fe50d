package commands

import (
	"bytes"
	"context"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/digby-db/digby/store"
)

// TestLargeStringRanges: GETRANGE, SUBSTR, SETRANGE, APPEND and STRLEN on
// a value of many chunks agree with a byte-slice model, and a small
// SETRANGE or GETRANGE in the middle rewrites or reads a few overflow runs,
// not the whole value.
func TestLargeStringRanges(t *testing.T) {
	s, c := startServer(t)
	ctx := context.Background()
	r := rand.New(rand.NewPCG(1, 2))
	v := make([]byte, 30*store.ChunkSize+17)
	for i := range v {
		v[i] = byte(r.UintN(256))
	}
	if err := c.Set(ctx, "big", v, 0).Err(); err != nil {
		t.Fatal(err)
	}
	stats := func() store.Stats { return s.db.Stats() }
	before := stats()
	n, err := c.SetRange(ctx, "big", 10*store.ChunkSize+5, "hello").Result()
	if err != nil || n != int64(len(v)) {
		t.Fatalf("SETRANGE: %d, %v", n, err)
	}
	copy(v[10*store.ChunkSize+5:], "hello")
	after := stats()
	if w := after.OverflowWrites - before.OverflowWrites; w > 2 {
		t.Fatalf("SETRANGE of 5 bytes wrote %d overflow runs", w)
	}
	got, err := c.GetRange(ctx, "big", 10*store.ChunkSize, 10*store.ChunkSize+20).Result()
	if err != nil || got != string(v[10*store.ChunkSize:10*store.ChunkSize+21]) {
		t.Fatalf("GETRANGE: %q, %v", got, err)
	}
	if rd := stats().OverflowReads - after.OverflowReads; rd > 2 {
		t.Fatalf("GETRANGE of 21 bytes read %d overflow runs", rd)
	}
	sub, err := c.Do(ctx, "SUBSTR", "big", -10, -1).Text()
	if err != nil || sub != string(v[len(v)-10:]) {
		t.Fatalf("SUBSTR: %q, %v", sub, err)
	}
	if n, err = c.Append(ctx, "big", "tail").Result(); err != nil || n != int64(len(v))+4 {
		t.Fatalf("APPEND: %d, %v", n, err)
	}
	v = append(v, "tail"...)
	if n, err = c.SetRange(ctx, "big", int64(len(v))+3*store.ChunkSize, "far").Result(); err != nil {
		t.Fatal(err)
	}
	v = append(v, make([]byte, 3*store.ChunkSize)...)
	v = append(v, "far"...)
	if n != int64(len(v)) {
		t.Fatalf("SETRANGE past the end: %d, want %d", n, len(v))
	}
	before = stats()
	if l, err := c.StrLen(ctx, "big").Result(); err != nil || l != int64(len(v)) {
		t.Fatalf("STRLEN: %d, %v", l, err)
	}
	if rd := stats().OverflowReads - before.OverflowReads; rd != 0 {
		t.Fatalf("STRLEN read %d overflow runs", rd)
	}
	all, err := c.Get(ctx, "big").Bytes()
	if err != nil || !bytes.Equal(all, v) {
		t.Fatalf("GET after range writes: %d bytes, want %d (%v)", len(all), len(v), err)
	}
	// Missing keys as before.
	if n, _ := c.SetRange(ctx, "new", 3, "x").Result(); n != 4 {
		t.Fatalf("SETRANGE of a missing key: %d", n)
	}
	if n, _ := c.Append(ctx, "new2", "abc").Result(); n != 3 {
		t.Fatalf("APPEND to a missing key: %d", n)
	}
	// Commands that look at a key, not its value, read no chunk.
	before = stats()
	pipe := c.Pipeline()
	pipe.Exists(ctx, "big")
	pipe.Type(ctx, "big")
	pipe.Expire(ctx, "big", time.Hour)
	pipe.TTL(ctx, "big")
	pipe.Persist(ctx, "big")
	pipe.SetNX(ctx, "big", "x", 0)
	pipe.MSetNX(ctx, "big", "x", "other", "y")
	enc := pipe.ObjectEncoding(ctx, "big")
	pipe.ObjectRefCount(ctx, "big")
	pipe.ObjectIdleTime(ctx, "big")
	pipe.Set(ctx, "big", "z", 0).Err()
	pipe.Do(ctx, "SET", "big", "w", "XX", "KEEPTTL")
	pipe.Scan(ctx, 0, "*", 100)
	pipe.Keys(ctx, "b*")
	if _, err := pipe.Exec(ctx); err != nil {
		t.Fatal(err)
	}
	if rd := stats().OverflowReads - before.OverflowReads; rd > 1 {
		t.Fatalf("key-only commands read %d overflow runs (1 allowed: freeing the value on SET)", rd)
	}
	if enc.Val() != "raw" {
		t.Fatalf("OBJECT ENCODING of a large value: %q", enc.Val())
	}
	// A raised bulk limit does not let SETRANGE build a value past the
	// store's 4 GiB limit.
	if err := c.ConfigSet(ctx, "proto-max-bulk-len", "8gb").Err(); err != nil {
		t.Fatal(err)
	}
	if err := c.SetRange(ctx, "huge", 4<<30, "x").Err(); err == nil || err.Error() != "ERR string exceeds maximum allowed size (proto-max-bulk-len)" {
		t.Fatalf("SETRANGE past 4 GiB: %v", err)
	}
}

// TestLargeRepliesInOrder: replies holding large values sent by reference
// keep their place among small replies of the same pipeline.
func TestLargeRepliesInOrder(t *testing.T) {
	_, c := startServer(t)
	ctx := context.Background()
	a := bytes.Repeat([]byte("a"), 3*store.ChunkSize)
	b := bytes.Repeat([]byte("b"), 200<<10)
	if err := c.MSet(ctx, "a", a, "b", b, "s", "small").Err(); err != nil {
		t.Fatal(err)
	}
	pipe := c.Pipeline()
	g1 := pipe.Get(ctx, "s")
	g2 := pipe.Get(ctx, "a")
	g3 := pipe.Echo(ctx, "between")
	g4 := pipe.MGet(ctx, "b", "s", "a")
	g5 := pipe.GetRange(ctx, "a", 10, 100000)
	g6 := pipe.Get(ctx, "s")
	if _, err := pipe.Exec(ctx); err != nil {
		t.Fatal(err)
	}
	m := g4.Val()
	if g1.Val() != "small" || g2.Val() != string(a) || g3.Val() != "between" || len(m) != 3 ||
		m[0] != string(b) || m[1] != "small" || m[2] != string(a) || g5.Val() != string(a[10:100001]) || g6.Val() != "small" {
		t.Fatalf("pipelined replies out of order or wrong")
	}
}
