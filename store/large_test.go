package store

import (
	"bytes"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"runtime"
	"strings"
	"testing"

	"github.com/digby-db/digby/page"
)

// randBytes returns n random bytes (incompressible).
func randBytes(r *rand.Rand, n int) []byte {
	b := make([]byte, n)
	for i := 0; i+8 <= n; i += 8 {
		v := r.Uint64()
		for j := 0; j < 8; j++ {
			b[i+j] = byte(v >> (8 * j))
		}
	}
	for i := n &^ 7; i < n; i++ {
		b[i] = byte(r.UintN(256))
	}
	return b
}

// textBytes returns n compressible bytes (words from a small vocabulary).
func textBytes(r *rand.Rand, n int) []byte {
	words := []string{"digby ", "stores ", "large ", "values ", "in ", "chunks ", "of ", "lz4 ", "pages ", "\n"}
	var b bytes.Buffer
	for b.Len() < n {
		b.WriteString(words[r.IntN(len(words))])
	}
	return b.Bytes()[:n]
}

// openTemp opens a database in a temporary directory, closed at cleanup.
func openTemp(t testing.TB, opts *Options) *DB {
	t.Helper()
	db, err := Open(t.TempDir(), opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

func putOne(t *testing.T, db *DB, key string, v []byte) {
	t.Helper()
	if err := db.Update(func(tx *Tx) error { _, err := tx.Table(0).Put([]byte(key), v, TypeString, 0); return err }); err != nil {
		t.Fatal(err)
	}
}

func getOne(t *testing.T, db *DB, key string) []byte {
	t.Helper()
	var out []byte
	if err := db.View(func(tx *Tx) error {
		tu, ok, err := tx.Table(0).Get([]byte(key))
		if err == nil && !ok {
			err = fmt.Errorf("%s missing", key)
		}
		out = tu.Value
		return err
	}); err != nil {
		t.Fatal(err)
	}
	return out
}

// TestLargeValues stores values of every shape (embedded, exactly one
// chunk, several chunks with a partial last one; random and compressible)
// at both page-size extremes, reads them back before and after a reopen,
// and checks that compressible values take less room than random ones.
func TestLargeValues(t *testing.T) {
	for _, ps := range []int{4096, 65536} {
		t.Run(fmt.Sprint(ps), func(t *testing.T) {
			dir := t.TempDir()
			db, err := Open(dir, &Options{PageSize: ps})
			if err != nil {
				t.Fatal(err)
			}
			r := rand.New(rand.NewPCG(1, uint64(ps)))
			sizes := []int{ps/4 + 1, ChunkSize - 1, ChunkSize, ChunkSize + 1, 3*ChunkSize + 77, 20 * ChunkSize}
			want := map[string][]byte{}
			for _, n := range sizes {
				want[fmt.Sprintf("rand-%d", n)] = randBytes(r, n)
				want[fmt.Sprintf("text-%d", n)] = textBytes(r, n)
			}
			for k, v := range want {
				putOne(t, db, k, v)
			}
			for round := 0; round < 2; round++ {
				for k, v := range want {
					if got := getOne(t, db, k); !bytes.Equal(got, v) {
						t.Fatalf("%s: read back %d bytes differing from the %d written", k, len(got), len(v))
					}
				}
				mustCheck(t, db)
				if err := db.Close(); err != nil {
					t.Fatal(err)
				}
				if db, err = Open(dir, nil); err != nil {
					t.Fatal(err)
				}
			}
			// Pages taken by one big random value vs one big text value.
			pagesOf := func(k string) (n uint64) {
				db.View(func(tx *Tx) error {
					s, _ := tx.tableState(0)
					m, _ := tx.Table(0).trees(s)
					v, _, _ := m.GetRaw([]byte(k))
					runs, _, err := overflowRuns(db.readRun, db.geom(), v.Ovf)
					if err != nil {
						t.Fatal(err)
					}
					for _, r := range runs {
						n += uint64(r.Pages)
					}
					return nil
				})
				return n
			}
			big := fmt.Sprint(20 * ChunkSize)
			rp, tp := pagesOf("rand-"+big), pagesOf("text-"+big)
			t.Logf("page size %d: %d-byte value: random %d pages, text %d pages", ps, 20*ChunkSize, rp, tp)
			if ps == 4096 && tp*2 > rp {
				t.Fatalf("compressible value takes %d pages, random %d", tp, rp)
			}
			if rp*uint64(ps) > uint64(20*ChunkSize)*105/100+uint64(2*ps) {
				t.Fatalf("random value of %d bytes takes %d pages of %d", 20*ChunkSize, rp, ps)
			}
			db.Close()
		})
	}
}

// TestValueTooLarge: a value past MaxValueSize gets ErrValueTooLarge (the
// check runs before anything is allocated, so a nil-backed huge slice is
// never read).
func TestValueTooLarge(t *testing.T) {
	if testing.Short() {
		t.Skip("allocates 4 GiB of address space")
	}
	n := uint64(MaxValueSize) + 1
	if n > math.MaxInt {
		t.Skip("a value past MaxValueSize does not fit this platform's int")
	}
	db := openTemp(t, nil)
	huge := make([]byte, int(n))
	err := db.Update(func(tx *Tx) error { _, err := tx.Table(0).Put([]byte("k"), huge, TypeString, 0); return err })
	if !errors.Is(err, ErrValueTooLarge) {
		t.Fatalf("value of %d bytes: %v", len(huge), err)
	}
}

// TestHugeValue stores and reads back a 256 MiB value.
func TestHugeValue(t *testing.T) {
	if testing.Short() {
		t.Skip("256 MiB")
	}
	db := openTemp(t, nil)
	r := rand.New(rand.NewPCG(7, 7))
	v := textBytes(r, 256<<20)
	copy(v[100<<20:], randBytes(r, 50<<20))
	putOne(t, db, "huge", v)
	if got := getOne(t, db, "huge"); !bytes.Equal(got, v) {
		t.Fatal("256 MiB value read back wrong")
	}
	mustCheck(t, db)
}

// TestOverwriteLargeRandom: overwriting a large incompressible value many
// times leaves the file about as big as after one write once no reader
// holds old versions (10 MiB x 1000 with DIGBY_LONG=1).
func TestOverwriteLargeRandom(t *testing.T) {
	size, times := 2<<20, 40
	if long() {
		size, times = 10<<20, 1000
	}
	db := openTemp(t, &Options{Durability: Everysec})
	r := rand.New(rand.NewPCG(3, 4))
	v := randBytes(r, size)
	putOne(t, db, "big", v)
	idle(t, db)
	one := fileSize(t, db)
	for i := 1; i <= times; i++ {
		v[i%size] ^= 1
		v[(i*7919)%size] ^= 1
		putOne(t, db, "big", v)
	}
	for i := 0; i < 12 && fileSize(t, db) > one*11/10; i++ {
		idle(t, db)
	}
	sz := fileSize(t, db)
	t.Logf("%d overwrites of %d bytes: file %d bytes, %d after one", times, size, sz, one)
	if sz > one*3/2 {
		var diag string
		db.control(func() error {
			a := db.alloc
			diag = fmt.Sprintf("hwm %d, allocatable %d, surplus %d, free run of 16 below the end: %v, lowest free: %v",
				a.HWM(), a.AvailCount(), a.Surplus(), a.HasRunBelow(16, a.HWM()), fmt.Sprint(a.LowestFree()))
			return nil
		})
		t.Fatalf("after %d overwrites the file is %d bytes, %d after one (%s)", times, sz, one, diag)
	}
	// Settled, idle cycles stop flushing: the flush an idle writer makes
	// for a pending page at the tail (page.PendingAtTail) puts the new
	// metadata lower, so it is not asked for again and again.
	settle(t, db)
	idleStopsFlushing(t, db, "overwritten value")
	if got := getOne(t, db, "big"); !bytes.Equal(got, v) {
		t.Fatal("value read back wrong")
	}
	mustCheck(t, db)
}

// FuzzChunkTable: the chunk table decoder never panics, and what it
// accepts re-encodes to the same bytes.
func FuzzChunkTable(f *testing.F) {
	for _, ct := range []*chunkTable{
		{owner: 1, treeKey: []byte("key"), length: 3*ChunkSize + 5, chunkSize: ChunkSize, chunks: []chunkRef{
			{ID: 5, Txn: 2, Stored: ChunkSize, Raw: ChunkSize}, {ID: 21, Txn: 2, Stored: 100, Raw: ChunkSize, Flags: chunkCompressed},
			{ID: 22, Txn: 3, Stored: ChunkSize, Raw: ChunkSize}, {ID: 40, Txn: 3, Stored: 5, Raw: 5}}},
		{owner: 0, treeKey: nil, length: 10, chunkSize: ChunkSize, embed: &chunkRef{Stored: 10, Raw: 10}, data: []byte("0123456789")},
		{owner: 2, treeKey: []byte("k"), length: 1000, chunkSize: ChunkSize, fullKey: []byte("full"), embed: &chunkRef{Stored: 20, Raw: 1000, Flags: chunkCompressed}, data: make([]byte, 20)},
	} {
		b := make([]byte, ct.bodySize())
		ct.encode(b)
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		ct, err := decodeChunkTable(9, b)
		if err != nil {
			var ce *page.CorruptError
			if !errors.As(err, &ce) || ce.ID != 9 {
				t.Fatalf("error not naming the page: %v", err)
			}
			return
		}
		out := make([]byte, ct.bodySize())
		ct.encode(out)
		if !bytes.Equal(out, b[:len(out)]) {
			t.Fatalf("re-encoding differs")
		}
	})
}

// TestRanges: GetRange, WriteRange and Append agree with a byte-slice
// model on inline, embedded and chunked values, and touch only the chunks
// they cover (counted with Stats.OverflowReads and OverflowWrites).
func TestRanges(t *testing.T) {
	db := openTemp(t, nil)
	r := rand.New(rand.NewPCG(9, 9))
	model := map[string][]byte{
		"inline":   randBytes(r, 100),
		"embedded": textBytes(r, ChunkSize/2),
		"chunked":  randBytes(r, 20*ChunkSize+123),
	}
	for k, v := range model {
		putOne(t, db, k, v)
	}
	update := func(fn func(tb *Table) error) {
		t.Helper()
		if err := db.Update(func(tx *Tx) error { return fn(tx.Table(0)) }); err != nil {
			t.Fatal(err)
		}
	}
	counts := func() (uint64, uint64) { s := db.Stats(); return s.OverflowReads, s.OverflowWrites }
	for i := 0; i < 300; i++ {
		keys := []string{"inline", "embedded", "chunked"}
		k := keys[r.IntN(len(keys))]
		cur := model[k]
		n := uint64(r.IntN(3 * ChunkSize))
		if r.IntN(2) == 0 {
			n = uint64(r.IntN(100))
		}
		off := uint64(r.IntN(len(cur) + 2*ChunkSize))
		if r.IntN(3) > 0 {
			off = uint64(r.IntN(len(cur) + 1))
		}
		switch r.IntN(3) {
		case 0:
			var got Tuple
			db.View(func(tx *Tx) error { got, _, _ = tx.Table(0).GetRange([]byte(k), off, n); return nil })
			lo := min(off, uint64(len(cur)))
			want := cur[lo : lo+min(n, uint64(len(cur))-lo)]
			if !bytes.Equal(got.Value, want) || got.Len != uint64(len(cur)) {
				t.Fatalf("%s GetRange(%d, %d): %d bytes, want %d", k, off, n, len(got.Value), len(want))
			}
		case 1:
			data := randBytes(r, int(n))
			update(func(tb *Table) error { _, _, err := tb.WriteRange([]byte(k), off, data); return err })
			if len(data) > 0 {
				if need := off + n; need > uint64(len(cur)) {
					cur = append(cur, make([]byte, need-uint64(len(cur)))...)
				}
				copy(cur[off:], data)
			}
		case 2:
			data := textBytes(r, int(n/4))
			var tu Tuple
			update(func(tb *Table) error { var err error; tu, _, err = tb.Append([]byte(k), data); return err })
			cur = append(cur, data...)
			if tu.Len != uint64(len(cur)) {
				t.Fatalf("Append returned length %d, want %d", tu.Len, len(cur))
			}
		}
		model[k] = cur
		if i%50 == 0 {
			for k, v := range model {
				if got := getOne(t, db, k); !bytes.Equal(got, v) {
					t.Fatalf("after %d ops %s differs (%d bytes, want %d)", i, k, len(got), len(v))
				}
			}
			mustCheck(t, db)
		}
	}
	// Touched chunks only: a value of 40 chunks.
	big := randBytes(r, 40*ChunkSize)
	putOne(t, db, "big", big)
	r0, w0 := counts()
	db.View(func(tx *Tx) error { _, _, err := tx.Table(0).GetRange([]byte("big"), 5*ChunkSize+10, 100); return err })
	r1, w1 := counts()
	if r1-r0 != 2 || w1 != w0 {
		t.Fatalf("GetRange within one chunk read %d runs, wrote %d (want 2 reads: table and chunk)", r1-r0, w1-w0)
	}
	update(func(tb *Table) error {
		_, _, err := tb.WriteRange([]byte("big"), 7*ChunkSize-5, make([]byte, 10))
		return err
	})
	r2, w2 := counts()
	if r2-r1 != 3 || w2-w1 != 3 {
		t.Fatalf("WriteRange over two chunks read %d runs, wrote %d (want 3 and 3)", r2-r1, w2-w1)
	}
	update(func(tb *Table) error { _, _, err := tb.Append([]byte("big"), []byte("tail")); return err })
	r3, w3 := counts()
	if r3-r2 != 1 || w3-w2 != 2 {
		t.Fatalf("Append after a full chunk read %d runs, wrote %d (want the table; a new chunk and the table)", r3-r2, w3-w2)
	}
	update(func(tb *Table) error { _, _, err := tb.Append([]byte("big"), []byte("more")); return err })
	if r4, w4 := counts(); r4-r3 != 2 || w4-w3 != 2 {
		t.Fatalf("Append to a partial chunk read %d runs, wrote %d (want table and last chunk; both rewritten)", r4-r3, w4-w3)
	}
	r3, _ = counts()
	var meta Tuple
	db.View(func(tx *Tx) error { meta, _, _ = tx.Table(0).GetMeta([]byte("big")); return nil })
	if r4, _ := counts(); r4 != r3 || meta.Len != 40*ChunkSize+8 {
		t.Fatalf("GetMeta read %d runs, Len %d", r4-r3, meta.Len)
	}
	mustCheck(t, db)
}

// TestLongKeys: keys past KeyPrefixSize sharing their first
// KeyPrefixSize bytes are distinct tuples, each found as itself; a third
// with the same prefix is absent; cursors return whole keys; expiry, range
// writes and deletes work on them; Check verifies the whole keys.
func TestLongKeys(t *testing.T) {
	db := openTemp(t, nil)
	prefix := bytes.Repeat([]byte("p"), KeyPrefixSize)
	a := append(append([]byte(nil), prefix...), "-a"...)
	b := append(append([]byte(nil), prefix...), "-b"...)
	c := append(append([]byte(nil), prefix...), "-c"...)
	huge := append(append([]byte(nil), prefix...), bytes.Repeat([]byte("h"), 3*ChunkSize)...)
	short := []byte("short")
	err := db.Update(func(tx *Tx) error {
		tb := tx.Table(0)
		for i, k := range [][]byte{a, b, huge, short} {
			if _, err := tb.Put(k, bytes.Repeat([]byte{byte('0' + i)}, 10+i*ChunkSize), TypeString, 0); err != nil {
				return err
			}
		}
		if _, err := tb.Put(b, []byte("v-b"), TypeString, 1); err != nil { // expires
			return err
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	err = db.View(func(tx *Tx) error {
		tb := tx.Table(0)
		if tu, ok, err := tb.Get(a); err != nil || !ok || len(tu.Value) != 10 || tu.Value[0] != '0' {
			return fmt.Errorf("Get(a): %v %v %d", ok, err, len(tu.Value))
		}
		if tu, ok, err := tb.Get(b); err != nil || !ok || string(tu.Value) != "v-b" {
			return fmt.Errorf("Get(b): %v %v %q", ok, err, tu.Value)
		}
		if _, ok, err := tb.Get(c); err != nil || ok {
			return fmt.Errorf("Get(c) of a key never stored: %v %v", ok, err)
		}
		if tu, ok, err := tb.GetMeta(huge); err != nil || !ok || tu.Len != 10+2*ChunkSize {
			return fmt.Errorf("GetMeta(huge): %v %v %d", ok, err, tu.Len)
		}
		got := map[string]bool{}
		cur := tb.Cursor()
		for ok := cur.First(); ok; ok = cur.Next() {
			got[string(cur.Key())] = true
			if tu := cur.Tuple(); !bytes.Equal(tu.Key, cur.Key()) {
				return fmt.Errorf("cursor Tuple key differs from Key")
			}
		}
		if cur.Err() != nil || len(got) != 4 || !got[string(a)] || !got[string(b)] || !got[string(huge)] || !got["short"] {
			return fmt.Errorf("cursor keys: %d (%v)", len(got), cur.Err())
		}
		if !cur.Seek(a) || !bytes.Equal(cur.Key(), a) {
			return fmt.Errorf("Seek(a) lands on %.20q", cur.Key())
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	err = db.Update(func(tx *Tx) error {
		tb := tx.Table(0)
		if ok, err := tb.Delete(c); err != nil || ok {
			return fmt.Errorf("Delete(c): %v %v", ok, err)
		}
		if _, ok, err := tb.Append(huge, []byte("!")); err != nil || !ok {
			return fmt.Errorf("Append(huge): %v %v", ok, err)
		}
		keys, err := tb.ExpireDue(2, 10)
		if err != nil || len(keys) != 1 || !bytes.Equal(keys[0], b) {
			return fmt.Errorf("ExpireDue: %d keys, %v", len(keys), err)
		}
		if tu, ok, err := tb.GetRange(huge, 10+2*ChunkSize, 5); err != nil || !ok || string(tu.Value) != "!" {
			return fmt.Errorf("GetRange(huge) after Append: %q %v %v", tu.Value, ok, err)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if r := mustCheck(t, db); r.Tuples != 3 {
		t.Fatalf("check: %d tuples", r.Tuples)
	}
	n := uint64(MaxKeySize) + 1
	if testing.Short() || n > math.MaxInt {
		return // 4 GiB of address space, or more than this platform's int
	}
	tooLong := make([]byte, int(n))
	err = db.Update(func(tx *Tx) error { _, err := tx.Table(0).Put(tooLong, nil, TypeString, 0); return err })
	if !errors.Is(err, ErrKeyTooLarge) {
		t.Fatalf("key of %d bytes: %v", len(tooLong), err)
	}
}

// TestLargeValueMemory: Get of a large value allocates about one copy of
// it (chunks decode straight into the result, one run buffer reused), and
// Put allocates a small fraction of it (chunks are sealed in one reused
// buffer), measured with the runtime's allocation counter.
func TestLargeValueMemory(t *testing.T) {
	db := openTemp(t, nil)
	size := 64 << 20
	if testing.Short() {
		size = 16 << 20
	}
	r := rand.New(rand.NewPCG(5, 5))
	v := randBytes(r, size)
	allocs := func(fn func()) uint64 {
		var a, b runtime.MemStats
		runtime.ReadMemStats(&a)
		fn()
		runtime.ReadMemStats(&b)
		return b.TotalAlloc - a.TotalAlloc
	}
	put := allocs(func() { putOne(t, db, "big", v) })
	var got []byte
	get := allocs(func() { got = getOne(t, db, "big") })
	if !bytes.Equal(got, v) {
		t.Fatal("read back wrong")
	}
	t.Logf("%d MiB value: Put allocated %d KiB, Get %d KiB", size>>20, put>>10, get>>10)
	if put > uint64(size)/8 {
		t.Fatalf("Put of %d bytes allocated %d", size, put)
	}
	if get > uint64(size)+uint64(size)/16 {
		t.Fatalf("Get of %d bytes allocated %d", size, get)
	}
}

// TestRelocateChunks: deleting the large values written first leaves the
// last one high in the file; idle relocation moves its chunks and chunk
// table down (rewriting the table for each moved chunk) until the file is
// about one value long.
func TestRelocateChunks(t *testing.T) {
	for _, swap := range []bool{false, true} {
		t.Run(fmt.Sprint("swapped=", swap), func(t *testing.T) { relocateChunks(t, swap) })
	}
}

// relocateChunks is TestRelocateChunks; with swap the values move to
// table 1 by SwapTables first, so their runs name table 0.
func relocateChunks(t *testing.T, swap bool) {
	db := openTemp(t, &Options{Durability: Everysec})
	r := rand.New(rand.NewPCG(8, 8))
	const n = 12
	vals := make([][]byte, n)
	for i := range vals {
		vals[i] = randBytes(r, 1<<20)
		putOne(t, db, fmt.Sprint("v", i), vals[i])
	}
	idle(t, db)
	full := fileSize(t, db)
	tn := uint32(0)
	if swap {
		tn = 1
		if err := db.Update(func(tx *Tx) error { return tx.SwapTables(0, 1) }); err != nil {
			t.Fatal(err)
		}
	}
	if err := db.Update(func(tx *Tx) error {
		for i := 0; i < n-1; i++ {
			if _, err := tx.Table(tn).Delete([]byte(fmt.Sprint("v", i))); err != nil {
				return err
			}
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	w0, r0 := db.Stats().OverflowWrites, db.Stats().OverflowReads
	for i := 0; i < 40 && fileSize(t, db) > 3<<20; i++ {
		idle(t, db)
	}
	// The value has 17 chunks: each moves once, and its chunk table is
	// written, and read, once per relocation step, not once per chunk.
	w, rd := db.Stats().OverflowWrites-w0, db.Stats().OverflowReads-r0
	t.Logf("relocation read %d and wrote %d overflow runs", rd, w)
	if w > 17+6 {
		t.Fatalf("relocation wrote %d overflow runs to move a value of 17 chunks", w)
	}
	if rd > 17+6 {
		t.Fatalf("relocation read %d overflow runs to move a value of 17 chunks", rd)
	}
	sz := fileSize(t, db)
	t.Logf("file %d bytes with %d values, %d after deleting all but the last", full, n, sz)
	if sz > 3<<20 {
		t.Fatalf("file still %d bytes holding one 1 MiB value", sz)
	}
	var got []byte
	db.View(func(tx *Tx) error {
		tu, _, err := tx.Table(tn).Get([]byte(fmt.Sprint("v", n-1)))
		got = tu.Value
		return err
	})
	if !bytes.Equal(got, vals[n-1]) {
		t.Fatal("relocated value reads back wrong")
	}
	mustCheck(t, db)
}

// TestOlderFormatRefused: a file whose metas carry format version 1 (one
// overflow run per value) is refused with ErrOlderFormat.
func TestOlderFormatRefused(t *testing.T) {
	dir := t.TempDir()
	db, err := Open(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	db.Close()
	setFormatVersion(t, dir, 1)
	if db, err = Open(dir, nil); err == nil {
		db.Close()
		t.Fatal("a version 1 file opened")
	}
	if !errors.Is(err, page.ErrOlderFormat) {
		t.Fatalf("older format: %v", err)
	}
}

// TestRangeAfterSwap: after SwapTables a large value's runs name the
// table it came from; a range write in its new table mixes runs naming
// either, and the value still reads back and passes Check.
func TestRangeAfterSwap(t *testing.T) {
	db := openTemp(t, nil)
	r := rand.New(rand.NewPCG(4, 4))
	v := randBytes(r, 5*ChunkSize)
	putOne(t, db, "big", v)
	err := db.Update(func(tx *Tx) error {
		if err := tx.SwapTables(0, 1); err != nil {
			return err
		}
		_, _, err := tx.Table(1).WriteRange([]byte("big"), 2*ChunkSize, []byte("patch"))
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	copy(v[2*ChunkSize:], "patch")
	var got []byte
	db.View(func(tx *Tx) error {
		tu, _, err := tx.Table(1).Get([]byte("big"))
		got = tu.Value
		return err
	})
	if !bytes.Equal(got, v) {
		t.Fatal("value differs after swap and range write")
	}
	mustCheck(t, db)
}

// BenchmarkLargeValue puts and gets a 16 MiB value, random or text.
func BenchmarkLargeValue(b *testing.B) {
	r := rand.New(rand.NewPCG(6, 6))
	for _, kind := range []string{"random", "text"} {
		v := randBytes(r, 16<<20)
		if kind == "text" {
			v = textBytes(r, 16<<20)
		}
		db, err := Open(b.TempDir(), &Options{Durability: No})
		if err != nil {
			b.Fatal(err)
		}
		put := func() {
			if err := db.Update(func(tx *Tx) error { _, err := tx.Table(0).Put([]byte("k"), v, TypeString, 0); return err }); err != nil {
				b.Fatal(err)
			}
		}
		b.Run("put/"+kind, func(b *testing.B) {
			b.SetBytes(int64(len(v)))
			for i := 0; i < b.N; i++ {
				put()
			}
		})
		b.Run("get/"+kind, func(b *testing.B) {
			b.SetBytes(int64(len(v)))
			for i := 0; i < b.N; i++ {
				db.View(func(tx *Tx) error { _, _, err := tx.Table(0).Get([]byte("k")); return err })
			}
		})
		b.Run("getrange-4KiB/"+kind, func(b *testing.B) {
			for i := 0; i < b.N; i++ {
				db.View(func(tx *Tx) error {
					_, _, err := tx.Table(0).GetRange([]byte("k"), uint64(i*7919)%(16<<20), 4096)
					return err
				})
			}
		})
		b.Run("setrange-16B/"+kind, func(b *testing.B) {
			for i := 0; i < b.N; i++ {
				db.Update(func(tx *Tx) error {
					_, _, err := tx.Table(0).WriteRange([]byte("k"), uint64(i*7919)%(16<<20), []byte("0123456789abcdef"))
					return err
				})
			}
		})
		db.Close()
	}
}

// TestCursorTupleLongKeyReadsOnce: a cursor's Tuple of a long key reads its
// chunk table once, for the key and the value.
func TestCursorTupleLongKeyReadsOnce(t *testing.T) {
	db := openTemp(t, nil)
	const n = 10
	for i := 0; i < n; i++ {
		putOne(t, db, fmt.Sprintf("%0300d", i), []byte(fmt.Sprintf("value-%d", i)))
	}
	before := db.Stats().OverflowReads
	// Keys sharing their first KeyPrefixSize bytes come in SHA-256 order.
	seen := map[string]bool{}
	if err := db.View(func(tx *Tx) error {
		c := tx.Table(0).Cursor()
		for ok := c.First(); ok; ok = c.Next() {
			tu := c.Tuple()
			var i int
			if _, err := fmt.Sscanf(string(tu.Key), "%d", &i); err != nil || string(tu.Value) != fmt.Sprintf("value-%d", i) || seen[string(tu.Key)] {
				t.Fatalf("tuple %d: key %.20q… value %q", len(seen), tu.Key, tu.Value)
			}
			seen[string(tu.Key)] = true
		}
		return c.Err()
	}); err != nil {
		t.Fatal(err)
	}
	if got := len(seen); got != n {
		t.Fatalf("scanned %d tuples, want %d", got, n)
	}
	if reads := db.Stats().OverflowReads - before; reads != n {
		t.Fatalf("%d overflow reads for %d long-key tuples, want one each", reads, n)
	}
}

// TestCursorKeyValue: KeyValue gives what Tuple gives for every shape of
// tuple: short and long keys, empty, inline and overflow values.
func TestCursorKeyValue(t *testing.T) {
	db := openTemp(t, nil)
	want := map[string]string{}
	for i, kl := range []int{1, 16, KeyPrefixSize, KeyPrefixSize + 1, 600} {
		for j, vl := range []int{0, 10, 1000, 5000} {
			k := fmt.Sprintf("%d-%d-", i, j)
			k += strings.Repeat("k", max(kl-len(k), 0))
			v := strings.Repeat(string(rune('a'+j)), vl)
			putOne(t, db, k, []byte(v))
			want[k] = v
		}
	}
	n := 0
	if err := db.View(func(tx *Tx) error {
		c := tx.Table(0).Cursor()
		for ok := c.First(); ok; ok = c.Next() {
			k, v := c.KeyValue()
			tu := c.Tuple()
			if !bytes.Equal(k, tu.Key) || !bytes.Equal(v, tu.Value) || want[string(k)] != string(v) {
				t.Fatalf("KeyValue %.30q (%d bytes), Tuple %.30q (%d bytes)", k, len(v), tu.Key, len(tu.Value))
			}
			n++
		}
		return c.Err()
	}); err != nil {
		t.Fatal(err)
	}
	if n != len(want) {
		t.Fatalf("scanned %d, want %d", n, len(want))
	}
}
