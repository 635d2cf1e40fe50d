package store

import (
	"bytes"
	"encoding/hex"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/digby-db/digby/page"
)

// Crash tests of the commit log (commitlog.go): the child of crash_test.go
// runs in Always mode with DIGBY_CRASH_LOG=1, so each commit it reports
// durable was made so by a synced log block (or, for a batch the log
// cannot carry, by its flush), and the tree is flushed once a
// FlushInterval or when dirty pages pass the cap. A reopen, with the
// option on or off, must replay the blocks past the newest meta and land
// on a commit at or after the last acknowledged one.

// crashLogEnv is the child's environment for a commit log crash test:
// the log on, and extra. target, if set, names the files whose writes
// count towards the chosen write (DIGBY_CRASH_KILL_FILE, crashGroupOpen).
func crashLogEnv(target string, extra ...string) []string {
	env := append([]string{"DIGBY_CRASH_LOG=1"}, extra...)
	if target != "" {
		env = append(env, "DIGBY_CRASH_KILL_FILE="+target)
	}
	return env
}

// crashUnloggableEnv makes every 40th commit of the child unloggable
// (crashUnloggable); verifyCrashLog must then check tables 5 and 6.
const crashUnloggableEnv = "DIGBY_CRASH_UNLOGGABLE=1"

// crashBigDirtyCap raises the child's DirtyCap (256 KiB, which the crash
// workload passes about every batch, so that a flush is nearly always in
// flight) so that flushes come once a FlushInterval and the log holds more
// than a batch or two past the newest meta.
const crashBigDirtyCap = "DIGBY_CRASH_DIRTYCAP=8388608"

// crashUnloggable adds to every 40th commit c a change the commit log
// cannot carry, in tables 5 and 6 (which the crash model leaves out): a
// value over maxLogValue, ClearTable or SwapTables, in turn. Such a batch
// is acknowledged by its flush, and logging pauses until a flush holding
// it has landed: a crash must never lose it, nor replay a block logged
// after it onto a state without it.
func crashUnloggable(tx *Tx, c uint64) error {
	if c%40 != 0 {
		return nil
	}
	switch (c / 40) % 3 {
	case 0:
		_, err := tx.Table(5).Put([]byte("big"), crashBigValue(c), TypeString, 0)
		return err
	case 1:
		return tx.ClearTable(5)
	default:
		return tx.SwapTables(5, 6)
	}
}

func crashBigValue(c uint64) []byte {
	unit := []byte(fmt.Sprintf("big %d|", c))
	n := maxLogValue + 1 + int(c%5000)
	return bytes.Repeat(unit, n/len(unit)+1)[:n]
}

// checkUnloggable checks tables 5 and 6 against the crashUnloggable
// changes of commits up to got.
func checkUnloggable(tx *Tx, got uint64) error {
	var want [2][]byte // "big" in tables 5 and 6
	for c := uint64(40); c <= got; c += 40 {
		switch (c / 40) % 3 {
		case 0:
			want[0] = crashBigValue(c)
		case 1:
			want[0] = nil
		default:
			want[0], want[1] = want[1], want[0]
		}
	}
	for i, w := range want {
		tb := tx.Table(uint32(5 + i))
		tu, ok, err := tb.Get([]byte("big"))
		if err != nil {
			return err
		}
		switch {
		case w == nil && (ok || tb.Count() != 0):
			return fmt.Errorf("table %d: %d tuples, want none", 5+i, tb.Count())
		case w != nil && (!ok || tb.Count() != 1):
			return fmt.Errorf("table %d: %d tuples, big found %v; want big alone", 5+i, tb.Count(), ok)
		case w != nil && !bytes.Equal(tu.Value, w):
			return fmt.Errorf("table %d: big is %d bytes %.20q, want %d bytes %.20q", 5+i, len(tu.Value), tu.Value, len(w), w)
		}
	}
	return nil
}

// crashGroup makes a child's files crash as one disk: the writes to the
// files its target names share one count, and at the chosen one the
// process dies (after tearing that write, if torn), or, lossy, power is
// lost for every file at once: each keeps a random subset of its unsynced
// writes, some torn at a sector boundary.
type crashGroup struct {
	target string // "db" (the data file), "log" (both log files) or "all"
	left   atomic.Int64
	torn   bool
	mu     sync.Mutex
	files  []*lossyBackend // every lossy file, counted or not
	rng    *rand.Rand
}

// crashGroupOpen returns the Options.OpenFile of a crash group.
func crashGroupOpen(target string, n int, torn, lossy bool) func(string) (page.Backend, error) {
	g := &crashGroup{target: target, torn: torn, rng: rand.New(rand.NewPCG(uint64(n), 5))}
	g.left.Store(int64(n))
	return func(path string) (page.Backend, error) {
		f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o644)
		if err != nil {
			return nil, err
		}
		base := filepath.Base(path)
		counts := g.target == "all" || (g.target == "db" && base == page.DataFile) || (g.target == "log" && strings.HasPrefix(base, logBase))
		if lossy {
			// The group loses power, not the file: its own count never ends.
			b := &groupLossyBackend{lossyBackend: newLossyBackend(f, math.MaxInt, uint64(n)), g: g, counts: counts}
			g.mu.Lock()
			g.files = append(g.files, b.lossyBackend)
			g.mu.Unlock()
			return b, nil
		}
		return &groupKillBackend{File: f, g: g, counts: counts}, nil
	}
}

type groupKillBackend struct {
	*os.File
	g      *crashGroup
	counts bool
}

func (b *groupKillBackend) WriteAt(p []byte, off int64) (int, error) {
	if b.counts && b.g.left.Add(-1) == 0 {
		if b.g.torn {
			b.File.WriteAt(p[:len(p)/2+1], off)
			b.File.Sync()
		}
		syscall.Kill(os.Getpid(), syscall.SIGKILL)
		time.Sleep(time.Hour)
	}
	return b.File.WriteAt(p, off)
}

type groupLossyBackend struct {
	*lossyBackend
	g      *crashGroup
	counts bool
}

func (b *groupLossyBackend) WriteAt(p []byte, off int64) (int, error) {
	n, err := b.lossyBackend.WriteAt(p, off) // volatile until Sync
	if b.counts && b.g.left.Add(-1) == 0 {
		b.g.powerLoss()
	}
	return n, err
}

// powerLoss is lossyBackend.powerLoss for every file of the group: a
// file's sync that returned before it is kept whole.
func (g *crashGroup) powerLoss() {
	g.mu.Lock()
	for _, b := range g.files {
		b.mu.Lock() // held until the process dies: no write or sync after
		b.spill(g.rng)
	}
	syscall.Kill(os.Getpid(), syscall.SIGKILL)
	time.Sleep(time.Hour)
}

func allZero(b []byte) bool {
	for _, c := range b {
		if c != 0 {
			return false
		}
	}
	return true
}

// crashPageSize is the crash child's page size (the default).
const crashPageSize = 4096

// logBlocksOnDisk counts the runs in dir's log files that carry a log
// block's header where one may start (type TypeLog, id = its page index),
// each file from its start as replay reads it: an upper bound on what an
// open can replay (it also counts torn blocks and those a meta already
// covers). It also reports whether any log file exists.
func logBlocksOnDisk(t *testing.T, dir string) (blocks int, exist bool) {
	t.Helper()
	for i := range 2 {
		data, err := os.ReadFile(LogPath(dir, i))
		if errors.Is(err, os.ErrNotExist) {
			continue
		} else if err != nil {
			t.Fatal(err)
		}
		exist = true
		for off := 0; off+crashPageSize <= len(data); {
			h := page.ReadHeader(data[off:])
			if h.Type != page.TypeLog || h.ID != uint64(off/crashPageSize) {
				break
			}
			blocks++
			off += h.Pages() * crashPageSize
		}
	}
	return blocks, exist
}

// replayedBlocks parses how many blocks open says it replayed (0 if none).
func replayedBlocks(t *testing.T, recovered string) int {
	t.Helper()
	i := strings.Index(recovered, "replayed ")
	if i < 0 {
		return 0
	}
	var n int
	if _, err := fmt.Sscanf(recovered[i:], "replayed %d commit log blocks", &n); err != nil || n <= 0 {
		t.Fatalf("Recovered() = %q: cannot tell how many blocks were replayed (%v)", recovered, err)
	}
	return n
}

// crashLogStats sums what the rounds of one test saw.
type crashLogStats struct {
	rounds, onDisk, replayed, blocks, withoutLog int
}

// verifyCrashLog checks dir after a child ran with the commit log. It
// counts the log blocks left on disk, then reopens with the log on
// (logFirst) or off: the state must be a commit at or after durable (the
// crash model, Check, and with unloggable tables 5 and 6 too), open may
// replay no more blocks than were on disk, a reopen with the log leaves
// both files empty and one without removes them. Then it reopens the
// other way: the same commit again, nothing replayed (the replay was
// flushed and the files emptied durably).
func verifyCrashLog(t *testing.T, dir string, durable uint64, base *Options, logFirst, unloggable bool, st *crashLogStats) uint64 {
	t.Helper()
	var check func(*Tx, uint64) error
	if unloggable {
		check = checkUnloggable
	}
	onDisk, _ := logBlocksOnDisk(t, dir)
	first, second := *base, *base
	first.CommitLog, second.CommitLog = logFirst, !logFirst
	got, rec := verifyCrashRecovered(t, dir, durable, &first, check)
	n := replayedBlocks(t, rec)
	if n > onDisk {
		t.Fatalf("open replayed %d blocks (%q), but only %d block headers were in the log files", n, rec, onDisk)
	}
	checkLogFilesAfter(t, dir, logFirst)
	got2, rec2 := verifyCrashRecovered(t, dir, got, &second, check)
	if got2 != got {
		t.Fatalf("reopened at commit %d after a reopen at commit %d", got2, got)
	}
	if strings.Contains(rec2, "replayed") {
		t.Fatalf("second reopen replayed again: %q", rec2)
	}
	checkLogFilesAfter(t, dir, !logFirst)
	st.rounds++
	if onDisk > 0 {
		st.onDisk++
	}
	if n > 0 {
		st.replayed++
		st.blocks += n
		if !logFirst {
			st.withoutLog++
		}
	}
	return got
}

// checkLogFilesAfter checks the log files a closed database left: empty
// with the option on, gone with it off.
func checkLogFilesAfter(t *testing.T, dir string, logOn bool) {
	t.Helper()
	for i := range 2 {
		fi, err := os.Stat(LogPath(dir, i))
		switch {
		case logOn && err != nil:
			t.Fatalf("commit log on: %v", err)
		case logOn && fi.Size() != 0:
			t.Fatalf("commit log on, nothing written since open: %s holds %d bytes", LogPath(dir, i), fi.Size())
		case !logOn && !errors.Is(err, os.ErrNotExist):
			t.Fatalf("commit log off: %s not removed (%v)", LogPath(dir, i), err)
		}
	}
}

// report logs what the rounds saw.
func (st *crashLogStats) report(t *testing.T) {
	t.Helper()
	t.Logf("%d rounds: %d left log blocks on disk, %d replayed (%d blocks; %d of them opening without the log)", st.rounds, st.onDisk, st.replayed, st.blocks, st.withoutLog)
}

// done reports and fails if no round replayed a block: the test would not
// have exercised the log. (A kill may land right after a flush, so this
// holds over a test's rounds, not each.)
func (st *crashLogStats) done(t *testing.T) {
	t.Helper()
	st.report(t)
	if st.replayed == 0 {
		t.Fatalf("no round replayed a log block: the commit log was not exercised")
	}
}

// TestCrashCommitLogRandomKill: SIGKILL at random moments, rounds on the
// same directory; each round's reopen alternates with and without the
// option (the log left behind is replayed either way). The "unloggable"
// form makes every 40th commit one the log cannot carry.
func TestCrashCommitLogRandomKill(t *testing.T) {
	rounds := crashRounds(t, 6, 40)
	var all crashLogStats
	for _, unloggable := range []bool{false, true} {
		name, env := "logged", crashLogEnv("", crashBigDirtyCap)
		if unloggable {
			name, env = "unloggable", crashLogEnv("", crashBigDirtyCap, crashUnloggableEnv)
		}
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			r := rand.New(rand.NewPCG(31, 1))
			var st crashLogStats
			for i := 0; i < rounds; i++ {
				d := runCrashChild(t, dir, Always, time.Duration(30+r.IntN(250))*time.Millisecond, 0, false, env...)
				verifyCrashLog(t, dir, d, &Options{Durability: Always}, i%2 == 0, unloggable, &st)
			}
			st.report(t)
			all.add(st)
		})
	}
	all.done(t)
}

func (st *crashLogStats) add(o crashLogStats) {
	st.rounds += o.rounds
	st.onDisk += o.onDisk
	st.replayed += o.replayed
	st.blocks += o.blocks
	st.withoutLog += o.withoutLog
}

// TestCrashCommitLogAtWrite kills the child at chosen writes: counted per
// file (mostly log writes: a block, or the zeros a file grows by), counted
// on the data file only (overflow runs written as a batch applies, and
// flushes, with blocks logged on both sides of them: a torn meta makes
// open fall back to the previous one and replay two generations), and
// counted over all files; torn or not (the torn forms with unloggable
// commits).
func TestCrashCommitLogAtWrite(t *testing.T) {
	points := killWrites(t)
	var all crashLogStats
	for _, target := range []string{"", "db", "all"} {
		for _, torn := range []bool{false, true} {
			t.Run(fmt.Sprintf("%s/torn=%v", crashTargetName(target), torn), func(t *testing.T) {
				all.add(crashLogPoints(t, points, crashLogEnv(target), torn, torn, 0))
			})
		}
	}
	all.done(t)
}

// TestCrashCommitLogPowerLoss loses power at chosen writes: unsynced writes
// to the log files and the data file reach the disk in any order, some
// torn, some not at all. Every acknowledged commit must survive. Counted
// per file (each file loses its own unsynced writes, the others all
// theirs), on the data file only and over all files (all files lose a
// random part of theirs; this form with unloggable commits).
func TestCrashCommitLogPowerLoss(t *testing.T) {
	points := lossWrites(t)
	var all crashLogStats
	for _, target := range []string{"", "db", "all"} {
		t.Run(crashTargetName(target), func(t *testing.T) {
			all.add(crashLogPoints(t, points, crashLogEnv(target, "DIGBY_CRASH_LOSSY=1"), false, target == "all", 1))
		})
	}
	all.done(t)
}

// crashTargetName names a DIGBY_CRASH_KILL_FILE target in a subtest: ""
// (each file counts its own writes) is "each".
func crashTargetName(target string) string {
	if target == "" {
		return "each"
	}
	return target
}

// crashLogPoints runs, on one directory, a child per point k killed at its
// k-th counted write (torn: with half of that write done) in Always mode
// with env, and verifies each round, reopening with the log on first on
// the rounds whose index has parity logFirst; unloggable adds commits the
// log cannot carry.
func crashLogPoints(t *testing.T, points []int, env []string, torn, unloggable bool, logFirst int) crashLogStats {
	t.Helper()
	dir := t.TempDir()
	var st crashLogStats
	if unloggable {
		env = append(slices.Clone(env), crashUnloggableEnv)
	}
	for i, k := range points {
		d := runCrashChild(t, dir, Always, 0, k, torn, env...)
		verifyCrashLog(t, dir, d, &Options{Durability: Always}, i%2 == logFirst, unloggable, &st)
	}
	st.report(t)
	return st
}

// TestCrashCommitLogEncryptedNonces is TestCrashEncryptedNonces with the
// commit log on (Always mode): log blocks are sealed with nonces from the
// data file's counter, and a crash loses unsynced blocks whose txns and
// file offsets are handed out again, so no nonce may ever be written twice,
// in the data file or the log files, by the children or the reopens
// (which replay and flush). Killed at random moments, by power loss, at
// the open's epoch bump (torn), and at chosen writes, torn or not.
func TestCrashCommitLogEncryptedNonces(t *testing.T) {
	rounds := crashRounds(t, 12, 90)
	dir := t.TempDir()
	logPath := filepath.Join(t.TempDir(), "nonces")
	env := []string{"DIGBY_CRASH_KEY=" + hex.EncodeToString(encKey256), "DIGBY_CRASH_NONCES=" + logPath, crashBigDirtyCap}
	opts := &Options{Durability: Always, EncryptionKey: encKey256}
	logNonces(opts, logPath)
	r := rand.New(rand.NewPCG(23, 24))
	var st crashLogStats
	for i := 0; i < rounds; i++ {
		var d uint64
		switch i % 4 {
		case 0:
			d = runCrashChild(t, dir, Always, time.Duration(30+r.IntN(200))*time.Millisecond, 0, false, crashLogEnv("", env...)...)
		case 1:
			d = runCrashChild(t, dir, Always, 0, 1+r.IntN(120), false, crashLogEnv("all", append(env, "DIGBY_CRASH_LOSSY=1")...)...)
		case 2:
			d = runCrashChild(t, dir, Always, 0, 1, true, crashLogEnv("db", env...)...) // the epoch bump, torn
		case 3:
			d = runCrashChild(t, dir, Always, 0, 2+r.IntN(80), r.IntN(2) == 0, crashLogEnv("all", env...)...)
		}
		verifyCrashLog(t, dir, d, opts, i%3 != 2, false, &st)
	}
	st.done(t)
	seen := map[[page.NonceSize]byte]bool{}
	count := func(path string) int {
		log, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		if len(log)%page.NonceSize != 0 {
			t.Fatalf("%s: %d bytes, not whole nonces", path, len(log))
		}
		for i := 0; i < len(log); i += page.NonceSize {
			n := [page.NonceSize]byte(log[i : i+page.NonceSize])
			if seen[n] {
				t.Fatalf("nonce %x written twice (seen again in %s)", n, filepath.Base(path))
			}
			seen[n] = true
		}
		return len(log) / page.NonceSize
	}
	data, logs := count(logPath), count(logPath+".log")
	if data < 100 || logs < 20 {
		t.Fatalf("%d data file nonces and %d log nonces recorded: too few to show anything", data, logs)
	}
	t.Logf("%d data file and %d log block nonces over %d crashes, all distinct", data, logs, rounds)
}

// errCrashBeforeTruncate stands for a crash after open's replay flushed and
// before it emptied the log files.
var errCrashBeforeTruncate = errors.New("simulated crash before the log files are emptied")

// noTruncateBackend fails a log file's truncation.
type noTruncateBackend struct{ *os.File }

func (b noTruncateBackend) Truncate(int64) error { return errCrashBeforeTruncate }

// TestCrashCommitLogReplayInterrupted crashes while open replays the log.
// Each round leaves a log behind (a child killed at a random moment); then
// either a second child dies inside its open's replay (at one of the first
// writes to the data file, those of the replay's flush, torn or not, or by
// power loss), or an open in this process fails to empty the log files
// once the replay's flush has landed, as a crash between the two would
// leave them. The reopen must be at or after the last acknowledged commit:
// the blocks are neither lost nor replayed a second time onto a state
// that holds them.
func TestCrashCommitLogReplayInterrupted(t *testing.T) {
	rounds := crashRounds(t, 8, 48)
	// With commits the log cannot carry too: blocks after one are in the
	// log but must never be replayed without it.
	for _, unl := range []bool{false, true} {
		t.Run(fmt.Sprintf("unloggable=%v", unl), func(t *testing.T) { crashReplayInterrupted(t, rounds, unl) })
	}
}

func crashReplayInterrupted(t *testing.T, rounds int, unl bool) {
	dir := t.TempDir()
	var base []string
	if unl {
		base = append(base, crashUnloggableEnv)
	}
	r := rand.New(rand.NewPCG(41, 2))
	var st crashLogStats
	interrupted := 0
	for i := 0; i < rounds; i++ {
		d := runCrashChild(t, dir, Always, time.Duration(40+r.IntN(200))*time.Millisecond, 0, false, crashLogEnv("", append(base, crashBigDirtyCap)...)...)
		left, _ := logBlocksOnDisk(t, dir)
		switch i % 4 {
		case 0, 1, 2:
			extra := slices.Clone(base)
			if i%4 == 2 {
				extra = append(extra, "DIGBY_CRASH_LOSSY=1")
			}
			d2 := runCrashChild(t, dir, Always, 0, 1+r.IntN(3), i%4 == 1, crashLogEnv("db", extra...)...)
			if d2 == 0 && left > 0 {
				interrupted++ // died before acknowledging anything: in its open, or right after
			}
			d = max(d, d2)
		case 3:
			db, err := Open(dir, &Options{Durability: Always, CommitLog: i%8 == 3, OpenFile: wrapFiles(true, noTruncate)})
			if err == nil {
				db.Close()
				t.Fatalf("open with log files it cannot empty succeeded")
			}
			if !errors.Is(err, errCrashBeforeTruncate) {
				t.Fatalf("open: %v", err)
			}
			if left > 0 {
				interrupted++
			}
		}
		verifyCrashLog(t, dir, d, &Options{Durability: Always}, i%2 == 0, unl, &st)
	}
	t.Logf("%d rounds interrupted an open with log blocks on disk", interrupted)
	st.done(t)
	if interrupted == 0 {
		t.Fatalf("no round interrupted an open with a log to replay")
	}
}
