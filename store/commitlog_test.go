package store

import (
	"bytes"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/digby-db/digby/btree"
	"github.com/digby-db/digby/page"
)

// logOpts are Always-mode options with the commit log on and no timed
// flush, so that what a test writes stays in the log until it says.
func logOpts(key []byte) *Options {
	return &Options{Durability: Always, CommitLog: true, FlushInterval: time.Hour, DirtyCap: 1 << 30, EncryptionKey: key, NoWarmCache: true}
}

// snapshotFiles copies the data file and both log files of db as they
// are now, from inside the writer goroutine (no flush or log round of
// its own runs meanwhile), into a new directory: the files a crash at this
// moment would leave, had the kernel written them out.
func snapshotFiles(t *testing.T, db *DB) string {
	t.Helper()
	dst := t.TempDir()
	err := db.control(func() error {
		if err := db.waitFlush(); err != nil {
			return err
		}
		return copyFiles(db.dir, dst)
	})
	if err != nil {
		t.Fatal(err)
	}
	return dst
}

// reopenVerify opens dir with opts, checks that it holds m and passes
// Check, closes it, and returns what open reported it recovered.
func reopenVerify(t *testing.T, dir string, opts *Options, m model) string {
	t.Helper()
	c, err := Open(dir, opts)
	if err != nil {
		t.Fatalf("open: %v", err)
	}
	verify(t, c, m)
	mustCheck(t, c)
	rec := c.Recovered()
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	return rec
}

// copyFiles copies the data file and both log files of directory src into
// dst.
func copyFiles(src, dst string) error {
	for _, name := range []string{page.DataFile, logName(0), logName(1)} {
		b, err := os.ReadFile(filepath.Join(src, name))
		if err != nil {
			return err
		}
		if err := os.WriteFile(filepath.Join(dst, name), b, 0o644); err != nil {
			return err
		}
	}
	return nil
}

// wrapFiles is an Options.OpenFile that opens every file plainly and
// hands the commit log's files (logs true) or the data file (logs false)
// to wrap.
func wrapFiles(logs bool, wrap func(*os.File) page.Backend) func(string) (page.Backend, error) {
	return func(path string) (page.Backend, error) {
		f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o644)
		if err != nil || strings.HasPrefix(filepath.Base(path), logBase) != logs {
			return f, err
		}
		return wrap(f), nil
	}
}

// noTruncate makes a log file's truncation fail: open stops after its
// replay's flush landed and before it emptied the files, as a crash there
// would.
func noTruncate(f *os.File) page.Backend { return noTruncateBackend{f} }

// logWorkload submits rounds of concurrent random batches to db and
// applies them to m: puts (inline, in overflow, chunked, over the log's
// value limit), long keys, deletes, expiries, and now and then a
// ClearTable or SwapTables (which the log cannot carry). Every
// submission is waited for.
func logWorkload(t *testing.T, db *DB, m model, r *rand.Rand, rounds int) {
	t.Helper()
	var mu sync.Mutex
	for round := 0; round < rounds; round++ {
		var subs []*Pending
		for c := 0; c < 1+r.IntN(6); c++ {
			tn := uint32(r.IntN(3))
			var ops []func(tx *Tx, m model) error
			for i := 0; i < 1+r.IntN(8); i++ {
				k := randKey(r, 200)
				switch x := r.IntN(100); {
				case x < 55:
					v := randVal(r, 4096)
					if r.IntN(200) == 0 {
						v = bytes.Repeat([]byte("big"), (maxLogValue+10)/3) // past the log's limit
					}
					exp := int64(0)
					if r.IntN(10) == 0 {
						exp = time.Now().Add(time.Hour).UnixMilli()
					}
					ops = append(ops, func(tx *Tx, m model) error { return putModel(tx, m, tn, string(k), v, exp) })
				case x < 80:
					ops = append(ops, func(tx *Tx, m model) error {
						ok, err := tx.Table(tn).Delete(k)
						if ok {
							delete(m.table(tn), string(k))
						}
						return err
					})
				case x < 95:
					at := time.Now().Add(time.Duration(1+r.IntN(100)) * time.Hour).UnixMilli()
					ops = append(ops, func(tx *Tx, m model) error {
						ok, err := tx.Table(tn).SetExpire(k, at)
						if ok {
							mv := m.table(tn)[string(k)]
							mv.exp = at
							m.table(tn)[string(k)] = mv
						}
						return err
					})
				case x < 97:
					ops = append(ops, func(tx *Tx, m model) error {
						delete(m, tn)
						return tx.ClearTable(tn)
					})
				default:
					other := (tn + 1) % 3
					ops = append(ops, func(tx *Tx, m model) error {
						m[tn], m[other] = m[other], m[tn]
						return tx.SwapTables(tn, other)
					})
				}
			}
			fail := r.IntN(10) == 0 // rolled back: must leave no record
			// Submissions run one at a time in the writer, in order: each
			// takes the model as the ones before it left it, and commits
			// its copy to it only if it succeeds.
			p := db.Submit(func(tx *Tx) error {
				mu.Lock()
				defer mu.Unlock()
				staged := m.clone()
				for _, op := range ops {
					if err := op(tx, staged); err != nil {
						return err
					}
				}
				if fail {
					return fmt.Errorf("planned failure")
				}
				for n := range m {
					delete(m, n)
				}
				for n, tb := range staged {
					m[n] = tb
				}
				return nil
			})
			subs = append(subs, p)
		}
		for _, p := range subs {
			if err := p.Wait(); err != nil && !strings.Contains(err.Error(), "planned failure") {
				t.Fatal(err)
			}
		}
	}
}

// TestCommitLogReplay writes a random workload in Always mode with the
// commit log and no timed flush, takes the files as a crash would leave
// them, and opens the copy: open must replay the log to the exact state
// acknowledged, pass Check, and say so; opened again it replays nothing.
// The original went through the log (blocks written, few flushes).
func TestCommitLogReplay(t *testing.T) {
	for _, enc := range []bool{false, true} {
		t.Run(fmt.Sprintf("encrypted=%v", enc), func(t *testing.T) {
			var key []byte
			if enc {
				key = encKey256
			}
			db, err := Open(t.TempDir(), logOpts(key))
			if err != nil {
				t.Fatal(err)
			}
			defer db.Close()
			m := model{}
			r := rand.New(rand.NewPCG(41, 42))
			logWorkload(t, db, m, r, 60)
			st := db.Stats()
			if st.LogBlocks < 20 || st.LogSyncs == 0 {
				t.Fatalf("the workload did not go through the log: %d blocks, %d syncs", st.LogBlocks, st.LogSyncs)
			}
			if st.Flushes >= st.LogBlocks {
				t.Fatalf("%d flushes for %d logged batches: batches were acknowledged by flushes", st.Flushes, st.LogBlocks)
			}
			t.Logf("%d log blocks (%d bytes), %d log syncs, %d flushes", st.LogBlocks, st.LogBytes, st.LogSyncs, st.Flushes)
			dir := snapshotFiles(t, db)
			for i, withLog := range []bool{true, false, true} {
				opts := logOpts(key)
				opts.CommitLog = withLog
				rec := reopenVerify(t, dir, opts, m)
				if i == 0 && !strings.Contains(rec, "replayed") {
					t.Errorf("open after the crash: Recovered() = %q, want a replay", rec)
				}
				if i > 0 && strings.Contains(rec, "replayed") {
					t.Errorf("open %d replayed again: %q", i, rec)
				}
				_, err := os.Stat(LogPath(dir, 0))
				if withLog != (err == nil) {
					t.Errorf("open %d with CommitLog %v: log file exists: %v", i, withLog, err == nil)
				}
			}
		})
	}
}

// TestCommitLogAfterFlushes: the log goes on across flushes (generations,
// file reuse) and acknowledged batches survive whichever generation holds
// them. Flushes are forced between rounds, and the files are taken at
// several points.
func TestCommitLogAfterFlushes(t *testing.T) {
	db, err := Open(t.TempDir(), logOpts(nil))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	m := model{}
	r := rand.New(rand.NewPCG(43, 44))
	for step := 0; step < 6; step++ {
		logWorkload(t, db, m, r, 10)
		if step%2 == 1 {
			if err := db.Flush(); err != nil {
				t.Fatal(err)
			}
		}
		reopenVerify(t, snapshotFiles(t, db), logOpts(nil), m)
	}
}

// TestCommitLogDamagedBlock: a block damaged in the log ends the replay
// there (never wrong data): the state is the one before that block, and
// Recovered names where the log ended.
func TestCommitLogDamagedBlock(t *testing.T) {
	db, err := Open(t.TempDir(), logOpts(nil))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	states := []model{{}}
	m := model{}
	for i := 0; i < 10; i++ {
		k := fmt.Sprintf("k%d", i)
		if err := db.Update(func(tx *Tx) error { return putModel(tx, m, 0, k, []byte(k), 0) }); err != nil {
			t.Fatal(err)
		}
		states = append(states, m.clone())
	}
	dir := snapshotFiles(t, db)
	// Each one-put batch is a one-page block: damage the sixth.
	path := LogPath(dir, 0)
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	b[5*4096+page.HeaderSize+3] ^= 0x40
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
	if rec := reopenVerify(t, dir, logOpts(nil), states[5]); !strings.Contains(rec, "page 5") {
		t.Errorf("Recovered() = %q: want where the log ended (page 5)", rec)
	}
}

// FuzzLogRecords feeds arbitrary record bytes to the replay: errors, never
// a panic.
func FuzzLogRecords(f *testing.F) {
	var l txLog
	l.put(0, []byte("k"), &btree.Value{Data: []byte("v"), Version: 3})
	l.del(1, []byte("k"))
	l.expire(0, []byte("k"), 99, 4)
	f.Add(l.recs, uint32(3))
	f.Add([]byte{}, uint32(1))
	db, err := Open(f.TempDir(), &Options{Durability: No, NoWarmCache: true})
	if err != nil {
		f.Fatal(err)
	}
	defer db.Close()
	f.Fuzz(func(t *testing.T, recs []byte, n uint32) {
		n %= 64
		db.Update(func(tx *Tx) error {
			applyLogBlock(tx, logBlock{n: n, recs: recs, nextVersion: 1})
			return fmt.Errorf("roll back")
		})
	})
}

// TestCommitLogReplayOnce: a replay whose files were not emptied (a crash
// right after its flush) is not replayed again: the replay commits past
// the blocks it applied.
func TestCommitLogReplayOnce(t *testing.T) {
	db, err := Open(t.TempDir(), logOpts(nil))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	m := model{}
	for i := 0; i < 20; i++ {
		k := fmt.Sprintf("k%d", i%7)
		if err := db.Update(func(tx *Tx) error {
			if i%5 == 4 {
				ok, err := tx.Table(0).Delete([]byte(k))
				if ok {
					delete(m.table(0), k)
				}
				return err
			}
			return putModel(tx, m, 0, k, []byte(fmt.Sprint(i)), 0)
		}); err != nil {
			t.Fatal(err)
		}
	}
	dir := snapshotFiles(t, db)
	opts := logOpts(nil)
	opts.OpenFile = wrapFiles(true, noTruncate)
	if _, err := Open(dir, opts); !errors.Is(err, errCrashBeforeTruncate) {
		t.Fatalf("open with failing truncate: %v", err)
	}
	if rec := reopenVerify(t, dir, logOpts(nil), m); strings.Contains(rec, "replayed") {
		t.Errorf("the log was replayed a second time: %q", rec)
	}
}

// TestCommitLogResumes: after a batch the log cannot carry, logging
// resumes once the flush holding it lands, even while batches keep coming
// (several in flight, as from pipelining clients): the batches applied
// meanwhile are written to the log too, so the flush need not hold them.
// Were they counted as missing from the log, each flush would land a batch
// or two short and every batch would wait for a flush of its own.
func TestCommitLogResumes(t *testing.T) {
	db, err := Open(t.TempDir(), logOpts(nil))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	m := model{}
	var mu sync.Mutex
	put := func(i int) *Pending {
		return db.Submit(func(tx *Tx) error {
			mu.Lock()
			defer mu.Unlock()
			return putModel(tx, m, 0, fmt.Sprintf("k%04d", i%500), bytes.Repeat([]byte{byte(i)}, 20), 0)
		})
	}
	for round := 0; round < 3; round++ {
		before := db.Stats().Flushes
		// Eight writers, each waiting for its own write before the next
		// (clients at -P 1): the writer applies batches while a flush is
		// written. One unloggable write early in the round.
		var wg sync.WaitGroup
		errs := make(chan error, 8)
		for w := 0; w < 8; w++ {
			wg.Add(1)
			go func(w int) {
				defer wg.Done()
				for i := 0; i < 60; i++ {
					p := put(round*1000 + w*60 + i)
					if w == 0 && i == 5 {
						p = db.Submit(func(tx *Tx) error {
							if _, err := tx.Table(1).Put([]byte("x"), []byte("y"), TypeString, 0); err != nil {
								return err
							}
							return tx.ClearTable(1)
						})
					}
					if err := p.Wait(); err != nil {
						errs <- err
						return
					}
				}
			}(w)
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Fatal(err)
		}
		n := db.Stats().Flushes - before
		t.Logf("round %d: %d flushes", round, n)
		if n > 40 {
			t.Fatalf("round %d: %d flushes for 480 writes, one unloggable: logging did not resume", round, n)
		}
	}
	reopenVerify(t, snapshotFiles(t, db), logOpts(nil), m)
}

// gatedFile holds its writes while its gate is write-locked: a flush
// started then writes nothing to the data file until it is opened.
type gatedFile struct {
	*os.File
	gate *sync.RWMutex
}

func (g gatedFile) WriteAt(p []byte, off int64) (int, error) {
	g.gate.RLock()
	defer g.gate.RUnlock()
	return g.File.WriteAt(p, off)
}

// TestCommitLogReplayBreak: a block that follows a change the log does not
// hold (here a SwapTables, whose flush never landed) is never replayed,
// not even after an open that replayed the blocks before it was cut short
// before emptying the files: the replay commits past every block read, so
// that block cannot chain onto the replay's commit.
func TestCommitLogReplayBreak(t *testing.T) {
	var gate sync.RWMutex
	opts := logOpts(nil)
	opts.OpenFile = wrapFiles(false, func(f *os.File) page.Backend { return gatedFile{f, &gate} })
	db, err := Open(t.TempDir(), opts)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if err := db.Update(func(tx *Tx) error {
		_, err := tx.Table(1).Put([]byte("a"), []byte("1"), TypeString, 0)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	gate.Lock() // the swap's flush writes nothing
	txn := db.Stats().TxID
	swap := db.Submit(func(tx *Tx) error { return tx.SwapTables(1, 2) })
	for db.Stats().TxID == txn { // b in a batch of its own, after the swap's
		time.Sleep(time.Millisecond)
	}
	putB := db.Submit(func(tx *Tx) error {
		_, err := tx.Table(1).Put([]byte("b"), []byte("2"), TypeString, 0)
		return err
	})
	dir := t.TempDir()
	err = db.control(func() error {
		db.waitLog() // b's block is on disk; the swap is not anywhere
		return copyFiles(db.dir, dir)
	})
	gate.Unlock()
	if err != nil {
		t.Fatal(err)
	}
	if err := swap.Wait(); err != nil {
		t.Fatal(err)
	}
	if err := putB.Wait(); err != nil {
		t.Fatal(err)
	}
	// The first open replays a's block and flushes, then fails to empty
	// the files (as a crash there would leave them).
	bad := logOpts(nil)
	bad.OpenFile = wrapFiles(true, noTruncate)
	if _, err := Open(dir, bad); !errors.Is(err, errCrashBeforeTruncate) {
		t.Fatalf("open with failing truncate: %v", err)
	}
	// The state after a's commit: b (which came after the swap) must not
	// be there without the swap.
	want := model{}
	want.table(1)["a"] = modelVal{val: []byte("1")}
	reopenVerify(t, dir, logOpts(nil), want)
}

// TestCommitLogStoreFailed: a batch during which the store failed (here an
// overflow run's write, whose error the submission swallows) is answered
// with the failure, not acknowledged through the log, though its other
// writes were recorded.
func TestCommitLogStoreFailed(t *testing.T) {
	var data *faultBackend // fails every data file write once armed
	opts := logOpts(nil)
	opts.NoCompression = true // the big value must go to overflow
	opts.OpenFile = wrapFiles(false, func(f *os.File) page.Backend {
		data = &faultBackend{File: f, kind: "eio", after: 1}
		return data
	})
	db, err := Open(t.TempDir(), opts)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if err := db.Update(func(tx *Tx) error { return putString(tx, 0, []byte("a"), []byte("1")) }); err != nil {
		t.Fatal(err)
	}
	data.armed.Store(true)
	err = db.Update(func(tx *Tx) error {
		if err := putString(tx, 0, []byte("big"), bytes.Repeat([]byte("v"), 3*4096)); err == nil {
			return fmt.Errorf("the overflow write did not fail")
		}
		return putString(tx, 0, []byte("b"), []byte("2"))
	})
	if !errors.Is(err, ErrFailed) {
		t.Fatalf("write in a batch during which the store failed: %v, want %v", err, ErrFailed)
	}
	db.control(func() error { db.waitLog(); return nil }) // every round queued has run
	if st := db.Stats(); st.LogBlocks != 1 {
		t.Fatalf("%d log blocks: the failed batch went to the log", st.LogBlocks)
	}
}
