package bench

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"math/rand/v2"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// Workload shape (issue 3, "How it is measured").
const (
	keySize   = 16
	valueSize = 100
	batchSize = 1000 // puts or deletes per write transaction
)

// keySet is n keys of keySize bytes in one flat buffer, in load order.
type keySet struct {
	flat []byte
	n    int
}

func (s keySet) key(i int) []byte { return s.flat[i*keySize : (i+1)*keySize : (i+1)*keySize] }

// seqKeys are big-endian counters: loading them in order appends.
func seqKeys(n int) keySet {
	s := keySet{flat: make([]byte, n*keySize), n: n}
	for i := 0; i < n; i++ {
		k := s.key(i)
		copy(k, "seqkey::")
		binary.BigEndian.PutUint64(k[8:], uint64(i))
	}
	return s
}

// randKeys are uniformly random (fixed seed); with 128 bits a duplicate
// among a few million keys would be a one-in-10^25 event.
func randKeys(n int, seed uint64) keySet {
	s := keySet{flat: make([]byte, n*keySize), n: n}
	r := rand.New(rand.NewPCG(seed, 0x5eed))
	for i := 0; i < n*keySize; i += 8 {
		binary.LittleEndian.PutUint64(s.flat[i:], r.Uint64())
	}
	return s
}

// valueOf derives a key's value, so a reader can verify what it got.
func valueOf(dst, key []byte) []byte {
	dst = dst[:valueSize]
	for i := range dst {
		dst[i] = key[i%keySize] ^ byte(i*7)
	}
	return dst
}

// validValue reports whether v is key's value (cheap check on hot paths).
func validValue(key, v []byte) bool {
	return len(v) == valueSize && v[0] == key[0] && v[valueSize-1] == key[(valueSize-1)%keySize]^byte((valueSize-1)*7%256)
}

// phase is what one workload step measured on one engine.
type phase struct {
	ops      int // puts, gets, keys scanned or keys deleted
	dataB    int64
	elapsed  time.Duration
	written  uint64
	fileSize int64
	lat      []time.Duration // per-transaction latencies, sorted (durable puts)
}

func (p phase) opsPerSec() float64 { return float64(p.ops) / p.elapsed.Seconds() }

// wa is bytes written per byte of data touched.
func (p phase) wa() float64 {
	if p.dataB == 0 {
		return 0
	}
	return float64(p.written) / float64(p.dataB)
}

func (p phase) pct(q float64) time.Duration {
	if len(p.lat) == 0 {
		return 0
	}
	return p.lat[min(len(p.lat)-1, int(q*float64(len(p.lat))))]
}

// finish records the bytes written since w0 and the file size.
func finish(e engine, p *phase, w0 uint64) error {
	p.written = e.Written() - w0
	sz, err := e.FileSize()
	p.fileSize = sz
	return err
}

// load puts keys[from:to] with their values in transactions of batchSize
// puts, then flushes; the flush is part of the time.
func load(e engine, ks keySet, from, to int) (phase, error) {
	p := phase{ops: to - from, dataB: int64(to-from) * (keySize + valueSize)}
	w0 := e.Written()
	t0 := time.Now()
	for i := from; i < to; i += batchSize {
		end := min(i+batchSize, to)
		vals := make([]byte, (end-i)*valueSize) // fresh: engines may keep references until commit
		batch := make([]kv, 0, end-i)
		for j := i; j < end; j++ {
			k := ks.key(j)
			batch = append(batch, kv{k, valueOf(vals[(j-i)*valueSize:], k)})
		}
		if err := e.Put(batch); err != nil {
			return p, fmt.Errorf("%s: put batch at %d: %w", e.Name(), i, err)
		}
	}
	if err := e.Flush(); err != nil {
		return p, fmt.Errorf("%s: flush: %w", e.Name(), err)
	}
	p.elapsed = time.Since(t0)
	return p, finish(e, &p, w0)
}

// durablePuts puts each key in its own transaction and records latencies.
func durablePuts(e engine, ks keySet) (phase, error) {
	p := phase{ops: ks.n, dataB: int64(ks.n) * (keySize + valueSize), lat: make([]time.Duration, 0, ks.n)}
	w0 := e.Written()
	t0 := time.Now()
	for i := 0; i < ks.n; i++ {
		k := ks.key(i)
		v := valueOf(make([]byte, valueSize), k)
		s := time.Now()
		if err := e.Put([]kv{{k, v}}); err != nil {
			return p, fmt.Errorf("%s: put %d: %w", e.Name(), i, err)
		}
		p.lat = append(p.lat, time.Since(s))
	}
	p.elapsed = time.Since(t0)
	slices.Sort(p.lat)
	return p, finish(e, &p, w0)
}

// gets reads every key of order (a permutation of present keys), one read
// transaction per get, split over g goroutines, and verifies each value.
func gets(e engine, ks keySet, order []int32, g int) (phase, error) {
	p := phase{ops: len(order)}
	w0 := e.Written()
	errs := make([]error, g)
	var wg sync.WaitGroup
	t0 := time.Now()
	per := (len(order) + g - 1) / g
	for w := 0; w < g; w++ {
		part := order[min(w*per, len(order)):min((w+1)*per, len(order))]
		wg.Add(1)
		go func() {
			defer wg.Done()
			for _, i := range part {
				k := ks.key(int(i))
				good := false
				found, err := e.Get(k, func(v []byte) { good = validValue(k, v) })
				if err == nil && (!found || !good) {
					err = fmt.Errorf("get %x: found=%v valid=%v", k, found, good)
				}
				if err != nil {
					errs[w] = fmt.Errorf("%s: %w", e.Name(), err)
					return
				}
			}
		}()
	}
	wg.Wait()
	p.elapsed = time.Since(t0)
	for _, err := range errs {
		if err != nil {
			return p, err
		}
	}
	return p, finish(e, &p, w0)
}

// scan reads the whole table, verifies order and values, and expects want keys.
func scan(e engine, want int) (phase, error) {
	var p phase
	w0 := e.Written()
	var prev []byte
	var bad error
	t0 := time.Now()
	err := e.Scan(func(k, v []byte) {
		if bad == nil && (!validValue(k, v) || (prev != nil && bytes.Compare(prev, k) >= 0)) {
			bad = fmt.Errorf("scan: key %x out of order or with a wrong value", k)
		}
		prev = append(prev[:0], k...)
		p.ops++
		p.dataB += int64(len(k) + len(v))
	})
	p.elapsed = time.Since(t0)
	if err == nil {
		err = bad
	}
	if err == nil && p.ops != want {
		err = fmt.Errorf("scan: %d keys, want %d", p.ops, want)
	}
	if err != nil {
		return p, fmt.Errorf("%s: %w", e.Name(), err)
	}
	return p, finish(e, &p, w0)
}

// deleteHalf deletes the keys at even positions of the load order (for
// random keys, a random half) in transactions of batchSize, then flushes.
func deleteHalf(e engine, ks keySet) (phase, error) {
	var keys [][]byte
	for i := 0; i < ks.n; i += 2 {
		keys = append(keys, ks.key(i))
	}
	p := phase{ops: len(keys), dataB: int64(len(keys)) * (keySize + valueSize)}
	w0 := e.Written()
	t0 := time.Now()
	for i := 0; i < len(keys); i += batchSize {
		if err := e.Delete(keys[i:min(i+batchSize, len(keys))]); err != nil {
			return p, fmt.Errorf("%s: delete batch at %d: %w", e.Name(), i, err)
		}
	}
	if err := e.Flush(); err != nil {
		return p, fmt.Errorf("%s: flush: %w", e.Name(), err)
	}
	p.elapsed = time.Since(t0)
	return p, finish(e, &p, w0)
}

// permutation is a shuffled 0..n-1 (fixed seed).
func permutation(n int, seed uint64) []int32 {
	p := make([]int32, n)
	for i := range p {
		p[i] = int32(i)
	}
	r := rand.New(rand.NewPCG(seed, 0x9e7))
	r.Shuffle(n, func(i, j int) { p[i], p[j] = p[j], p[i] })
	return p
}

func envInt(name string, def int) int {
	if s := os.Getenv(name); s != "" {
		if n, err := strconv.Atoi(s); err == nil && n > 0 {
			return n
		}
	}
	return def
}

func envDuration(name string, def time.Duration) time.Duration {
	if s := os.Getenv(name); s != "" {
		if d, err := time.ParseDuration(s); err == nil {
			return d
		}
	}
	return def
}

// engines are the engines to run, digby first.
func engines() []string {
	s := os.Getenv("DIGBY_BENCH_ENGINES")
	if s == "" {
		return []string{digbyName, bboltName}
	}
	return strings.Split(s, ",")
}

// TestWorkloads runs every workload on a small key set on both engines
// and checks that each step did what it says and that both engines end up
// holding exactly the same data.
func TestWorkloads(t *testing.T) {
	const n = 5000
	seq, rnd, dur := seqKeys(n), randKeys(n, 1), randKeys(300, 2)
	if s := seq.key(1); !bytes.Equal(s[:8], []byte("seqkey::")) || binary.BigEndian.Uint64(s[8:]) != 1 {
		t.Fatalf("seq key 1 = %x", s)
	}
	if bytes.Compare(seq.key(0), seq.key(1)) >= 0 || bytes.Equal(rnd.key(0), rnd.key(1)) {
		t.Fatal("keys not ordered or not distinct")
	}
	if !validValue(rnd.key(7), valueOf(make([]byte, valueSize), rnd.key(7))) || validValue(rnd.key(7), valueOf(make([]byte, valueSize), rnd.key(8))) {
		t.Fatal("validValue does not tell values apart")
	}
	dumps := map[string][]kv{}
	for _, name := range []string{digbyName, digbyAESName, bboltName} {
		for _, m := range []mode{durable, relaxed} {
			e, err := openEngine(name, t.TempDir(), m)
			if err != nil {
				t.Fatal(err)
			}
			step := func(what string, p phase, err error, ops int) {
				t.Helper()
				if err != nil {
					t.Fatalf("%s %s: %v", name, what, err)
				}
				if p.ops != ops || p.elapsed <= 0 || p.fileSize <= 0 {
					t.Fatalf("%s %s: %+v", name, what, p)
				}
			}
			p, err := load(e, seq, 0, n)
			step("seq load", p, err, n)
			if p.written < uint64(p.dataB) {
				t.Fatalf("%s: %d bytes written for %d bytes of data", name, p.written, p.dataB)
			}
			p, err = load(e, rnd, 0, n)
			step("rand load", p, err, n)
			p, err = gets(e, rnd, permutation(n, 3), 2)
			step("gets", p, err, n)
			p, err = gets(e, seq, permutation(n, 4), 1)
			step("gets", p, err, n)
			p, err = scan(e, 2*n)
			step("scan", p, err, 2*n)
			p, err = deleteHalf(e, rnd)
			step("delete half", p, err, n/2)
			p, err = durablePuts(e, dur)
			step("durable puts", p, err, dur.n)
			if p.pct(0.5) <= 0 || p.pct(0.5) > p.pct(0.99) {
				t.Fatalf("%s: latencies p50 %v p99 %v", name, p.pct(0.5), p.pct(0.99))
			}
			if _, err := gets(e, rnd, []int32{0}, 1); err == nil {
				t.Fatalf("%s: deleted key still readable", name)
			}
			d, err := dump(e)
			if err != nil {
				t.Fatal(err)
			}
			if len(d) != 2*n-n/2+dur.n {
				t.Fatalf("%s: %d keys after the workloads", name, len(d))
			}
			if prev, ok := dumps[name]; ok && !slices.EqualFunc(prev, d, kvEqual) {
				t.Fatalf("%s: durable and relaxed runs hold different data", name)
			}
			dumps[name] = d
			if err := e.Close(); err != nil {
				t.Fatal(err)
			}
		}
	}
	if !slices.EqualFunc(dumps[digbyName], dumps[bboltName], kvEqual) || !slices.EqualFunc(dumps[digbyAESName], dumps[bboltName], kvEqual) {
		t.Fatal("digby, digby-aes and bbolt hold different data after the same workloads")
	}
	if _, err := procIO(); err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
}

func kvEqual(a, b kv) bool { return bytes.Equal(a.k, b.k) && bytes.Equal(a.v, b.v) }
