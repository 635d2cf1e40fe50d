package store

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"sort"
	"testing"

	"github.com/cespare/xxhash/v2"
)

// long reports whether the long test forms run (DIGBY_LONG=1).
func long() bool { return os.Getenv("DIGBY_LONG") == "1" }

type modelVal struct {
	val []byte
	exp int64
}

type model map[uint32]map[string]modelVal

func (m model) table(n uint32) map[string]modelVal {
	if m[n] == nil {
		m[n] = map[string]modelVal{}
	}
	return m[n]
}

func (m model) clone() model {
	c := model{}
	for n, t := range m {
		c[n] = map[string]modelVal{}
		for k, v := range t {
			c[n][k] = v
		}
	}
	return c
}

func randKey(r *rand.Rand, space int) []byte {
	switch r.IntN(20) {
	case 0:
		return []byte{}
	case 1:
		return bytes.Repeat([]byte{byte('a' + r.IntN(3))}, 1+r.IntN(KeyPrefixSize))
	case 2:
		// Long keys, many sharing their first KeyPrefixSize bytes.
		k := bytes.Repeat([]byte{byte('a' + r.IntN(2))}, KeyPrefixSize+1+r.IntN(300))
		k[len(k)-1] = byte('0' + r.IntN(space%7+3))
		if r.IntN(8) == 0 {
			k = append(k, bytes.Repeat([]byte("x"), 70000+r.IntN(1000))...) // a key longer than a chunk
		}
		return k
	}
	return []byte(fmt.Sprintf("key-%05d", r.IntN(space)))
}

func randVal(r *rand.Rand, ps int) []byte {
	n := r.IntN(40)
	switch r.IntN(60) {
	case 59:
		// Chunked: several chunks, the last partial; compressible or not.
		n = ChunkSize + r.IntN(3*ChunkSize)
		if r.IntN(2) == 0 {
			return textBytes(r, n)
		}
		return randBytes(r, n)
	case 58:
		return textBytes(r, ps/4+r.IntN(3*ps)) // embedded, compressible
	case 57, 56, 55:
		// Compressed in the leaf, or just short of what pays (or of
		// maxCompressRaw).
		return textBytes(r, minCompress-2+r.IntN(ps/4))
	case 54:
		return bytes.Repeat([]byte{byte(r.UintN(256))}, maxCompressRaw-2+r.IntN(4))
	}
	switch r.IntN(12) {
	case 0:
		n = 0
	case 1:
		n = ps/4 + r.IntN(3*ps) // past the inline threshold
	case 2:
		n = ps/4 - 2 + r.IntN(4)
	}
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(r.UintN(256))
	}
	return b
}

// putModel puts k = v (a string, expiring at exp) into table tn of tx and of m.
func putModel(tx *Tx, m model, tn uint32, k string, v []byte, exp int64) error {
	if _, err := tx.Table(tn).Put([]byte(k), v, TypeString, exp); err != nil {
		return err
	}
	m.table(tn)[k] = modelVal{val: v, exp: exp}
	return nil
}

// verify compares every table of db with the model.
func verify(t *testing.T, db *DB, m model) {
	t.Helper()
	err := db.View(func(tx *Tx) error {
		for n := uint32(0); n < 4; n++ {
			tb := tx.Table(n)
			want := m[n]
			if tb.Count() != uint64(len(want)) {
				return fmt.Errorf("table %d: count %d, model %d", n, tb.Count(), len(want))
			}
			keys := make([]string, 0, len(want))
			var exps uint64
			for k, v := range want {
				keys = append(keys, k)
				if v.exp != 0 {
					exps++
				}
			}
			if tb.Expires() != exps {
				return fmt.Errorf("table %d: expires %d, model %d", n, tb.Expires(), exps)
			}
			// Tree order: bytewise by tree key (long keys sharing a
			// prefix by their hash).
			sort.Slice(keys, func(i, j int) bool {
				return string(treeKey([]byte(keys[i]))) < string(treeKey([]byte(keys[j])))
			})
			for _, k := range keys {
				tu, ok, err := tb.Get([]byte(k))
				if err != nil || !ok || !bytes.Equal(tu.Value, want[k].val) {
					return fmt.Errorf("table %d: Get(%.40q, %d bytes): %v %v", n, k, len(k), ok, err)
				}
			}
			// Both cursors: Cursor, and ScanCursor (pages used in the
			// file's mapping).
			for _, c := range []*Cursor{tb.Cursor(), tb.ScanCursor()} {
				i := 0
				for ok := c.First(); ok; ok = c.Next() {
					tu := c.Tuple()
					if i >= len(keys) || string(tu.Key) != keys[i] {
						return fmt.Errorf("table %d: cursor key %q at %d", n, tu.Key, i)
					}
					if !bytes.Equal(tu.Value, want[keys[i]].val) || tu.ExpireAt != want[keys[i]].exp {
						return fmt.Errorf("table %d: key %q value mismatch", n, keys[i])
					}
					if k, v := c.KeyValue(); string(k) != keys[i] || !bytes.Equal(v, tu.Value) {
						return fmt.Errorf("table %d: KeyValue of %q disagrees with Tuple", n, keys[i])
					}
					i++
				}
				if c.Err() != nil {
					return c.Err()
				}
				if i != len(keys) {
					return fmt.Errorf("table %d: cursor saw %d of %d", n, i, len(keys))
				}
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

func mustCheck(t *testing.T, db *DB) CheckReport {
	t.Helper()
	r, err := db.Check()
	if err != nil {
		t.Fatalf("check: %v", err)
	}
	if r.Reachable+r.Free+r.Pending != r.Pages-2 {
		t.Fatalf("check: reachable %d + free %d + pending %d != %d pages", r.Reachable, r.Free, r.Pending, r.Pages-2)
	}
	return r
}

var errAbort = errors.New("abort")

func TestModel(t *testing.T) {
	seeds := 6
	ops := 1500
	if long() {
		seeds, ops = 60, 8000
	}
	// Plain, and encrypted with AES-128 (odd seeds) or AES-256 (even).
	for _, enc := range []bool{false, true} {
		for _, ps := range []int{4096, 65536} {
			for seed := 1; seed <= seeds; seed++ {
				key, name := testKey(seed, enc)
				t.Run(fmt.Sprintf("%s/ps%d/seed%d", name, ps, seed), func(t *testing.T) {
					runModel(t, ps, uint64(seed), ops, key)
				})
			}
		}
	}
}

// testKey is nil and "plain" unless enc; then a 16-byte (odd n) or
// 32-byte (even n) key derived from n, and the cipher's name.
func testKey(n int, enc bool) ([]byte, string) {
	if !enc {
		return nil, "plain"
	}
	key := make([]byte, 16+16*(1-n%2))
	for i := range key {
		key[i] = byte(n*31 + i)
	}
	return key, fmt.Sprintf("aes%d", len(key)*8)
}

func runModel(t *testing.T, ps int, seed uint64, ops int, key []byte) {
	runModelWith(t, &Options{PageSize: ps, CacheSize: int64(ps) * 64, Durability: Everysec, EncryptionKey: key}, ps, seed, ops)
}

// runModelWith runs the random workload of (wps, seed, ops) on a database
// opened with opts, verifying it against the model along the way, and
// returns a digest of the final contents (every tuple of tables 0-3 with
// its type, expiry and version). The workload depends only on wps, seed and
// ops, never on opts.
func runModelWith(t *testing.T, opts *Options, wps int, seed uint64, ops int) uint64 {
	ps := wps
	r := rand.New(rand.NewPCG(seed, uint64(ps)))
	dir := t.TempDir()
	db, err := Open(dir, opts)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { db.Close() }()
	m := model{}
	space := 20 + r.IntN(400)
	for i := 0; i < ops; {
		// One batch of submissions; some fail and must roll back alone.
		nsub := 1 + r.IntN(8)
		var pend []*Pending
		var expect []model
		cur := m.clone()
		for s := 0; s < nsub; s++ {
			nops := 1 + r.IntN(6)
			fail := r.IntN(6) == 0
			panics := r.IntN(2) == 0 // drawn here: the fn runs on the writer goroutine
			type op struct {
				kind  int
				table uint32
				key   []byte
				val   []byte
				exp   int64
				b     uint32
			}
			var list []op
			for j := 0; j < nops; j++ {
				o := op{kind: r.IntN(100), table: uint32(r.IntN(3)), key: randKey(r, space), val: randVal(r, ps)}
				if r.IntN(4) == 0 {
					o.exp = 1 + int64(r.IntN(1000))
				}
				o.b = uint32(r.IntN(4))
				list = append(list, o)
			}
			after := cur.clone()
			for _, o := range list {
				tb := after.table(o.table)
				switch {
				case o.kind < 6:
					// WriteRange at an offset that may cross chunks.
					if v, ok := tb[string(o.key)]; ok && len(o.val) > 0 {
						off := int(o.b) * (ChunkSize / 3)
						nv := append([]byte(nil), v.val...)
						if need := off + len(o.val); need > len(nv) {
							nv = append(nv, make([]byte, need-len(nv))...)
						}
						copy(nv[off:], o.val)
						tb[string(o.key)] = modelVal{nv, v.exp}
					}
				case o.kind < 55:
					tb[string(o.key)] = modelVal{o.val, o.exp}
				case o.kind < 85:
					delete(tb, string(o.key))
				case o.kind < 95:
					if v, ok := tb[string(o.key)]; ok {
						v.exp = o.exp
						tb[string(o.key)] = v
					}
				case o.kind < 98:
					after[o.table], after[o.b] = after[o.b], after[o.table]
				default:
					after[o.table] = nil
				}
			}
			if !fail {
				cur = after
			}
			i += nops
			pend = append(pend, db.Submit(func(tx *Tx) error {
				for _, o := range list {
					tb := tx.Table(o.table)
					var err error
					switch {
					case o.kind < 6:
						_, _, err = tb.WriteRange(o.key, uint64(o.b)*(ChunkSize/3), o.val)
					case o.kind < 55:
						_, err = tb.Put(o.key, o.val, TypeString, o.exp)
					case o.kind < 85:
						_, err = tb.Delete(o.key)
					case o.kind < 95:
						_, err = tb.SetExpire(o.key, o.exp)
					case o.kind < 98:
						err = tx.SwapTables(o.table, o.b)
					default:
						err = tx.ClearTable(o.table)
					}
					if err != nil {
						return err
					}
				}
				if fail {
					if panics {
						panic("injected")
					}
					return errAbort
				}
				return nil
			}))
			expect = append(expect, cur)
			_ = expect
		}
		for _, p := range pend {
			if err := p.Wait(); err != nil && !errors.Is(err, errAbort) && !bytes.Contains([]byte(err.Error()), []byte("injected")) {
				t.Fatal(err)
			}
		}
		m = cur
		switch r.IntN(30) {
		case 0:
			verify(t, db, m)
			mustCheck(t, db)
		case 1:
			db = closeReopen(t, db, dir, opts, m)
		case 2:
			if err := db.Flush(); err != nil {
				t.Fatal(err)
			}
		}
	}
	verify(t, db, m)
	mustCheck(t, db)
	db = closeReopen(t, db, dir, opts, m)
	mustCheck(t, db)
	return digest(t, db)
}

// digest hashes every tuple of tables 0-3 in order.
func digest(t *testing.T, db *DB) uint64 {
	t.Helper()
	h := xxhash.New()
	var b [8]byte
	num := func(v uint64) {
		binary.LittleEndian.PutUint64(b[:], v)
		h.Write(b[:])
	}
	err := db.View(func(tx *Tx) error {
		for n := uint32(0); n < 4; n++ {
			c := tx.Table(n).Cursor()
			for ok := c.First(); ok; ok = c.Next() {
				tu := c.Tuple()
				num(uint64(n))
				num(uint64(len(tu.Key)))
				h.Write(tu.Key)
				num(uint64(len(tu.Value)))
				h.Write(tu.Value)
				num(uint64(tu.Type))
				num(uint64(tu.ExpireAt))
				num(tu.Version)
			}
			if err := c.Err(); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return h.Sum64()
}

// closeReopen closes db, opens dir again with opts, checks that it holds
// m, and returns it.
func closeReopen(t *testing.T, db *DB, dir string, opts *Options, m model) *DB {
	t.Helper()
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	db, err := Open(dir, opts)
	if err != nil {
		t.Fatal(err)
	}
	verify(t, db, m)
	return db
}
