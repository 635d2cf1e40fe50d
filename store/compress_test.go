package store

import (
	"bytes"
	"errors"
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/digby-db/digby/btree"
	"github.com/digby-db/digby/page"
)

// compressCase is a value and whether the store must keep it compressed in
// its leaf.
type compressCase struct {
	key        string
	val        []byte
	compressed bool
}

func compressCases() []compressCase {
	r := rand.New(rand.NewPCG(7, 7))
	return []compressCase{
		{"short", bytes.Repeat([]byte("x"), minCompress-1), false},
		{"least", bytes.Repeat([]byte("x"), minCompress), true},
		{"kib", bytes.Repeat([]byte("x"), 1024), true},
		{"text", textBytes(r, 1500), true},
		{"phrases", bytes.Repeat([]byte("a phrase said again and again "), 100), true}, // past InlineMax raw
		{"largest", bytes.Repeat([]byte("y"), maxCompressRaw), true},
		{"past", bytes.Repeat([]byte("y"), maxCompressRaw+1), false}, // chunks
		{"random", randBytes(r, 500), false},
		{"random-long", randBytes(r, 3000), false},
	}
}

// compressedKeys lists table 0's keys whose leaf entries are compressed.
func compressedKeys(t *testing.T, db *DB) map[string]bool {
	t.Helper()
	got := map[string]bool{}
	err := db.View(func(tx *Tx) error {
		c := tx.Table(0).Cursor()
		for ok := c.First(); ok; ok = c.Next() {
			if c.c.RawValue().Compressed {
				got[string(c.Key())] = true
			}
		}
		return c.Err()
	})
	if err != nil {
		t.Fatal(err)
	}
	return got
}

// verifyCompressCases reads every case back through each read path.
func verifyCompressCases(t *testing.T, db *DB, cases []compressCase, compress bool) {
	t.Helper()
	err := db.View(func(tx *Tx) error {
		tb := tx.Table(0)
		for _, c := range cases {
			k := []byte(c.key)
			tu, ok, err := tb.Get(k)
			if err != nil || !ok || !bytes.Equal(tu.Value, c.val) || tu.Len != uint64(len(c.val)) {
				return fmt.Errorf("%s: Get: ok %v, %d bytes (Len %d), want %d: %v", c.key, ok, len(tu.Value), tu.Len, len(c.val), err)
			}
			m, ok, err := tb.GetMeta(k)
			if err != nil || !ok || m.Len != uint64(len(c.val)) || m.Value != nil {
				return fmt.Errorf("%s: GetMeta: Len %d, want %d: %v", c.key, m.Len, len(c.val), err)
			}
			off := uint64(len(c.val) / 3)
			rg, ok, err := tb.GetRange(k, off, 10)
			if err != nil || !ok || !bytes.Equal(rg.Value, c.val[off:off+10]) || rg.Len != uint64(len(c.val)) {
				return fmt.Errorf("%s: GetRange: %q, want %q: %v", c.key, rg.Value, c.val[off:off+10], err)
			}
			cur := tb.Cursor()
			if !cur.Seek(k) {
				return fmt.Errorf("%s: Seek: %v", c.key, cur.Err())
			}
			if tu := cur.Tuple(); !bytes.Equal(tu.Value, c.val) {
				return fmt.Errorf("%s: cursor Tuple differs", c.key)
			}
			if mt := cur.Meta(); mt.Len != uint64(len(c.val)) {
				return fmt.Errorf("%s: cursor Meta: Len %d, want %d", c.key, mt.Len, len(c.val))
			}
			if ck, cv := cur.KeyValue(); string(ck) != c.key || !bytes.Equal(cv, c.val) {
				return fmt.Errorf("%s: cursor KeyValue differs", c.key)
			}
			if err := cur.Err(); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	got := compressedKeys(t, db)
	for _, c := range cases {
		if want := c.compressed && compress; got[c.key] != want {
			t.Errorf("%s (%d bytes): compressed in its leaf %v, want %v", c.key, len(c.val), got[c.key], want)
		}
	}
}

// TestCompressedValues stores values on both sides of every bound of inline
// compression (the shortest, the longest, those that do not compress) and
// reads them through every read path, before and after a reopen, with
// compression on and off; range writes, appends and expiry changes of a
// compressed value keep it whole.
func TestCompressedValues(t *testing.T) {
	for _, off := range []bool{false, true} {
		t.Run(fmt.Sprintf("nocompression=%v", off), func(t *testing.T) {
			dir := t.TempDir()
			opts := &Options{NoCompression: off}
			db, err := Open(dir, opts)
			if err != nil {
				t.Fatal(err)
			}
			cases := compressCases()
			err = db.Update(func(tx *Tx) error {
				for _, c := range cases {
					tx.w.db.cstate = compressState{} // each tried (TestCompressBackoff)
					if err := putString(tx, 0, []byte(c.key), c.val); err != nil {
						return err
					}
				}
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
			verifyCompressCases(t, db, cases, !off)
			mustCheck(t, db)

			// Changes of a compressed value: an append, a range write
			// (both rewrite it, compressed again), an expiry (its
			// header rewritten, the stored form kept).
			err = db.Update(func(tx *Tx) error {
				tb := tx.Table(0)
				tx.w.db.cstate = compressState{}
				if _, _, err := tb.Append([]byte("kib"), []byte("tail")); err != nil {
					return err
				}
				tx.w.db.cstate = compressState{}
				if _, _, err := tb.WriteRange([]byte("least"), 10, []byte("mid")); err != nil {
					return err
				}
				_, err := tb.SetExpire([]byte("text"), time.Now().Add(time.Hour).UnixMilli())
				return err
			})
			if err != nil {
				t.Fatal(err)
			}
			cases[2].val = append(cases[2].val, "tail"...)
			copy(cases[1].val[10:], "mid")
			verifyCompressCases(t, db, cases, !off)
			if err := db.Close(); err != nil {
				t.Fatal(err)
			}
			db, err = Open(dir, opts)
			if err != nil {
				t.Fatal(err)
			}
			defer db.Close()
			verifyCompressCases(t, db, cases, !off)
			mustCheck(t, db)
		})
	}
}

// TestCompressedValuesLogged: compressed values reach the commit log in
// their stored form, and a replay stores them as they were.
func TestCompressedValuesLogged(t *testing.T) {
	db, err := Open(t.TempDir(), logOpts(nil))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	m := model{}
	cases := compressCases()
	for _, c := range cases {
		if err := db.Update(func(tx *Tx) error { return putModel(tx, m, 0, c.key, c.val, 0) }); err != nil {
			t.Fatal(err)
		}
	}
	dir := snapshotFiles(t, db)
	if rec := reopenVerify(t, dir, logOpts(nil), m); rec == "" {
		t.Fatal("nothing was replayed: the writes were not in the log")
	}
	// Reopened with compression off: the replay must have stored the
	// records' compressed form as it was (kind 4), not compressed again.
	o := logOpts(nil)
	o.NoCompression = true
	c, err := Open(dir, o)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	verifyCompressCases(t, c, cases, true)
}

// TestCompressedValueCorrupt: a compressed value that does not decode
// (a writer's bug, or a forged page whose checksum holds) is an error
// naming the key on every read path and the leaf in Check, never a panic
// or wrong bytes.
func TestCompressedValueCorrupt(t *testing.T) {
	good, err := func() ([]byte, error) {
		db := openTemp(t, nil)
		var b []byte
		err := db.Update(func(tx *Tx) error {
			c, ok := tx.w.compressInline(bytes.Repeat([]byte("ab"), 100))
			if !ok {
				return errors.New("200 bytes of a repeated pair did not compress")
			}
			b = append(b, c...)
			return nil
		})
		return b, err
	}()
	if err != nil {
		t.Fatal(err)
	}
	bad := map[string][]byte{
		"no header":     {0x80},
		"zero length":   append([]byte{0}, good[2:]...),
		"long length":   append([]byte{0x81, 0x80, 0x04}, good[2:]...), // past maxCompressRaw
		"wrong length":  append([]byte{201, 1}, good[2:]...),
		"truncated":     good[:len(good)-3],
		"garbage block": append(append([]byte(nil), good[:2]...), 0xff, 0xff, 0xff, 0xff),
	}
	for name, stored := range bad {
		t.Run(name, func(t *testing.T) {
			db := openTemp(t, nil)
			key := []byte("k")
			err := db.Update(func(tx *Tx) error {
				tb := tx.Table(0)
				if err := putString(tx, 0, key, []byte("placeholder")); err != nil {
					return err
				}
				s, err := tx.writeState(0)
				if err != nil {
					return err
				}
				m, _ := tb.trees(*s)
				if _, _, err := m.Put(treeKey(key), btree.Value{Type: TypeString, Version: 1, Data: stored, Compressed: true}); err != nil {
					return err
				}
				s.root = m.Root
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
			reads := map[string]func(tb *Table) error{
				"Get":      func(tb *Table) error { _, _, err := tb.Get(key); return err },
				"GetRange": func(tb *Table) error { _, _, err := tb.GetRange(key, 0, 1); return err },
				"Tuple": func(tb *Table) error {
					c := tb.Cursor()
					c.First()
					if tu := c.Tuple(); tu.Value != nil || tu.Len != 0 {
						return fmt.Errorf("Tuple gave %d bytes (Len %d) of a value that does not decode: %w", len(tu.Value), tu.Len, c.Err())
					}
					return c.Err()
				},
				"KeyValue": func(tb *Table) error { c := tb.Cursor(); c.First(); c.KeyValue(); return c.Err() },
			}
			if name == "no header" || name == "zero length" || name == "long length" {
				reads["GetMeta"] = func(tb *Table) error { _, _, err := tb.GetMeta(key); return err }
				reads["Meta"] = func(tb *Table) error { c := tb.Cursor(); c.First(); c.Meta(); return c.Err() }
			}
			for rn, read := range reads {
				err := db.View(func(tx *Tx) error { return read(tx.Table(0)) })
				if !errors.Is(err, ErrCorrupt) || !bytes.Contains([]byte(err.Error()), []byte(`key "k"`)) {
					t.Errorf("%s: %v, want ErrCorrupt naming the key", rn, err)
				}
			}
			err = db.Update(func(tx *Tx) error { _, _, err := tx.Table(0).Append(key, []byte("x")); return err })
			if !errors.Is(err, ErrCorrupt) {
				t.Errorf("Append: %v, want ErrCorrupt", err)
			}
			_, err = db.Check()
			var ce *page.CorruptError
			if !errors.As(err, &ce) || ce.ID < 2 {
				t.Errorf("Check: %v, want a corrupt leaf named", err)
			}
		})
	}
}

// TestCompressedTooLargeRefused: the tree refuses a compressed value it
// would have to put in overflow, where its flag cannot go.
func TestCompressedTooLargeRefused(t *testing.T) {
	db := openTemp(t, nil)
	err := db.Update(func(tx *Tx) error {
		s, err := tx.writeState(0)
		if err != nil {
			return err
		}
		m, _ := tx.Table(0).trees(*s)
		_, _, err = m.Put([]byte("k"), btree.Value{Data: make([]byte, btree.InlineMax(db.usable())+1), Compressed: true})
		if !errors.Is(err, btree.ErrCompressedTooLarge) {
			return fmt.Errorf("Put: got %v, want ErrCompressedTooLarge", err)
		}
		_, _, err = m.PutValue([]byte("k"), btree.Value{Ovf: page.Ref{ID: 9, Txn: 1, Pages: 1}, Len: 100, Compressed: true})
		if !errors.Is(err, btree.ErrCompressedTooLarge) {
			return fmt.Errorf("PutValue in overflow: got %v, want ErrCompressedTooLarge", err)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// TestOlderFormatOpens: a file of format version 2 (no compressed values)
// opens, and its next flush writes the current version.
func TestOlderFormatOpens(t *testing.T) {
	dir := t.TempDir()
	db, err := Open(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	putOne(t, db, "a", []byte("b"))
	db.Close()
	setFormatVersion(t, dir, 2)
	db, err = Open(dir, nil)
	if err != nil {
		t.Fatalf("a version 2 file: %v", err)
	}
	putOne(t, db, "c", bytes.Repeat([]byte("d"), 100))
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	for slot := uint64(0); slot < 2; slot++ {
		m, err := page.PlainCodec().DecodeMeta(readPageBytes(t, DataPath(dir), slot, 1), slot, page.MinPageSize)
		if err == nil && m.Version == page.FormatVersion {
			return
		}
	}
	t.Fatalf("no meta of version %d after a flush", page.FormatVersion)
}

// FuzzDecodeCompressed feeds arbitrary stored forms to the decoder: an
// error or the value, never a panic, and never a value of another length
// than its header says.
func FuzzDecodeCompressed(f *testing.F) {
	f.Add([]byte{64, 0x1f, 'x', 1, 0, 0x2b, 0x50, 'x', 'x', 'x', 'x', 'x'})
	f.Add([]byte{0x80})
	f.Fuzz(func(t *testing.T, b []byte) {
		v, err := decodeCompressed(b)
		if err != nil {
			if !errors.Is(err, ErrCorrupt) {
				t.Fatalf("error not ErrCorrupt: %v", err)
			}
			return
		}
		n, _, err := compressedLen(b)
		if err != nil || uint64(len(v)) != n {
			t.Fatalf("decoded %d bytes, header says %d (%v)", len(v), n, err)
		}
	})
}

// BenchmarkCompressInline measures a put's compression pass over 1 KiB
// values: one redis-benchmark sends (random printable bytes, which do not
// compress), and text that does.
func BenchmarkCompressInline(b *testing.B) {
	r := rand.New(rand.NewPCG(1, 1))
	printable := make([]byte, 1024)
	for i := range printable {
		printable[i] = byte('0' + r.IntN(75))
	}
	for _, c := range []struct {
		name string
		v    []byte
	}{{"printable", printable}, {"text", textBytes(r, 1024)}} {
		b.Run(c.name, func(b *testing.B) {
			db := openTemp(b, nil)
			db.Update(func(tx *Tx) error {
				b.SetBytes(int64(len(c.v)))
				for i := 0; i < b.N; i++ {
					tx.w.compressInline(c.v)
				}
				return nil
			})
		})
	}
}

// TestCompressBackoff: a stream of values that do not compress is tried
// about one value in 2^compressBackoff; once values compress again, one
// is compressed within that many, and every one after it.
func TestCompressBackoff(t *testing.T) {
	db := openTemp(t, nil)
	r := rand.New(rand.NewPCG(3, 3))
	err := db.Update(func(tx *Tx) error {
		w := tx.w
		compressible := bytes.Repeat([]byte("abc"), 100)
		for i := 0; i < 100; i++ {
			if _, ok := w.compressInline(compressible); !ok {
				return fmt.Errorf("compressible value %d of a stream not compressed", i)
			}
		}
		tries := 0
		const n = 3200
		for i := 0; i < n; i++ {
			if w.db.cstate.skip == 0 {
				tries++
			}
			if _, ok := w.compressInline(randBytes(r, 300)); ok {
				return fmt.Errorf("random value %d compressed", i)
			}
		}
		if most := n>>compressBackoff + compressBackoff + 1; tries > most {
			return fmt.Errorf("%d random values tried %d times, want at most %d", n, tries, most)
		}
		if tries < n>>compressBackoff {
			return fmt.Errorf("%d random values tried only %d times", n, tries)
		}
		skipped := 0
		for ; skipped <= 1<<compressBackoff; skipped++ {
			if _, ok := w.compressInline(compressible); ok {
				break
			}
		}
		if skipped >= 1<<compressBackoff {
			return fmt.Errorf("%d compressible values skipped after the random stream", skipped)
		}
		for i := 0; i < 100; i++ {
			if _, ok := w.compressInline(compressible); !ok {
				return fmt.Errorf("compressible value %d after the first not compressed", i)
			}
		}
		// The streak ended: one value that does not compress skips one.
		w.compressInline(randBytes(r, 300))
		w.compressInline(compressible)
		if _, ok := w.compressInline(compressible); !ok {
			return errors.New("one random value after a compressible streak skipped more than one")
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}
