package compat

import (
	"context"
	"testing"

	"github.com/redis/go-redis/v9"
)

// client returns a go-redis client for s speaking protocol proto.
func client(t testing.TB, s *server, proto int) *redis.Client {
	t.Helper()
	c := redis.NewClient(&redis.Options{Addr: s.addr, Protocol: proto})
	t.Cleanup(func() { c.Close() })
	return c
}

// must fails the test on a command error.
func must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// eq fails the test when got != want.
func eq[T comparable](t testing.TB, what string, got, want T) {
	t.Helper()
	if got != want {
		t.Fatalf("%s: got %v, want %v", what, got, want)
	}
}

var ctx = context.Background()
