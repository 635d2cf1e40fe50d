package store

import (
	"bufio"
	"bytes"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/digby-db/digby/page"
)

// The crash tests re-execute the test binary as a child that writes a
// deterministic workload and reports what was acknowledged; the parent
// kills it (SIGKILL, or the child kills itself at a chosen write) and then
// checks that the reopened state equals the state after some commit at or
// after the last acknowledged durable one, and that Check passes.

const crashChildEnv = "DIGBY_CRASH_CHILD"

func TestMain(m *testing.M) {
	if dir := os.Getenv(crashChildEnv); dir != "" {
		crashChild(dir)
		return
	}
	os.Exit(m.Run())
}

// crashOp is commit c's deterministic work.
func crashOps(c uint64) (table uint32, puts map[string][]byte, dels []string) {
	r := rand.New(rand.NewPCG(c, 7))
	table = uint32(c % 2)
	puts = map[string][]byte{}
	for i := 0; i < 1+r.IntN(20); i++ {
		k := fmt.Sprintf("k%05d", r.IntN(3000))
		if r.IntN(30) == 0 {
			k = strings.Repeat("L", KeyPrefixSize) + k // a long key
		}
		if r.IntN(4) == 0 {
			dels = append(dels, k)
			delete(puts, k)
			continue
		}
		n := 8 + r.IntN(100)
		if r.IntN(40) == 0 {
			n = 5000 + r.IntN(20000)
		}
		if r.IntN(150) == 0 {
			n = ChunkSize + r.IntN(2*ChunkSize) // chunked
		}
		unit := []byte(fmt.Sprintf("%d:%s|", c, k))
		v := bytes.Repeat(unit, n/len(unit)+1)[:n]
		puts[k] = v
	}
	return
}

func applyCrashOps(tx *Tx, c uint64) error {
	table, puts, dels := crashOps(c)
	tb := tx.Table(table)
	for _, k := range dels {
		if _, err := tb.Delete([]byte(k)); err != nil {
			return err
		}
	}
	for k, v := range puts {
		if _, err := tb.Put([]byte(k), v, TypeString, 0); err != nil {
			return err
		}
	}
	_, err := tx.Table(9).Put([]byte("ctr"), []byte(strconv.FormatUint(c, 10)), TypeString, 0)
	return err
}

func crashModel(upTo uint64) model {
	m := model{}
	for c := uint64(1); c <= upTo; c++ {
		table, puts, dels := crashOps(c)
		tb := m.table(table)
		for _, k := range dels {
			delete(tb, k)
		}
		for k, v := range puts {
			tb[k] = modelVal{val: v}
		}
	}
	return m
}

// killBackend kills the process at the Nth write, optionally tearing it.
type killBackend struct {
	*os.File
	n    atomic.Int64
	torn bool
}

func (b *killBackend) WriteAt(p []byte, off int64) (int, error) {
	if b.n.Add(-1) == 0 {
		if b.torn {
			b.File.WriteAt(p[:len(p)/2+1], off)
			b.File.Sync()
		}
		syscall.Kill(os.Getpid(), syscall.SIGKILL)
		time.Sleep(time.Hour)
	}
	return b.File.WriteAt(p, off)
}

func crashChild(dir string) {
	mode, _ := ParseDurability(os.Getenv("DIGBY_CRASH_MODE"))
	opts := &Options{Durability: mode, FlushInterval: 20 * time.Millisecond, CacheSize: 1 << 20, DirtyCap: 256 << 10}
	if n, _ := strconv.Atoi(os.Getenv("DIGBY_CRASH_KILL_WRITE")); n > 0 {
		torn := os.Getenv("DIGBY_CRASH_TORN") == "1"
		lossy := os.Getenv("DIGBY_CRASH_LOSSY") == "1"
		opts.OpenFile = func(path string) (page.Backend, error) {
			f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o644)
			if err != nil {
				return nil, err
			}
			if lossy {
				return newLossyBackend(f, n, uint64(n)), nil
			}
			b := &killBackend{File: f, torn: torn}
			b.n.Store(int64(n))
			return b, nil
		}
	}
	db, err := Open(dir, opts)
	if err != nil {
		fmt.Println("error", err)
		os.Exit(2)
	}
	var start uint64
	db.View(func(tx *Tx) error {
		t, ok, _ := tx.Table(9).Get([]byte("ctr"))
		if ok {
			start, _ = strconv.ParseUint(string(t.Value), 10, 64)
		}
		return nil
	})
	out := bufio.NewWriter(os.Stdout)
	for c := start + 1; ; c++ {
		// Several submissions in flight make multi-commit flushes.
		p := db.Submit(func(tx *Tx) error { return applyCrashOps(tx, c) })
		if err := p.Wait(); err != nil {
			fmt.Fprintln(out, "error", err)
			out.Flush()
			os.Exit(2)
		}
		if mode == Always {
			fmt.Fprintln(out, "durable", c)
			out.Flush()
		} else if c%7 == 0 {
			if err := db.Flush(); err != nil {
				fmt.Fprintln(out, "error", err)
				out.Flush()
				os.Exit(2)
			}
			fmt.Fprintln(out, "durable", c)
			out.Flush()
		}
	}
}

// runCrashChild runs one child and returns the last durable commit it acknowledged.
func runCrashChild(t *testing.T, dir string, mode Durability, killAfter time.Duration, killWrite int, torn bool, extra ...string) uint64 {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), crashChildEnv+"="+dir, "DIGBY_CRASH_MODE="+mode.String(),
		fmt.Sprintf("DIGBY_CRASH_KILL_WRITE=%d", killWrite))
	if torn {
		cmd.Env = append(cmd.Env, "DIGBY_CRASH_TORN=1")
	}
	cmd.Env = append(cmd.Env, extra...)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var durable atomic.Uint64
	lines := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			f := strings.Fields(sc.Text())
			if len(f) == 2 && f[0] == "durable" {
				n, _ := strconv.ParseUint(f[1], 10, 64)
				durable.Store(n)
			} else if len(f) > 0 && f[0] == "error" {
				select {
				case lines <- sc.Text():
				default:
				}
			}
		}
		close(lines)
	}()
	if killWrite == 0 {
		time.Sleep(killAfter)
		cmd.Process.Signal(syscall.SIGKILL)
	}
	errLine := <-lines
	cmd.Wait()
	if errLine != "" {
		t.Fatalf("child: %s", errLine)
	}
	return durable.Load()
}

func verifyCrash(t *testing.T, dir string, durable uint64) uint64 {
	t.Helper()
	db, err := Open(dir, &Options{Durability: Always})
	if err != nil {
		t.Fatalf("reopen after crash: %v", err)
	}
	defer db.Close()
	var got uint64
	db.View(func(tx *Tx) error {
		tu, ok, err := tx.Table(9).Get([]byte("ctr"))
		if err != nil {
			t.Fatal(err)
		}
		if ok {
			got, _ = strconv.ParseUint(string(tu.Value), 10, 64)
		}
		return nil
	})
	if got < durable {
		t.Fatalf("state is commit %d, but commit %d was acknowledged durable", got, durable)
	}
	m := crashModel(got)
	m.table(9)["ctr"] = modelVal{val: []byte(strconv.FormatUint(got, 10))}
	if got == 0 {
		delete(m[9], "ctr")
	}
	verify(t, db, m)
	mustCheck(t, db)
	return got
}

func TestCrashRandomKill(t *testing.T) {
	if testing.Short() {
		t.Skip("crash tests spawn processes; skipped with -short")
	}
	rounds := 6
	if long() {
		rounds = 60
	}
	for _, mode := range []Durability{Always, Everysec, No} {
		t.Run(mode.String(), func(t *testing.T) {
			dir := t.TempDir()
			r := rand.New(rand.NewPCG(uint64(mode), 1))
			for i := 0; i < rounds; i++ {
				d := runCrashChild(t, dir, mode, time.Duration(30+r.IntN(250))*time.Millisecond, 0, false)
				verifyCrash(t, dir, d)
			}
		})
	}
}

// TestCrashAtWrite kills the child at chosen writes: inside a flush's page
// writes, at a torn meta write, mid-truncate; then crash -> reopen -> crash.
func TestCrashAtWrite(t *testing.T) {
	if testing.Short() {
		t.Skip("crash tests spawn processes; skipped with -short")
	}
	points := []int{1, 2, 3, 5, 8, 13, 21, 34, 55, 89, 144}
	if long() {
		for i := 1; i < 400; i += 3 {
			points = append(points, i)
		}
	}
	for _, mode := range []Durability{Always, Everysec} {
		for _, torn := range []bool{false, true} {
			t.Run(fmt.Sprintf("%v/torn=%v", mode, torn), func(t *testing.T) {
				dir := t.TempDir()
				for _, k := range points {
					d := runCrashChild(t, dir, mode, 0, k, torn)
					verifyCrash(t, dir, d)
				}
			})
		}
	}
}

// TestCrashPowerLoss loses power at chosen writes: unsynced writes reach
// the disk in any order, some torn, some not at all. Every write
// acknowledged as durable must survive and the file must pass Check.
func TestCrashPowerLoss(t *testing.T) {
	if testing.Short() {
		t.Skip("crash tests spawn processes; skipped with -short")
	}
	points := []int{1, 2, 3, 4, 6, 9, 14, 20, 31, 47, 70, 105, 158, 237}
	if long() {
		for i := 1; i < 600; i += 2 {
			points = append(points, i)
		}
	}
	for _, mode := range []Durability{Always, Everysec} {
		t.Run(mode.String(), func(t *testing.T) {
			dir := t.TempDir()
			for _, k := range points {
				d := runCrashChild(t, dir, mode, 0, k, false, "DIGBY_CRASH_LOSSY=1")
				verifyCrash(t, dir, d)
			}
		})
	}
}
