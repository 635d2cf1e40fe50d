package commands

import (
	"fmt"
	"testing"

	"github.com/digby-db/digby/resp"
	"github.com/digby-db/digby/store"
)

// TestTouchKeysContainsPanics: the read walk before a run of reads is only
// a hint, so a panic inside it fails no command: here it is given no
// transaction (the store's Table.Touch then dereferences nil) and must
// return quietly.
func TestTouchKeysContainsPanics(t *testing.T) {
	e := newTestEngine(t)
	c := resp.NewClient(&fakeConn{}, 1)
	defer e.Closed(c)
	p := &pipeline{e: e, c: c, cmds: [][][]byte{{[]byte("GET"), []byte("a")}, {[]byte("MGET"), []byte("b"), []byte("c")}}}
	get, rejected := p.check(p.cmds[0])
	mget, rejected2 := p.check(p.cmds[1])
	if rejected != "" || rejected2 != "" {
		t.Fatalf("GET/MGET rejected: %q %q", rejected, rejected2)
	}
	if keys, starts := p.touchKeys(nil, 0, []*command{get, mget}); keys != nil || starts != nil {
		t.Fatalf("a walk that panicked gave keys %q, starts %v", keys, starts)
	}
}

// TestTouchKeysGivesReadsTheirKeys: the table keys touchKeys makes for a
// run of reads are returned by read, in the order of their keys, for the
// reads to reuse (Ctx.more); past maxTouch keys the reads after get none,
// and the read the cap cuts gets the keys before it.
func TestTouchKeysGivesReadsTheirKeys(t *testing.T) {
	e := newTestEngine(t)
	c := resp.NewClient(&fakeConn{}, 1)
	defer e.Closed(c)
	p := &pipeline{e: e, c: c}
	var reads []*command
	var want [][]string // each read's keys
	add := func(args ...string) {
		cmd := make([][]byte, len(args))
		for i, a := range args {
			cmd[i] = []byte(a)
		}
		p.cmds = append(p.cmds, cmd)
		r, rejected := p.check(cmd)
		if rejected != "" {
			t.Fatalf("%q rejected: %s", args, rejected)
		}
		reads = append(reads, r)
		want = append(want, args[1:])
	}
	add("GET", "a")
	add("MGET", "b", "c", "d")
	add("STRLEN", "e")
	for i := 0; len(reads) < maxTouch+5; i++ {
		add("MGET", fmt.Sprint("k", i), fmt.Sprint("l", i))
	}
	err := e.db.View(func(tx *store.Tx) error {
		keys, starts := p.touchKeys(tx, 0, reads)
		n := 0 // keys walked
		for k := range reads {
			if n >= maxTouch {
				if k+1 < len(starts) {
					t.Fatalf("read %d, past the cap, has keys %q", k, keys[starts[k]:starts[k+1]])
				}
				continue
			}
			if k+1 >= len(starts) {
				t.Fatalf("read %d has no keys (starts %v)", k, starts)
			}
			got := keys[starts[k]:starts[k+1]]
			w := want[k][:min(len(want[k]), maxTouch-n)]
			if len(got) != len(w) {
				t.Fatalf("read %d: %d keys, want %d", k, len(got), len(w))
			}
			for j, key := range w {
				if string(got[j]) != string(storedKey([]byte(key))) {
					t.Fatalf("read %d key %d: %x, want the table key of %q", k, j, got[j], key)
				}
			}
			n += len(w)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}
