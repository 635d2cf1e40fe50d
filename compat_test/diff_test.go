package compat

import (
	"fmt"
	"math/rand/v2"
	"sort"
	"strings"
	"testing"
)

// edge values: integers at the limits, non-canonical integers, floats, text.
var edgeValues = []string{
	"0", "1", "-1", "9223372036854775807", "-9223372036854775808", "9223372036854775808",
	"-0", "+1", "01", " 1", "1 ", "1.5", "-2.25", "1e3", "abc", "", "10", "100", "3.0",
	"inf", "-inf", "nan", "0x10", "12345678901234567890",
}

// gen makes random commands over a small key space.
type gen struct{ r *rand.Rand }

func (g gen) key() string { return fmt.Sprintf("k%d", g.r.IntN(6)) }
func (g gen) val() string {
	if g.r.IntN(3) == 0 {
		return edgeValues[g.r.IntN(len(edgeValues))]
	}
	return fmt.Sprintf("v%d", g.r.IntN(100))
}
func (g gen) num() string {
	if g.r.IntN(4) == 0 {
		return edgeValues[g.r.IntN(len(edgeValues))]
	}
	return fmt.Sprint(g.r.IntN(40) - 20)
}
func (g gen) pick(opts ...string) string { return opts[g.r.IntN(len(opts))] }

// future is an absolute unix time far ahead, so TTLs are deterministic.
const future = "4102444800" // 2100-01-01

func (g gen) command() []string {
	k, k2 := g.key(), g.key()
	switch g.r.IntN(48) {
	case 0:
		return []string{"SET", k, g.val()}
	case 1:
		args := []string{"SET", k, g.val()}
		for i := g.r.IntN(3); i > 0; i-- {
			switch g.r.IntN(8) {
			case 0:
				args = append(args, "NX")
			case 1:
				args = append(args, "XX")
			case 2:
				args = append(args, "GET")
			case 3:
				args = append(args, "KEEPTTL")
			case 4:
				args = append(args, "EXAT", g.pick(future, "1", "0", "-5", "abc"))
			case 5:
				args = append(args, "PXAT", g.pick(future+"000", "1"))
			case 6:
				args = append(args, g.pick("EX", "PX"), g.pick("0", "-1", "x", "9223372036854775807"))
			default:
				args = append(args, g.pick("BOGUS", "ex"))
			}
		}
		return args
	case 2:
		return []string{"GET", k}
	case 3:
		return []string{"INCR", k}
	case 4:
		return []string{"DECR", k}
	case 5:
		return []string{"INCRBY", k, g.num()}
	case 6:
		return []string{"DECRBY", k, g.num()}
	case 7:
		return []string{"APPEND", k, g.val()}
	case 8:
		return []string{"STRLEN", k}
	case 9:
		return []string{g.pick("GETRANGE", "SUBSTR"), k, g.num(), g.num()}
	case 10:
		return []string{"SETRANGE", k, fmt.Sprint(g.r.IntN(12) - 1), g.val()}
	case 11:
		return []string{"GETSET", k, g.val()}
	case 12:
		return []string{"GETDEL", k}
	case 13:
		return []string{"MSET", k, g.val(), k2, g.val()}
	case 14:
		return []string{"MGET", k, k2, g.key()}
	case 15:
		return []string{"MSETNX", k, g.val(), k2, g.val()}
	case 16:
		return []string{"SETNX", k, g.val()}
	case 17:
		return []string{"EXISTS", k, k2, k}
	case 18:
		return []string{g.pick("DEL", "UNLINK"), k, k2}
	case 19:
		return []string{"TYPE", k}
	case 20:
		return []string{g.pick("RENAME", "RENAMENX"), k, k2}
	case 21:
		args := []string{"COPY", k, k2}
		if g.r.IntN(2) == 0 {
			args = append(args, "REPLACE")
		}
		if g.r.IntN(3) == 0 {
			args = append(args, "DB", g.pick("0", "1", "16", "-1", "x"))
		}
		return args
	case 22:
		args := []string{g.pick("EXPIREAT", "PEXPIREAT"), k, g.pick(future, "1", "0", "abc", "-1", "9223372036854775807")}
		if g.r.IntN(2) == 0 {
			args = append(args, g.pick("NX", "XX", "GT", "LT", "ZZ"))
		}
		return args
	case 23:
		return []string{"TTL", k}
	case 24:
		return []string{"PERSIST", k}
	case 25:
		return []string{"SETEX", k, g.num(), g.val()}
	case 26:
		return []string{"GETEX", k, g.pick("PERSIST", "EXAT", "BAD"), future}
	case 27:
		return []string{"LCS", k, k2, g.pick("LEN", "IDX", "WITHMATCHLEN", "MINMATCHLEN")}
	case 28:
		return []string{g.pick("GET", "SET", "INCR", "MGET", "EXISTS", "DEL", "APPEND", "GETRANGE", "EXPIRE", "TTL")}
	case 29:
		return []string{g.pick("foo", "NoSuch", "x\r\ny"), k, g.val()}
	case 30:
		return []string{"SELECT", g.pick("0", "1", "15", "16", "-1", "x")}
	case 31:
		// DBSIZE is left out: which expired keys Redis still counts depends on timing
		return []string{"EXISTS", k}
	case 32:
		return []string{"MOVE", k, g.pick("0", "1", "99", "x")}
	case 33:
		return []string{"MULTI"}
	case 34:
		return []string{"EXEC"}
	case 35:
		return []string{"DISCARD"}
	case 36:
		return []string{"PING", g.val()}
	case 37:
		return []string{"ECHO", g.val()}
	case 38:
		return []string{"INCRBYFLOAT", k, g.pick("0.1", "1.5", "-3", "abc", "1e2", "inf", "0.2")}
	case 39:
		return []string{"SWAPDB", g.pick("0", "1"), g.pick("0", "1", "x", "99")}
	case 40:
		return []string{"KEYS", g.pick("k1", "k[2]", "nothing", "\\k3", "k[^0-4]", "K1")}
	case 41:
		return []string{"TOUCH", k, k2}
	case 42:
		return []string{"SET", k, g.val(), "EXAT", future}
	case 43:
		return []string{"WATCH", k}
	case 44:
		return []string{"UNWATCH"}
	case 45:
		return []string{"GETEX", k}
	case 46:
		return []string{"EXPIRE", k, g.pick("-1", "0", "abc", "9223372036854775807")}
	default:
		return []string{"PSETEX", k, g.pick("0", "-1", "x", "100000"), g.val()}
	}
}

// normalize makes replies whose order is unspecified comparable.
func normalize(cmd []string, reply string) string {
	if strings.EqualFold(cmd[0], "KEYS") {
		lines := strings.Split(strings.TrimSuffix(reply, "\r\n"), "\r\n")
		if len(lines) > 1 {
			var items []string
			for i := 1; i+1 < len(lines); i += 2 {
				items = append(items, lines[i]+"\r\n"+lines[i+1])
			}
			sort.Strings(items)
			return lines[0] + "\r\n" + strings.Join(items, "\r\n") + "\r\n"
		}
	}
	return reply
}

func TestDifferential(t *testing.T) {
	redis := startRedis(t)
	digby := startDigby(t)
	seeds := 12
	steps := 250
	if long() {
		seeds, steps = 200, 1000
	}
	for _, proto := range []string{"2", "3"} {
		for seed := 0; seed < seeds; seed++ {
			t.Run(fmt.Sprintf("resp%s/seed%d", proto, seed), func(t *testing.T) {
				rc, dc := dialRaw(t, redis.addr), dialRaw(t, digby.addr)
				for _, c := range []*raw{rc, dc} {
					if _, err := c.do("HELLO", proto); err != nil {
						t.Fatal(err)
					}
					if _, err := c.do("FLUSHALL"); err != nil {
						t.Fatal(err)
					}
				}
				g := gen{rand.New(rand.NewPCG(uint64(seed), 7))}
				var history []string
				for i := 0; i < steps; i++ {
					cmd := g.command()
					want, err := rc.do(cmd...)
					if err != nil {
						t.Fatalf("redis: %v", err)
					}
					got, err := dc.do(cmd...)
					if err != nil {
						t.Fatalf("digby: %v after %q", err, cmd)
					}
					history = append(history, fmt.Sprintf("%q", cmd))
					if normalize(cmd, got) != normalize(cmd, want) {
						if len(history) > 15 {
							history = history[len(history)-15:]
						}
						t.Fatalf("step %d %q:\nredis %q\ndigby %q\nlast commands:\n%s", i, cmd, want, got, strings.Join(history, "\n"))
					}
				}
			})
		}
	}
}
