package bench

import (
	"fmt"
	"os"
	"sync"
	"testing"
	"time"
)

// The benchmarks run in this order under -bench=. ; RandPut leaves its
// databases behind for Get1, Get2, Scan and DeleteHalf (which load them
// untimed when run alone).

func TestMain(m *testing.M) {
	code := m.Run()
	if baseDir != "" {
		os.RemoveAll(baseDir)
	}
	os.Exit(code)
}

var (
	baseOnce sync.Once
	baseDir  string
)

// newDir is a fresh directory for one database.
func newDir(b *testing.B, name string) string {
	baseOnce.Do(func() {
		d, err := os.MkdirTemp(os.Getenv("DIGBY_BENCH_DIR"), "digby-bench-")
		if err != nil {
			b.Fatal(err)
		}
		baseDir = d
	})
	d, err := os.MkdirTemp(baseDir, name+"-")
	if err != nil {
		b.Fatal(err)
	}
	return d
}

func benchKeys() int { return envInt("DIGBY_BENCH_KEYS", 1_000_000) }

var keyCache = map[string]keySet{}

func keys(kind string, n int) keySet {
	id := fmt.Sprint(kind, n)
	if ks, ok := keyCache[id]; ok {
		return ks
	}
	var ks keySet
	switch kind {
	case "seq":
		ks = seqKeys(n)
	case "rand":
		ks = randKeys(n, 1)
	case "durable":
		ks = randKeys(n, 2)
	}
	keyCache[id] = ks
	return ks
}

// fixture is the random-key database of each engine, closed between benchmarks.
var fixture = struct {
	dirs  map[string]string
	n     int // keys loaded
	count int // keys present now
}{dirs: map[string]string{}}

func useFixture(b *testing.B, name string) (engine, keySet) {
	n := benchKeys()
	ks := keys("rand", n)
	if fixture.n != n {
		for _, d := range fixture.dirs {
			os.RemoveAll(d)
		}
		clear(fixture.dirs)
		fixture.n, fixture.count = n, n
	}
	dir, ok := fixture.dirs[name]
	if !ok {
		b.Logf("%s: loading %d random keys (untimed)", name, n)
		dir = newDir(b, name+"-rand")
		e := open(b, name, dir, durable)
		if _, err := load(e, ks, 0, n); err != nil {
			b.Fatal(err)
		}
		e.Close()
		fixture.dirs[name] = dir
	}
	return open(b, name, dir, durable), ks
}

func open(b *testing.B, name, dir string, m mode) engine {
	e, err := openEngine(name, dir, m)
	if err != nil {
		b.Fatal(err)
	}
	return e
}

func closeEngine(b *testing.B, e engine) {
	if err := e.Close(); err != nil {
		b.Fatalf("%s: close: %v", e.Name(), err)
	}
}

// check runs digby's Check (untimed); an engine error fails the benchmark.
func check(b *testing.B, e engine, want int) {
	d, ok := e.(*digbyEngine)
	if !ok {
		return
	}
	r, err := d.db.Check()
	if err != nil {
		b.Fatalf("digby: Check: %v", err)
	}
	if r.Tuples != uint64(want) {
		b.Fatalf("digby: Check counts %d tuples, want %d", r.Tuples, want)
	}
	b.Logf("digby: Check: %d pages, %d reachable, %d free, %d pending", r.Pages, r.Reachable, r.Free, r.Pending)
}

// report publishes per-engine figures and the digby/bbolt ratios.
func report(b *testing.B, res map[string]phase, extra map[string]float64) {
	for name, p := range res {
		b.ReportMetric(p.opsPerSec(), name+"-ops/s")
		b.ReportMetric(float64(p.fileSize)/(1<<20), name+"-fileMB")
		if p.dataB > 0 && p.written > 0 || name == digbyName || name == digbyAESName {
			b.ReportMetric(p.wa(), name+"-WA")
		}
		if len(p.lat) > 0 {
			b.ReportMetric(float64(p.pct(0.5).Microseconds())/1000, name+"-p50-ms")
			b.ReportMetric(float64(p.pct(0.99).Microseconds())/1000, name+"-p99-ms")
		}
	}
	d, ok1 := res[digbyName]
	o, ok2 := res[bboltName]
	if ok1 && ok2 {
		b.ReportMetric(d.opsPerSec()/o.opsPerSec(), "x-speed")
		b.ReportMetric(float64(d.fileSize)/float64(o.fileSize), "x-size")
	}
	if a, ok := res[digbyAESName]; ok && ok1 {
		b.ReportMetric(a.opsPerSec()/d.opsPerSec(), "x-aes-speed")
	}
	for k, v := range extra {
		b.ReportMetric(v, k)
	}
	for name, p := range res {
		b.Logf("%s: %d ops in %v (%.0f/s), %d bytes written (%.2fx of %d), file %d bytes",
			name, p.ops, p.elapsed, p.opsPerSec(), p.written, p.wa(), p.dataB, p.fileSize)
	}
}

// digbyLogSyncs is digby's count of commit log syncs (0 for other engines).
func digbyLogSyncs(e engine) uint64 {
	if d, ok := e.(*digbyEngine); ok {
		return d.db.Stats().LogSyncs
	}
	return 0
}

// digbySyncs is digby's fsync counter (0 for other engines).
func digbySyncs(e engine) uint64 {
	if d, ok := e.(*digbyEngine); ok {
		return d.db.Stats().Syncs
	}
	return 0
}

func benchLoad(b *testing.B, kind string, m mode, keep bool) {
	n := benchKeys()
	ks := keys(kind, n)
	for i := 0; i < b.N; i++ {
		res := map[string]phase{}
		extra := map[string]float64{}
		for _, name := range engines() {
			dir := newDir(b, name+"-"+kind)
			e := open(b, name, dir, m)
			s0, l0 := digbySyncs(e), digbyLogSyncs(e)
			p, err := load(e, ks, 0, n)
			if err != nil {
				b.Fatal(err)
			}
			if name == digbyName {
				txns := float64((n + batchSize - 1) / batchSize)
				extra["digby-syncs/txn"] = float64(digbySyncs(e)-s0) / txns
				if m == durableLog {
					extra["digby-logsyncs/txn"] = float64(digbyLogSyncs(e)-l0) / txns
				}
			}
			res[name] = p
			check(b, e, n)
			if d, ok := e.(*digbyEngine); ok && m != durable {
				// A load flushed once a second leaves the pages of the
				// flushes before the last free (DESIGN rule b keeps the
				// older meta's); idle, digby moves pages down and gives
				// the tail back.
				idleFile(b, d, extra)
				check(b, e, n)
			}
			closeEngine(b, e)
			if keep && i == b.N-1 {
				if old, ok := fixture.dirs[name]; ok && fixture.n == n {
					os.RemoveAll(old)
				}
				if fixture.n != n {
					clear(fixture.dirs)
				}
				fixture.dirs[name], fixture.n, fixture.count = dir, n, n
			} else {
				os.RemoveAll(dir)
			}
		}
		report(b, res, extra)
	}
}

// idleFile lets digby idle for DIGBY_BENCH_IDLE, flushes, and reports its
// file's size then as digby-idle-fileMB.
func idleFile(b *testing.B, d *digbyEngine, extra map[string]float64) {
	b.Helper()
	time.Sleep(envDuration("DIGBY_BENCH_IDLE", 5*time.Second))
	if err := d.Flush(); err != nil {
		b.Fatal(err)
	}
	sz, err := d.FileSize()
	if err != nil {
		b.Fatal(err)
	}
	extra["digby-idle-fileMB"] = float64(sz) / (1 << 20)
}

// BenchmarkSeqPut: sequential keys in 1,000-put durable transactions.
func BenchmarkSeqPut(b *testing.B) { benchLoad(b, "seq", durable, false) }

// BenchmarkRandPut: random keys in 1,000-put durable transactions.
func BenchmarkRandPut(b *testing.B) { benchLoad(b, "rand", durable, true) }

// BenchmarkRandPutRelaxed: random keys, 1,000-put transactions, commits
// not synced one by one (digby Everysec, its default; bbolt NoSync), one
// flush at the end.
func BenchmarkRandPutRelaxed(b *testing.B) { benchLoad(b, "rand", relaxed, false) }

// BenchmarkRandPutLog: RandPut with digby's commit log on (durableLog):
// every transaction durable when it returns, as in RandPut; bbolt runs as
// in RandPut. It shows what the log buys in speed and bytes written.
func BenchmarkRandPutLog(b *testing.B) { benchLoad(b, "rand", durableLog, false) }

func benchGet(b *testing.B, g int) {
	for i := 0; i < b.N; i++ {
		res := map[string]phase{}
		extra := map[string]float64{}
		for _, name := range engines() {
			e, ks := useFixture(b, name)
			order := permutation(ks.n, 3)
			if fixture.count != ks.n {
				b.Skip("fixture already half deleted")
			}
			var h0, m0 uint64
			if d, ok := e.(*digbyEngine); ok {
				st := d.db.Stats()
				h0, m0 = st.CacheHits, st.CacheMisses
			}
			p, err := gets(e, ks, order, g)
			if err != nil {
				b.Fatal(err)
			}
			if d, ok := e.(*digbyEngine); ok {
				st := d.db.Stats()
				h, m := st.CacheHits-h0, st.CacheMisses-m0
				extra["digby-hit%"] = 100 * float64(h) / float64(h+m)
			}
			res[name] = p
			closeEngine(b, e)
		}
		report(b, res, extra)
	}
}

// BenchmarkGet1: every key once in random order, one read transaction per
// get, one goroutine.
func BenchmarkGet1(b *testing.B) { benchGet(b, 1) }

// BenchmarkGet2: the same split over two goroutines.
func BenchmarkGet2(b *testing.B) { benchGet(b, 2) }

// BenchmarkScan: one cursor over the whole table.
func BenchmarkScan(b *testing.B) {
	for i := 0; i < b.N; i++ {
		res := map[string]phase{}
		for _, name := range engines() {
			e, _ := useFixture(b, name)
			p, err := scan(e, fixture.count)
			if err != nil {
				b.Fatal(err)
			}
			res[name] = p
			closeEngine(b, e)
		}
		report(b, res, map[string]float64{})
	}
}

// BenchmarkDeleteHalf deletes a random half of the keys in 1,000-delete
// durable transactions; the file is measured at once and, for digby, again
// after DIGBY_BENCH_IDLE of idling (its writer moves pages down and gives
// the free tail back). It uses up the fixture.
func BenchmarkDeleteHalf(b *testing.B) {
	for i := 0; i < b.N; i++ {
		res := map[string]phase{}
		extra := map[string]float64{}
		for _, name := range engines() {
			e, ks := useFixture(b, name)
			if fixture.count != ks.n {
				b.Fatal("fixture already half deleted")
			}
			p, err := deleteHalf(e, ks)
			if err != nil {
				b.Fatal(err)
			}
			res[name] = p
			left := ks.n - p.ops
			if d, ok := e.(*digbyEngine); ok {
				w0 := d.Written()
				idleFile(b, d, extra)
				extra["digby-idle-WA"] = float64(d.Written()-w0) / float64(p.dataB)
				check(b, e, left)
			}
			if _, err := scan(e, left); err != nil {
				b.Fatal(err)
			}
			closeEngine(b, e)
			os.RemoveAll(fixture.dirs[name])
			delete(fixture.dirs, name)
		}
		report(b, res, extra)
	}
}

// BenchmarkDurablePut: DIGBY_BENCH_DURABLE random keys, each put in its
// own durable transaction (digby Always; bbolt default) into a new
// database, one goroutine; p50 and p99 latency.
func BenchmarkDurablePut(b *testing.B) {
	n := envInt("DIGBY_BENCH_DURABLE", 5000)
	ks := keys("durable", n)
	for i := 0; i < b.N; i++ {
		res := map[string]phase{}
		extra := map[string]float64{}
		for _, name := range engines() {
			dir := newDir(b, name+"-durable")
			e := open(b, name, dir, durable)
			s0 := digbySyncs(e)
			p, err := durablePuts(e, ks)
			if err != nil {
				b.Fatal(err)
			}
			if name == digbyName {
				extra["digby-syncs/txn"] = float64(digbySyncs(e)-s0) / float64(n)
			}
			res[name] = p
			if _, err := scan(e, n); err != nil {
				b.Fatal(err)
			}
			check(b, e, n)
			closeEngine(b, e)
			os.RemoveAll(dir)
		}
		if d, ok := res[digbyName]; ok {
			if o, ok := res[bboltName]; ok {
				extra["x-p50"] = float64(o.pct(0.5)) / float64(d.pct(0.5))
			}
		}
		report(b, res, extra)
	}
}
