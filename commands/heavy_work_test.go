package commands

import (
	"fmt"
	"testing"
	"time"

	"github.com/digby-db/digby/commands/config"
	"github.com/digby-db/digby/resp"
	"github.com/digby-db/digby/store"
	"github.com/tidwall/redcon"
)

// TestHeavyByWorkReaders (from a review of Pending.Heavy): writes whose
// work does not grow with their arguments (a SETRANGE far past a value's
// end, a RENAME of a large value, a DBSIZE that purges many due keys) are
// submitted heavy (their commands' weighers, heavy.go), so that in a
// batch whose transaction changed a node in place before them, a reader
// arriving while one runs reads the state before it instead of waiting
// for it. Without the weighers the reader reads the state after the write
// (it waited).
func TestHeavyByWorkReaders(t *testing.T) {
	if testing.Short() {
		t.Skip("writes tens of MiB")
	}
	args := func(s ...string) [][]byte {
		out := make([][]byte, len(s))
		for i, a := range s {
			out[i] = []byte(a)
		}
		return out
	}
	const big = 96 << 20
	for _, tc := range []struct {
		name  string
		setup func(e *Engine, c *resp.Client)
		cmd   [][]byte
		after string // a key present after the write, absent before
		gone  bool   // after is absent after the write, present before
	}{
		{"SETRANGE far", nil, args("SETRANGE", "far", fmt.Sprint(big), "x"), "far", false},
		{"RENAME large", func(e *Engine, c *resp.Client) {
			v := make([]byte, big)
			for i := range v {
				v[i] = byte(i * 7 >> 3) // compresses poorly
			}
			e.start(c, [][]byte{[]byte("SET"), []byte("src"), v}, nil, false).serve()
		}, args("RENAME", "src", "dst"), "dst", false},
		{"DBSIZE purging", func(e *Engine, c *resp.Client) {
			var cmds []redcon.Command
			for i := range 10000 {
				cmds = append(cmds, redcon.Command{Args: args("SET", fmt.Sprintf("due:%d", i), "v", "PX", "1")})
			}
			e.start(c, nil, cmds, false).serve()
			time.Sleep(20 * time.Millisecond)
		}, args("DBSIZE"), "due:9999", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := config.Default()
			dir := t.TempDir()
			if err := cfg.Set("dir", dir); err != nil {
				t.Fatal(err)
			}
			db, err := store.Open(dir, &store.Options{FlushInterval: time.Hour, NoWarmCache: true})
			if err != nil {
				t.Fatal(err)
			}
			defer db.Close()
			e, err := NewEngine(db, cfg, EngineOptions{})
			if err != nil {
				t.Fatal(err)
			}
			c := resp.NewClient(&fakeConn{}, 1)
			for i := range 200 {
				e.start(c, args("SET", fmt.Sprintf("k%d", i), "a"), nil, false).serve()
			}
			if tc.setup != nil {
				tc.setup(e, c)
			}
			// A: a small write that changes its leaf in place, then B.
			started := make(chan struct{})
			a := store.NewPending(func(tx *store.Tx) error {
				x := &Ctx{e: e, c: c, tx: tx, args: args("SET", "k7", "b"), w: &resp.Writer{}, now: nowMs()}
				err := cmdSet(x)
				close(started)
				return err
			})
			c2 := resp.NewClient(&fakeConn{}, 2)
			p := e.start(c2, nil, nil, false)
			cmd, rejected := e.resolve(tc.cmd)
			if rejected != "" {
				t.Fatal(rejected)
			}
			p.submit(cmd, tc.cmd)
			b := p.held[0]
			p.held = p.held[:0]
			if !b.IsHeavy() {
				t.Errorf("%s is not submitted heavy", tc.name)
			}
			before := db.Stats().InPlaceNodes
			t0 := time.Now()
			go db.SubmitAll(a, b)
			<-started
			time.Sleep(5 * time.Millisecond)
			running := true
			select {
			case <-b.Done():
				running = false
			default:
			}
			r0 := time.Now()
			var present bool
			if err := db.View(func(tx *store.Tx) error {
				_, ok, err := tx.Table(0).GetMeta(storedKey([]byte(tc.after)))
				present = ok
				return err
			}); err != nil {
				t.Fatal(err)
			}
			wait := time.Since(r0)
			waitedForB := present != tc.gone // read the state after B
			if err := b.Wait(); err != nil {
				t.Fatal(err)
			}
			took := time.Since(t0)
			p.drain()
			inPlace := db.Stats().InPlaceNodes - before
			t.Logf("%s: batch took %v, reader waited %v, in-place nodes %d", tc.name, took, wait, inPlace)
			if !running || inPlace == 0 {
				t.Skipf("inconclusive: B running at the reader's start %v, nodes changed in place %d", running, inPlace)
			}
			if waitedForB {
				t.Errorf("%s: a reader arriving while it ran waited %v for it (not marked heavy)", tc.name, wait)
			}
		})
	}
}
