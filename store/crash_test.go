package store

import (
	"bufio"
	"bytes"
	"encoding/hex"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
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
	if k := os.Getenv("DIGBY_CRASH_KEY"); k != "" {
		opts.EncryptionKey, _ = hex.DecodeString(k)
	}
	if os.Getenv("DIGBY_CRASH_LOG") == "1" {
		opts.CommitLog = true
	}
	if n, _ := strconv.ParseInt(os.Getenv("DIGBY_CRASH_DIRTYCAP"), 10, 64); n > 0 {
		// A cap the workload does not pass every batch: flushes come
		// once a FlushInterval, and with the commit log the blocks of
		// that long wait for them.
		opts.DirtyCap = n
	}
	if n, _ := strconv.Atoi(os.Getenv("DIGBY_CRASH_KILL_WRITE")); n > 0 {
		torn := os.Getenv("DIGBY_CRASH_TORN") == "1"
		lossy := os.Getenv("DIGBY_CRASH_LOSSY") == "1"
		if target := os.Getenv("DIGBY_CRASH_KILL_FILE"); target != "" {
			// One write count shared by the files target names
			// (crashlog_test.go); otherwise each file counts its own.
			opts.OpenFile = crashGroupOpen(target, n, torn, lossy)
		} else {
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
	}
	if path := os.Getenv("DIGBY_CRASH_NONCES"); path != "" {
		logNonces(opts, path)
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
	// In Always mode several submissions stay in flight, so batches are
	// applied while a flush is being written and acknowledged by the next
	// one. Submissions apply in order, so commit c acknowledged means every
	// commit up to c is durable.
	window := 1
	if mode == Always {
		window = 8
	}
	type inflight struct {
		c uint64
		p *Pending
	}
	var queue []inflight
	// DIGBY_CRASH_UNLOGGABLE=1 adds to every 40th commit a change the
	// commit log cannot carry (crashlog_test.go).
	unloggable := os.Getenv("DIGBY_CRASH_UNLOGGABLE") == "1"
	for c := start + 1; ; c++ {
		queue = append(queue, inflight{c, db.Submit(func(tx *Tx) error {
			if err := applyCrashOps(tx, c); err != nil || !unloggable {
				return err
			}
			return crashUnloggable(tx, c)
		})})
		if len(queue) < window {
			continue
		}
		oldest := queue[0]
		queue = queue[1:]
		if err := oldest.p.Wait(); err != nil {
			fmt.Fprintln(out, "error", err)
			out.Flush()
			os.Exit(2)
		}
		c := oldest.c
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
	return verifyCrashWith(t, dir, durable, &Options{Durability: Always})
}

// verifyCrashWith is verifyCrash opening with opts.
func verifyCrashWith(t *testing.T, dir string, durable uint64, opts *Options) uint64 {
	t.Helper()
	got, _ := verifyCrashRecovered(t, dir, durable, opts, nil)
	return got
}

// verifyCrashRecovered is verifyCrashWith that also returns what open
// reports it recovered (DB.Recovered), and if check is set, runs it on the
// reopened state and the commit it holds.
func verifyCrashRecovered(t *testing.T, dir string, durable uint64, opts *Options, check func(tx *Tx, got uint64) error) (uint64, string) {
	t.Helper()
	db, err := Open(dir, opts)
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
	if check != nil {
		if err := db.View(func(tx *Tx) error { return check(tx, got) }); err != nil {
			t.Fatalf("state of commit %d: %v", got, err)
		}
	}
	mustCheck(t, db)
	return got, db.Recovered()
}

// crashRounds skips t under -short (crash tests spawn processes) and
// returns n, or longN with DIGBY_LONG=1.
func crashRounds(t *testing.T, n, longN int) int {
	t.Helper()
	if testing.Short() {
		t.Skip("crash tests spawn processes; skipped with -short")
	}
	if long() {
		return longN
	}
	return n
}

func TestCrashRandomKill(t *testing.T) {
	rounds := crashRounds(t, 6, 60)
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

// killWrites skips t under -short and returns the writes to kill a child
// at (TestCrashAtWrite; more with DIGBY_LONG=1).
func killWrites(t *testing.T) []int {
	return crashWrites(t, []int{1, 2, 3, 5, 8, 13, 21, 34, 55, 89, 144}, 400, 3)
}

// lossWrites is killWrites for power loss (TestCrashPowerLoss).
func lossWrites(t *testing.T) []int {
	return crashWrites(t, []int{1, 2, 3, 4, 6, 9, 14, 20, 31, 47, 70, 105, 158, 237}, 600, 2)
}

// crashWrites skips t under -short and returns points, with every
// step-th write below upTo added in the long form.
func crashWrites(t *testing.T, points []int, upTo, step int) []int {
	t.Helper()
	if testing.Short() {
		t.Skip("crash tests spawn processes; skipped with -short")
	}
	if long() {
		for i := 1; i < upTo; i += step {
			points = append(points, i)
		}
	}
	return points
}

// TestCrashAtWrite kills the child at chosen writes: inside a flush's page
// writes, at a torn meta write, mid-truncate; then crash -> reopen -> crash.
func TestCrashAtWrite(t *testing.T) {
	points := killWrites(t)
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
	points := lossWrites(t)
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

// logNonces makes opts' backend append the nonce of every run written to
// the file at path (12 bytes a run) before the write: a record survives
// the process being killed during or after it. Runs written to the commit
// log's files (opened through opts.OpenFile too) are recorded in
// path+".log" instead, so a test can tell that they were recorded; the
// all-zero pages the log grows its files by carry no nonce and are skipped.
func logNonces(opts *Options, path string) {
	open := opts.OpenFile
	opts.OpenFile = func(p string) (page.Backend, error) {
		var b page.Backend
		var err error
		if open != nil {
			b, err = open(p)
		} else {
			b, err = os.OpenFile(p, os.O_RDWR|os.O_CREATE, 0o644) // the log files may not exist yet
		}
		if err != nil {
			return nil, err
		}
		to := path
		if strings.HasPrefix(filepath.Base(p), logBase) {
			to = path + ".log"
		}
		log, err := os.OpenFile(to, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
		if err != nil {
			return nil, err
		}
		return &nonceLogBackend{Backend: b, log: log}, nil
	}
}

type nonceLogBackend struct {
	page.Backend
	log *os.File
}

func (b *nonceLogBackend) WriteAt(p []byte, off int64) (int, error) {
	var rec []byte
	eachRun(p, page.MinPageSize, func(run []byte, _ page.Header) {
		if allZero(run) {
			return // a page of zeros a log file grows by: not sealed
		}
		rec = append(rec, run[len(run)-page.TrailerSize+page.TagSize:len(run)-4]...)
	})
	if _, err := b.log.Write(rec); err != nil {
		return 0, err
	}
	return b.Backend.WriteAt(p, off)
}

func (b *nonceLogBackend) Close() error {
	b.log.Close()
	return b.Backend.Close()
}

// TestCrashEncryptedNonces: an encrypted store killed at random moments,
// at chosen writes (the first is the open's epoch bump), torn or not, and
// by power loss, in everysec mode (each crash loses unflushed commits whose
// txn and page ids are handed out again): every state reopens as after
// some commit at or after the last durable one, passes Check, and no nonce
// was ever written twice (child processes and reopens alike).
func TestCrashEncryptedNonces(t *testing.T) {
	rounds := crashRounds(t, 12, 90)
	dir := t.TempDir()
	logPath := filepath.Join(t.TempDir(), "nonces")
	env := []string{"DIGBY_CRASH_KEY=" + hex.EncodeToString(encKey256), "DIGBY_CRASH_NONCES=" + logPath}
	opts := &Options{Durability: Always, EncryptionKey: encKey256}
	logNonces(opts, logPath)
	r := rand.New(rand.NewPCG(21, 22))
	for i := 0; i < rounds; i++ {
		var d uint64
		switch i % 4 {
		case 0:
			d = runCrashChild(t, dir, Everysec, time.Duration(30+r.IntN(200))*time.Millisecond, 0, false, env...)
		case 1:
			d = runCrashChild(t, dir, Everysec, 0, 1+r.IntN(60), false, append(env, "DIGBY_CRASH_LOSSY=1")...)
		case 2:
			d = runCrashChild(t, dir, Everysec, 0, 1, true, env...) // the epoch bump, torn
		case 3:
			d = runCrashChild(t, dir, Everysec, 0, 2+r.IntN(40), r.IntN(2) == 0, env...)
		}
		verifyCrashWith(t, dir, d, opts)
	}
	log, err := os.ReadFile(logPath)
	if err != nil {
		t.Fatal(err)
	}
	seen := map[[page.NonceSize]byte]bool{}
	for i := 0; i+page.NonceSize <= len(log); i += page.NonceSize {
		n := [page.NonceSize]byte(log[i : i+page.NonceSize])
		if seen[n] {
			t.Fatalf("nonce %x written twice", n)
		}
		seen[n] = true
	}
	if len(log)%page.NonceSize != 0 || len(seen) < 100 {
		t.Fatalf("nonce log of %d bytes, %d nonces", len(log), len(seen))
	}
	t.Logf("%d nonces over %d crashes, all distinct", len(seen), rounds)
}
