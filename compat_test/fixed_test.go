package compat

import (
	"strings"
	"testing"
)

// fixedCases are single commands whose replies must equal Redis 7's byte for
// byte (connection, server and error paths the random test does not reach).
var fixedCases = []string{
	"PING", "PING hello", "PING a b", "ECHO", "ECHO x",
	"HELLO 4", "HELLO x", "HELLO 2 SETNAME", "HELLO 2 FOO",
	"AUTH x", "AUTH a b c",
	"SELECT x", "SELECT 99999999999", "SELECT -1",
	"CLIENT GETNAME", "CLIENT SETNAME a\x00b", "CLIENT SETNAME", "CLIENT BLAH", "CLIENT",
	"CLIENT KILL 1.2.3.4:5", "CLIENT KILL ID 99999", "CLIENT KILL ID 0", "CLIENT NO-EVICT maybe",
	"CONFIG GET save", "CONFIG GET appendonly", "CONFIG GET nosuch*", "CONFIG SET nosuch 1",
	"CONFIG SET maxclients abc", "CONFIG SET maxclients", "CONFIG SET databases 3",
	"CONFIG FOO", "CONFIG GET",
	"OBJECT FREQ x", "OBJECT ENCODING nokey", "OBJECT BLAH x", "OBJECT",
	"WAIT 0 0", "WAIT x 0", "WAIT 0 -1", "WAIT 0 x",
	"FUNCTION FLUSH", "SCRIPT FLUSH", "FUNCTION FLUSH x", "SCRIPT FLUSH x", "SCRIPT FLUSH a b",
	"COMMAND INFO nosuch get", "COMMAND INFO set getex", "COMMAND DOCS get", "COMMAND DOCS nosuch",
	"COMMAND LIST FILTERBY PATTERN getr*", "COMMAND FOO",
	"SWAPDB 0 99", "SWAPDB x 0", "SWAPDB 0 x", "COPY a a", "MOVE a 0", "MOVE a x",
	"SHUTDOWN ABORT", "SHUTDOWN FOO", "BGSAVE x", "LASTSAVE x",
	"EXEC", "DISCARD", "UNWATCH", "WATCH",
	"SCAN x", "SCAN 0 COUNT 0", "SCAN 0 MATCH", "SCAN 0 FOO bar", "KEYS",
	"EXPIRE k 10 NX XX", "EXPIRE k 10 GT LT", "EXPIRE k 10 FOO", "EXPIRE k x NX",
	"FLUSHDB x", "FLUSHALL ASYNC", "FLUSHDB SYNC", "FLUSHALL a b",
	"LCS a b IDX LEN", "LCS a b MINMATCHLEN x", "LCS a b FOO",
	"GETEX k PERSIST EX 10", "GETEX k EX 0", "SET k v KEEPTTL EX 10", "SET k v GET GET",
	"SETRANGE k -1 x", "SETRANGE k 536870912 x", "INCRBYFLOAT k nan",
	"MSET a", "MSET a b c", "MSETNX a", "GETRANGE k 0", "DECRBY k -9223372036854775808",
	"RESET",
}

func TestDifferentialFixed(t *testing.T) {
	redis := startRedis(t)
	digby := startDigby(t)
	for _, proto := range []string{"2", "3"} {
		rc, dc := dialRaw(t, redis.addr), dialRaw(t, digby.addr)
		for _, c := range []*raw{rc, dc} {
			if _, err := c.do("HELLO", proto); err != nil {
				t.Fatal(err)
			}
		}
		for _, line := range fixedCases {
			cmd := strings.Split(line, " ")
			if line == "RESET" && proto == "3" {
				continue
			}
			want, err := rc.do(cmd...)
			if err != nil {
				t.Fatalf("redis %q: %v", line, err)
			}
			got, err := dc.do(cmd...)
			if err != nil {
				t.Fatalf("digby %q: %v", line, err)
			}
			if got != want {
				t.Errorf("resp%s %q:\nredis %q\ndigby %q", proto, line, want, got)
			}
		}
	}
}
