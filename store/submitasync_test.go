package store

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// asyncTimeout bounds every wait in these tests: a submission never
// answered, or a Then never called, fails the test instead of hanging it.
const asyncTimeout = 10 * time.Second

// submitMode is a way a submission is answered, with options that bring
// it about.
type submitMode struct {
	name string
	o    Options
}

// submitModes are the ways a submission is answered: on commit (everysec,
// no), after the flush that holds it (always), after the commit log's
// sync (always with CommitLog). The small DirtyCap makes batches wait for
// flushes (back-pressure) now and then.
func submitModes() []submitMode {
	return []submitMode{
		{"everysec", Options{Durability: Everysec, DirtyCap: 64 << 10, FlushInterval: 5 * time.Millisecond, NoWarmCache: true}},
		{"always", Options{Durability: Always, DirtyCap: 64 << 10, NoWarmCache: true}},
		{"always-log", Options{Durability: Always, CommitLog: true, DirtyCap: 64 << 10, FlushInterval: 5 * time.Millisecond, NoWarmCache: true}},
		{"no", Options{Durability: No, DirtyCap: 64 << 10, NoWarmCache: true}},
	}
}

// forSubmitModes runs fn on a fresh store under each of submitModes.
func forSubmitModes(t *testing.T, fn func(t *testing.T, db *DB)) {
	for _, m := range submitModes() {
		t.Run(m.name, func(t *testing.T) {
			o := m.o
			db, err := Open(t.TempDir(), &o)
			if err != nil {
				t.Fatal(err)
			}
			defer db.Close()
			fn(t, db)
		})
	}
}

// probe is a submission whose Then counts its calls and notes one made
// before Done was closed.
type probe struct {
	*Pending
	calls  atomic.Int32
	early  atomic.Bool
	called chan struct{} // closed at Then's first call
}

func newProbe(fn func(*Tx) error) *probe {
	pr := &probe{Pending: NewPending(fn), called: make(chan struct{})}
	pr.Then(func() {
		select {
		case <-pr.Done():
		default:
			pr.early.Store(true)
		}
		if pr.calls.Add(1) == 1 {
			close(pr.called)
		}
	})
	return pr
}

// pendings returns the probes' submissions, for SubmitAsync.
func pendings(prs []*probe) []*Pending {
	ps := make([]*Pending, len(prs))
	for i, pr := range prs {
		ps[i] = pr.Pending
	}
	return ps
}

// settleProbes waits for each probe's Then and returns the first error a
// submission was answered with; Then running early fails t.
func settleProbes(t *testing.T, prs []*probe) error {
	t.Helper()
	deadline := time.After(asyncTimeout)
	var first error
	for i, pr := range prs {
		select {
		case <-pr.called:
		case <-deadline:
			t.Fatalf("submission %d of %d: Then not called within %v", i, len(prs), asyncTimeout)
		}
		if pr.early.Load() {
			t.Errorf("submission %d: Then called before Done was closed", i)
		}
		if err := pr.Wait(); err != nil && first == nil {
			first = fmt.Errorf("submission %d: %w", i, err)
		}
	}
	return first
}

// calledOnce checks that each probe's Then ran exactly once. Call it once
// nothing can answer them any more (after Close), or a second call could
// still be on its way.
func calledOnce(t *testing.T, prs []*probe) {
	t.Helper()
	for i, pr := range prs {
		if n := pr.calls.Load(); n != 1 {
			t.Errorf("submission %d: Then called %d times", i, n)
		}
	}
}

// checkTable compares table 0 with m and runs the store's Check (but for
// one known false positive of Check, logged).
func checkTable(t *testing.T, db *DB, m map[string]string) {
	t.Helper()
	err := db.View(func(tx *Tx) error {
		tb := tx.Table(0)
		if n := tb.Count(); n != uint64(len(m)) {
			return fmt.Errorf("table holds %d keys, model %d", n, len(m))
		}
		for k, want := range m {
			tu, ok, err := tb.Get([]byte(k))
			if err != nil || !ok || string(tu.Value) != want {
				return fmt.Errorf("%s = %q %v %v, want %q", k, tu.Value, ok, err, want)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	r, err := db.Check()
	if err != nil {
		t.Fatal(err)
	}
	if r.Reachable+r.Free+r.Pending != r.Pages-2 {
		t.Fatalf("check: reachable %d + free %d + pending %d != %d pages", r.Reachable, r.Free, r.Pending, r.Pages-2)
	}
}

// TestSubmitAsyncOrder: runs submitted with SubmitAsync, one after another
// without waiting, are applied once each in the order submitted (each
// write appends its number to a log of applications), leave table 0 as a
// model has them, and each submission's Then runs once, after its Done.
func TestSubmitAsyncOrder(t *testing.T) {
	forSubmitModes(t, func(t *testing.T, db *DB) {
		r := rand.New(rand.NewPCG(1, 2))
		m := map[string]string{}
		var mu sync.Mutex
		var applied []int
		var prs []*probe
		for n := 0; n < 2000; {
			run := make([]*probe, 0, 20)
			for k := 1 + r.IntN(20); k > 0; k, n = k-1, n+1 {
				key := []byte(fmt.Sprintf("k%03d", r.IntN(200)))
				val := []byte(strconv.Itoa(n))
				seq, del := n, r.IntN(4) == 0
				if del {
					delete(m, string(key))
				} else {
					m[string(key)] = string(val)
				}
				run = append(run, newProbe(func(tx *Tx) error {
					mu.Lock()
					applied = append(applied, seq)
					mu.Unlock()
					if del {
						_, err := tx.Table(0).Delete(key)
						return err
					}
					return putString(tx, 0, key, val)
				}))
			}
			db.SubmitAsync(pendings(run)...)
			prs = append(prs, run...)
		}
		if err := settleProbes(t, prs); err != nil {
			t.Fatal(err)
		}
		mu.Lock()
		for i, n := range applied {
			if n != i {
				t.Fatalf("application %d was submission %d", i, n)
			}
		}
		if len(applied) != len(prs) {
			t.Fatalf("%d writes applied, %d submitted", len(applied), len(prs))
		}
		mu.Unlock()
		checkTable(t, db, m)
		if err := db.Close(); err != nil {
			t.Fatal(err)
		}
		calledOnce(t, prs)
	})
}

// TestSubmitAsyncNeverLeads: SubmitAsync returns while the writer
// goroutine applies its write. The write waits for SubmitAsync to have
// returned: had the caller led (applied the batch itself, as SubmitAll
// may), the write would time out and fail; had the writer not been woken,
// the submission would never be answered.
func TestSubmitAsyncNeverLeads(t *testing.T) {
	db, err := Open(t.TempDir(), &Options{Durability: Everysec, NoWarmCache: true})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	returned := make(chan struct{})
	pr := newProbe(func(tx *Tx) error {
		select {
		case <-returned:
		case <-time.After(asyncTimeout):
			return errors.New("the write ran in the submitter: SubmitAsync led")
		}
		return putString(tx, 0, []byte("k"), []byte("v"))
	})
	db.SubmitAsync(pr.Pending)
	close(returned)
	if err := settleProbes(t, []*probe{pr}); err != nil {
		t.Fatal(err)
	}
	checkTable(t, db, map[string]string{"k": "v"})
}

// TestSubmitAsyncMixed: goroutines submitting with SubmitAsync (and now
// and then Update), beside others using SubmitAll and Update, see every
// submission answered and applied in the order each goroutine made them,
// whatever the method: each write checks that its goroutine's counter
// holds its predecessor's number. The table ends as the goroutines'
// models (disjoint keys) have it.
func TestSubmitAsyncMixed(t *testing.T) {
	forSubmitModes(t, func(t *testing.T, db *DB) {
		const workers, per = 9, 300
		models := make([]map[string]string, workers)
		asyncs := make([][]*probe, workers)
		errs := make(chan error, workers)
		var wg sync.WaitGroup
		for g := range workers {
			models[g] = map[string]string{}
			wg.Add(1)
			go func() {
				defer wg.Done()
				r := rand.New(rand.NewPCG(uint64(g), 3))
				counter := []byte("c" + strconv.Itoa(g))
				// write i: checks the counter holds i-1, sets it to i,
				// and sets one of the goroutine's keys to i.
				write := func(i int) func(*Tx) error {
					key := []byte(fmt.Sprintf("g%d:%02d", g, r.IntN(40)))
					models[g][string(key)] = strconv.Itoa(i)
					return func(tx *Tx) error {
						tu, ok, err := tx.Table(0).Get(counter)
						if err != nil {
							return err
						}
						got := "0"
						if ok {
							got = string(tu.Value)
						}
						if got != strconv.Itoa(i-1) {
							return fmt.Errorf("worker %d: write %d applied after %s", g, i, got)
						}
						if err := putString(tx, 0, counter, []byte(strconv.Itoa(i))); err != nil {
							return err
						}
						return putString(tx, 0, key, []byte(strconv.Itoa(i)))
					}
				}
				for i := 1; i <= per; {
					switch {
					case g%3 == 0 && r.IntN(6) != 0: // SubmitAsync, not waited for
						run := make([]*probe, 0, 10)
						for k := 1 + r.IntN(10); k > 0 && i <= per; k, i = k-1, i+1 {
							run = append(run, newProbe(write(i)))
						}
						db.SubmitAsync(pendings(run)...)
						asyncs[g] = append(asyncs[g], run...)
					case g%3 == 1:
						run := make([]*Pending, 0, 10)
						for k := 1 + r.IntN(10); k > 0 && i <= per; k, i = k-1, i+1 {
							run = append(run, NewPending(write(i)))
						}
						db.SubmitAll(run...)
						for _, p := range run {
							if err := p.Wait(); err != nil {
								errs <- err
								return
							}
						}
					default: // Update (goroutines 2, 5, 8, and the async ones now and then)
						if err := db.Update(write(i)); err != nil {
							errs <- err
							return
						}
						i++
					}
				}
			}()
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Fatal(err)
		}
		m := map[string]string{}
		for g := range workers {
			if err := settleProbes(t, asyncs[g]); err != nil {
				t.Fatal(err)
			}
			m["c"+strconv.Itoa(g)] = strconv.Itoa(per)
			for k, v := range models[g] {
				m[k] = v
			}
		}
		checkTable(t, db, m)
		if err := db.Close(); err != nil {
			t.Fatal(err)
		}
		for g := range workers {
			calledOnce(t, asyncs[g])
		}
	})
}

// TestSubmitAsyncErrorFailsAlone: in one SubmitAsync, a write returning
// an error and one panicking are answered with their own errors and
// rolled back, while the writes beside them commit; every Then runs.
func TestSubmitAsyncErrorFailsAlone(t *testing.T) {
	errBoom := errors.New("boom")
	forSubmitModes(t, func(t *testing.T, db *DB) {
		put := func(k string, err error, panics bool) *probe {
			return newProbe(func(tx *Tx) error {
				if err := putString(tx, 0, []byte(k), []byte(k)); err != nil {
					return err
				}
				if panics {
					panic("write panics")
				}
				return err
			})
		}
		prs := []*probe{put("a", nil, false), put("b", errBoom, false), put("c", nil, true), put("d", nil, false)}
		db.SubmitAsync(pendings(prs)...)
		_ = settleProbes(t, prs) // each one's error is checked below
		if err := prs[0].Wait(); err != nil {
			t.Errorf("a: %v", err)
		}
		if err := prs[1].Wait(); !errors.Is(err, errBoom) {
			t.Errorf("b: %v, want %v", err, errBoom)
		}
		if err := prs[2].Wait(); err == nil || !strings.Contains(err.Error(), "write panics") {
			t.Errorf("c (panics): %v", err)
		}
		if err := prs[3].Wait(); err != nil {
			t.Errorf("d: %v", err)
		}
		checkTable(t, db, map[string]string{"a": "a", "d": "d"})
		if err := db.Close(); err != nil {
			t.Fatal(err)
		}
		calledOnce(t, prs)
	})
}

// TestSubmitAsyncClosed: SubmitAsync on a closed store answers each
// submission with ErrClosed and calls its Then before returning (in the
// submitter's goroutine), without running the writes or blocking.
func TestSubmitAsyncClosed(t *testing.T) {
	forSubmitModes(t, func(t *testing.T, db *DB) {
		if err := db.Close(); err != nil {
			t.Fatal(err)
		}
		var ran atomic.Bool
		prs := make([]*probe, 5)
		for i := range prs {
			prs[i] = newProbe(func(*Tx) error { ran.Store(true); return nil })
		}
		returned := make(chan struct{})
		go func() {
			db.SubmitAsync(pendings(prs)...)
			close(returned)
		}()
		select {
		case <-returned:
		case <-time.After(asyncTimeout):
			t.Fatal("SubmitAsync on a closed store blocks")
		}
		for i, pr := range prs {
			select {
			case <-pr.called:
			default:
				t.Fatalf("submission %d: Then not called by the time SubmitAsync returned", i)
			}
			if err := pr.Wait(); !errors.Is(err, ErrClosed) {
				t.Errorf("submission %d: %v, want ErrClosed", i, err)
			}
			if pr.early.Load() {
				t.Errorf("submission %d: Then called before Done was closed", i)
			}
		}
		calledOnce(t, prs)
		if ran.Load() {
			t.Error("a write submitted to a closed store ran")
		}
	})
}

// TestSubmitAsyncThenCountdown: the command layer's pattern (commands
// session.go, settle/answered): one Then shared by N submissions counts
// down and signals at zero; by then every submission is answered. N spans
// more than one batch (maxBatch), so the writer leads on past the first.
func TestSubmitAsyncThenCountdown(t *testing.T) {
	forSubmitModes(t, func(t *testing.T, db *DB) {
		const n = maxBatch + 500
		var left atomic.Int32
		left.Store(n)
		zero := make(chan struct{})
		then := func() {
			if left.Add(-1) == 0 {
				close(zero)
			}
		}
		ps := make([]*Pending, n)
		m := map[string]string{}
		for i := range ps {
			key := []byte(fmt.Sprintf("k%05d", i))
			m[string(key)] = "v"
			ps[i] = NewPending(func(tx *Tx) error { return putString(tx, 0, key, []byte("v")) })
			ps[i].Then(then)
		}
		db.SubmitAsync(ps...)
		select {
		case <-zero:
		case <-time.After(asyncTimeout):
			t.Fatalf("%d of %d submissions unanswered after %v", left.Load(), n, asyncTimeout)
		}
		for i, p := range ps {
			select {
			case <-p.Done():
			default:
				t.Fatalf("submission %d: not answered when the countdown reached zero", i)
			}
			if err := p.Wait(); err != nil {
				t.Fatalf("submission %d: %v", i, err)
			}
		}
		checkTable(t, db, m)
		if err := db.Close(); err != nil {
			t.Fatal(err)
		}
		if l := left.Load(); l != 0 {
			t.Fatalf("countdown at %d after Close: Then called %d extra times", l, -l)
		}
	})
}
