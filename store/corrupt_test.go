package store

import (
	"bytes"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/digby-db/digby/btree"
	"github.com/digby-db/digby/page"
)

// The corruption tests damage a closed database file page by page (each
// kind of page, found by walking the newest meta's references) and expect
// Open + reading everything + Check to report an error naming the damaged
// page, never a panic and never data that differs from the model.

const corruptPS = 4096

// fillTables writes n random operations over tables 0..3 (inline and
// overflow values, expiries) in batches, flushing between, into m.
func fillTables(t *testing.T, db *DB, m model, r *rand.Rand, n int) {
	t.Helper()
	for done := 0; done < n; {
		batch := min(n-done, 500)
		err := db.Update(func(tx *Tx) error {
			for i := 0; i < batch; i++ {
				tn := uint32(r.IntN(4))
				k := fmt.Sprintf("key-%05d", r.IntN(3000))
				tb := tx.Table(tn)
				if r.IntN(6) == 0 {
					if _, err := tb.Delete([]byte(k)); err != nil {
						return err
					}
					delete(m.table(tn), k)
					continue
				}
				v := make([]byte, 5+r.IntN(90))
				if r.IntN(15) == 0 {
					v = make([]byte, corruptPS+r.IntN(3*corruptPS))
					if r.IntN(8) == 0 {
						v = make([]byte, ChunkSize+r.IntN(3*ChunkSize)) // chunked
					}
				}
				for j := range v {
					v[j] = byte(r.UintN(256))
				}
				var exp int64
				if r.IntN(5) == 0 {
					exp = 1e15 + int64(r.IntN(1e6))
				}
				if err := putModel(tx, m, tn, k, v, exp); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		done += batch
		if err := db.Flush(); err != nil {
			t.Fatal(err)
		}
	}
}

// buildCorruptDB makes a closed database in dir (encrypted with key, if
// set) and returns its model.
func buildCorruptDB(t *testing.T, dir string, ops int, key []byte) model {
	t.Helper()
	db, err := Open(dir, &Options{PageSize: corruptPS, Durability: No, EncryptionKey: key})
	if err != nil {
		t.Fatal(err)
	}
	m := model{}
	fillTables(t, db, m, rand.New(rand.NewPCG(11, 12)), ops)
	verify(t, db, m)
	mustCheck(t, db)
	lastFlush(t, db)
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	return m
}

// lastFlush makes a last, small flush that changes only table 7 (which the
// model comparisons do not look at). Open treats damage to a page written
// by the newest flush like a torn flush and falls back to the older meta
// (one-fsync flushes, see DB.verifyFlush); with this flush the older meta's
// tables 0..3 equal the model, and most pages were written before it.
func lastFlush(t *testing.T, db *DB) {
	t.Helper()
	if err := db.Update(func(tx *Tx) error {
		_, err := tx.Table(7).Put([]byte("last"), []byte("flush"), TypeString, 0)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	if err := db.Flush(); err != nil {
		t.Fatal(err)
	}
}

// fileLayout is what a walk of the newest meta finds: each reachable run's
// first page id by kind, run lengths, and the metas.
type fileLayout struct {
	kinds  map[page.Type][]uint64
	runs   map[uint64]int // first page id -> pages
	txns   map[uint64]uint64
	newest *page.Meta
	older  *page.Meta
	maxID  uint64
	codec  *page.Codec
}

func readLayout(t *testing.T, path string, key []byte) *fileLayout {
	t.Helper()
	of, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer of.Close()
	f := page.NewFile(of, nil, corruptPS)
	l := &fileLayout{kinds: map[page.Type][]uint64{}, runs: map[uint64]int{}, txns: map[uint64]uint64{}}
	var metas []*page.Meta
	var raw [2][]byte
	for slot := uint64(0); slot < 2; slot++ {
		raw[slot] = make([]byte, corruptPS)
		if err := f.ReadRaw(slot, raw[slot]); err != nil {
			t.Fatal(err)
		}
	}
	codec, err := page.CodecFor(raw, key)
	if err != nil {
		t.Fatal(err)
	}
	f.SetCodec(codec)
	l.codec = codec
	for slot := uint64(0); slot < 2; slot++ {
		m, err := codec.DecodeMeta(raw[slot], slot, corruptPS)
		if err != nil {
			t.Fatalf("layout: %v", err)
		}
		metas = append(metas, m)
	}
	l.newest, l.older = metas[0], metas[1]
	if l.older.Txn > l.newest.Txn || l.older.Txn == l.newest.Txn && l.older.Epoch > l.newest.Epoch {
		l.newest, l.older = l.older, l.newest
	}
	add := func(r page.Ref, typ page.Type) {
		if _, ok := l.runs[r.ID]; ok {
			t.Fatalf("layout: page %d reached twice", r.ID)
		}
		l.kinds[typ] = append(l.kinds[typ], r.ID)
		l.runs[r.ID] = int(r.Pages)
		l.txns[r.ID] = r.Txn
		l.maxID = max(l.maxID, r.ID+uint64(r.Pages)-1)
	}
	var walk func(r page.Ref, leaf func(*btree.Node, int))
	walk = func(r page.Ref, leaf func(*btree.Node, int)) {
		buf, h, err := f.Read(r.ID, 1, 0, r.Txn)
		if err != nil {
			t.Fatalf("layout: %v", err)
		}
		n, err := btree.Decode(buf, h)
		if err != nil {
			t.Fatalf("layout: %v", err)
		}
		if n.Leaf {
			add(r, page.TypeLeaf)
			for i := 0; i < n.Len(); i++ {
				if v := n.Val(i); !v.Ovf.IsZero() {
					runs, _, err := overflowRuns(fileRuns(f), fileGeom(f), v.Ovf)
					if err != nil {
						t.Fatalf("layout: %v", err)
					}
					add(runs[0], page.TypeChunkTable)
					for _, c := range runs[1:] {
						add(c, page.TypeOverflow)
					}
				}
				if leaf != nil {
					leaf(n, i)
				}
			}
			return
		}
		add(r, page.TypeBranch)
		for i := 0; i < n.Len(); i++ {
			walk(n.Kid(i), leaf)
		}
	}
	var tables []tableState
	walk(l.newest.Catalog, func(n *btree.Node, i int) {
		if k := n.Key(i); len(k) == 5 && k[0] == catTable {
			s, err := decodeTableState(n.Val(i).Data)
			if err != nil {
				t.Fatal(err)
			}
			tables = append(tables, s)
		}
	})
	for _, s := range tables {
		for _, r := range []page.Ref{s.root, s.exp} {
			if !r.IsZero() {
				walk(r, nil)
			}
		}
	}
	fs, err := page.ReadFreespace(codec, corruptPS, l.newest.Freedir, func(r page.Ref, want page.Type) ([]byte, error) {
		buf, _, err := f.Read(r.ID, int(r.Pages), want, r.Txn)
		return buf, err
	})
	if err != nil {
		t.Fatal(err)
	}
	add(l.newest.Freedir, page.TypeFreedir)
	for _, c := range fs.Chunks {
		if !c.IsZero() {
			add(c, page.TypeFreemap)
		}
	}
	for typ, ids := range l.kinds {
		slices.Sort(ids)
		l.kinds[typ] = ids
	}
	return l
}

// readAgainst reads every table of db fully (cursor scan and point reads of
// every model key) and compares whatever is returned with the model. It
// returns the first read error, and a description of any wrong answer.
func readAgainst(db *DB, m model) (readErr error, wrong error) {
	readErr = db.View(func(tx *Tx) error {
		var first error
		note := func(err error) {
			if err != nil && first == nil {
				first = err
			}
		}
		for n := uint32(0); n < 4; n++ {
			tb := tx.Table(n)
			want := m[n]
			c := tb.Cursor()
			if n%2 == 1 {
				c = tb.ScanCursor() // verified in the mapping
			}
			seen := 0
			for ok := c.First(); ok; ok = c.Next() {
				tu := c.Tuple()
				if c.Err() != nil {
					break
				}
				mv, in := want[string(tu.Key)]
				if !in || !bytes.Equal(tu.Value, mv.val) || tu.ExpireAt != mv.exp {
					if wrong == nil {
						wrong = fmt.Errorf("table %d: scan returned key %q with a value the model does not hold", n, tu.Key)
					}
				}
				seen++
			}
			if c.Err() != nil {
				note(c.Err())
			} else if seen != len(want) && wrong == nil {
				wrong = fmt.Errorf("table %d: scan saw %d of %d keys without an error", n, seen, len(want))
			}
			for k, mv := range want {
				tu, ok, err := tb.Get([]byte(k))
				if err != nil {
					note(err)
					continue
				}
				if (!ok || !bytes.Equal(tu.Value, mv.val) || tu.ExpireAt != mv.exp) && wrong == nil {
					wrong = fmt.Errorf("table %d: get %q: found %v, wrong value or expiry", n, k, ok)
				}
			}
		}
		return first
	})
	return readErr, wrong
}

var pageRE = regexp.MustCompile(`page (\d+)\b`)

// namesPage reports whether err's text names one of ids (or, with
// atLeast, a page at or above ids[0]).
func namesPage(err error, atLeast bool, ids ...uint64) bool {
	for _, mt := range pageRE.FindAllStringSubmatch(err.Error(), -1) {
		n, _ := strconv.ParseUint(mt[1], 10, 64)
		if atLeast && n >= ids[0] {
			return true
		}
		if slices.Contains(ids, n) {
			return true
		}
	}
	return false
}

// expectCorrupt opens dir, reads everything and runs Check. Some step must
// fail with a corruption error naming one of ids; no step may return data
// that differs from m.
//
// When olderTxn is non-zero the damage may hit pages the newest flush wrote,
// and Open may fall back to the older meta (txn olderTxn) as after a torn
// flush: then the state must still equal m (tables 0..3), and an error is
// required only if that older state reaches the damage too.
func expectCorrupt(t *testing.T, dir string, key []byte, m model, olderTxn uint64, atLeast bool, ids ...uint64) {
	t.Helper()
	var errs []error
	fellBack := false
	db, err := Open(dir, &Options{Durability: No, EncryptionKey: key})
	if err != nil {
		errs = append(errs, err)
	} else {
		var txn uint64
		db.View(func(tx *Tx) error { txn = tx.TxID(); return nil })
		// A clean close seals the newest meta (both slots then hold the
		// same state), so a fallback shows only as Recovered().
		fellBack = db.Recovered() != ""
		if fellBack && (txn != olderTxn || !namesPage(errors.New(db.Recovered()), atLeast, ids...)) {
			rec := db.Recovered()
			db.Close()
			t.Fatalf("damage to page %v: open fell back to txn %d (older meta %d), and Recovered() = %q must name the page", ids, txn, olderTxn, rec)
		}
		readErr, wrong := readAgainst(db, m)
		if wrong != nil {
			db.Close()
			t.Fatalf("damage to page %v returned wrong data (opened at txn %d): %v", ids, txn, wrong)
		}
		if readErr != nil {
			errs = append(errs, readErr)
		}
		if _, err := db.Check(); err != nil {
			errs = append(errs, err)
		}
		db.Close()
	}
	if len(errs) == 0 && fellBack {
		t.Logf("damage to page %v: open fell back to the older meta (txn %d), a sound earlier state", ids, olderTxn)
		return
	}
	if len(errs) == 0 {
		t.Fatalf("damage to page %v not detected: open, reads and Check all succeeded", ids)
	}
	for _, err := range errs {
		if errors.Is(err, page.ErrCorrupt) && namesPage(err, atLeast, ids...) {
			return
		}
	}
	t.Fatalf("damage to page %v: no corruption error naming it; got %v", ids, errs)
}

func copyDB(t *testing.T, src string) string {
	t.Helper()
	b, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	if err := os.WriteFile(DataPath(dir), b, 0o644); err != nil {
		t.Fatal(err)
	}
	return dir
}

func patchFile(t *testing.T, path string, off int64, b []byte) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.WriteAt(b, off); err != nil {
		t.Fatal(err)
	}
}

func readPageBytes(t *testing.T, path string, id uint64, pages int) []byte {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	b := make([]byte, pages*corruptPS)
	if _, err := f.ReadAt(b, int64(id)*corruptPS); err != nil {
		t.Fatal(err)
	}
	return b
}

// pick chooses up to n ids of a kind: the first, the last and random others.
func pick(r *rand.Rand, ids []uint64, n int) []uint64 {
	if len(ids) <= n {
		return ids
	}
	out := []uint64{ids[0], ids[len(ids)-1]}
	for len(out) < n {
		out = append(out, ids[r.IntN(len(ids))])
	}
	return out
}

// TestCorruptPages damages pages of each kind, plain and encrypted (where
// the tag, the nonce and the trailer are damaged too).
func TestCorruptPages(t *testing.T) {
	t.Run("plain", func(t *testing.T) { corruptPages(t, nil) })
	t.Run("aes256", func(t *testing.T) { corruptPages(t, encKey256) })
}

func corruptPages(t *testing.T, key []byte) {
	src := t.TempDir()
	ops := 4000
	perKind := 2
	if long() {
		ops, perKind = 20000, 8
	}
	m := buildCorruptDB(t, src, ops, key)
	l := readLayout(t, DataPath(src), key)
	trailer := l.codec.Overhead()
	for _, typ := range []page.Type{page.TypeBranch, page.TypeLeaf, page.TypeChunkTable, page.TypeOverflow, page.TypeFreemap, page.TypeFreedir} {
		if len(l.kinds[typ]) == 0 {
			t.Fatalf("test database has no %v page", typ)
		}
	}
	r := rand.New(rand.NewPCG(5, 6))
	for _, typ := range []page.Type{page.TypeBranch, page.TypeLeaf, page.TypeChunkTable, page.TypeOverflow, page.TypeFreemap, page.TypeFreedir} {
		var older, newer []uint64 // written before / by the newest flush
		for _, id := range l.kinds[typ] {
			if l.txns[id] > l.older.Txn {
				newer = append(newer, id)
			} else {
				older = append(older, id)
			}
		}
		ids := append(pick(r, older, perKind), pick(r, newer, 1)...)
		for _, id := range ids {
			size := l.runs[id] * corruptPS
			var fallback uint64
			if l.txns[id] > l.older.Txn {
				fallback = l.older.Txn
			}
			muts := map[string]func(path string){
				"checksum":   func(p string) { flipByte(t, p, int64(id)*corruptPS+3) },
				"header-id":  func(p string) { flipByte(t, p, int64(id)*corruptPS+8) },
				"header-txn": func(p string) { flipByte(t, p, int64(id)*corruptPS+16) },
				"body": func(p string) {
					flipByte(t, p, int64(id)*corruptPS+int64(page.HeaderSize+r.IntN(size-page.HeaderSize-trailer)))
				},
				"last-byte": func(p string) { flipByte(t, p, int64(id)*corruptPS+int64(size-1)) },
				"zeroed":    func(p string) { patchFile(t, p, int64(id)*corruptPS, make([]byte, corruptPS)) },
			}
			if key != nil {
				end := int64(id)*corruptPS + int64(size)
				muts["tag"] = func(p string) { flipByte(t, p, end-int64(trailer)+int64(r.IntN(page.TagSize))) }
				muts["nonce"] = func(p string) { flipByte(t, p, end-int64(trailer-page.TagSize)+int64(r.IntN(page.NonceSize))) }
			}
			for name, mut := range muts {
				t.Run(fmt.Sprintf("%v/%d/%s", typ, id, name), func(t *testing.T) {
					dir := copyDB(t, DataPath(src))
					mut(DataPath(dir))
					expectCorrupt(t, dir, key, m, fallback, false, id)
				})
			}
		}
	}
}

func flipByte(t *testing.T, path string, off int64) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	b := make([]byte, 1)
	if _, err := f.ReadAt(b, off); err != nil {
		t.Fatal(err)
	}
	b[0] ^= 0x5a
	if _, err := f.WriteAt(b, off); err != nil {
		t.Fatal(err)
	}
}

// runStart is the first page of the run holding page id (id itself when no
// run of the layout holds it): a cut inside a run is reported at its start.
func (l *fileLayout) runStart(id uint64) uint64 {
	for start, n := range l.runs {
		if start <= id && id < start+uint64(n) {
			return start
		}
	}
	return id
}

func TestCorruptTruncate(t *testing.T) {
	src := t.TempDir()
	m := buildCorruptDB(t, src, 3000, nil)
	l := readLayout(t, DataPath(src), nil)
	leaves := l.kinds[page.TypeLeaf]
	cuts := []int64{
		int64(l.maxID) * corruptPS,                 // the last reachable page
		int64(l.maxID)*corruptPS + corruptPS/2,     // half of it
		int64(leaves[len(leaves)/2]) * corruptPS,   // the middle of the file
		int64(l.newest.Freedir.ID)*corruptPS + 100, // into the free-space directory
		int64(leaves[0])*corruptPS + corruptPS - 1, // one byte short of a leaf
		2 * corruptPS, // just the metas
	}
	for _, cut := range cuts {
		t.Run(fmt.Sprint(cut), func(t *testing.T) {
			dir := copyDB(t, DataPath(src))
			if err := os.Truncate(DataPath(dir), cut); err != nil {
				t.Fatal(err)
			}
			expectCorrupt(t, dir, nil, m, l.older.Txn, true, l.runStart(uint64(cut/corruptPS)))
		})
	}
	// Less than a meta: a clear error, whatever it says.
	for _, cut := range []int64{0, 100, corruptPS + 10} {
		dir := copyDB(t, DataPath(src))
		if err := os.Truncate(DataPath(dir), cut); err != nil {
			t.Fatal(err)
		}
		db, err := Open(dir, nil)
		if err == nil {
			db.Close()
			t.Fatalf("truncated to %d bytes: open succeeded", cut)
		}
		if !errors.Is(err, page.ErrCorrupt) && !errors.Is(err, page.ErrForeign) {
			t.Fatalf("truncated to %d bytes: %v", cut, err)
		}
	}
}

func TestCorruptSwapPages(t *testing.T) {
	src := t.TempDir()
	m := buildCorruptDB(t, src, 3000, nil)
	l := readLayout(t, DataPath(src), nil)
	lv, br := l.kinds[page.TypeLeaf], l.kinds[page.TypeBranch]
	pairs := [][2]uint64{
		{lv[0], lv[len(lv)-1]},
		{lv[1], br[0]},
		{br[0], l.kinds[page.TypeFreemap][0]},
		{lv[2], l.kinds[page.TypeFreedir][0]},
		{lv[3], 0}, // a leaf and meta 0
	}
	for _, p := range pairs {
		t.Run(fmt.Sprintf("%d-%d", p[0], p[1]), func(t *testing.T) {
			dir := copyDB(t, DataPath(src))
			path := DataPath(dir)
			a, b := readPageBytes(t, path, p[0], 1), readPageBytes(t, path, p[1], 1)
			patchFile(t, path, int64(p[0])*corruptPS, b)
			patchFile(t, path, int64(p[1])*corruptPS, a)
			var fallback uint64
			if l.txns[p[0]] > l.older.Txn || l.txns[p[1]] > l.older.Txn || p[1] == l.newest.Slot {
				fallback = l.older.Txn
			}
			expectCorrupt(t, dir, nil, m, fallback, false, p[0], p[1])
		})
	}
}

// TestCorruptStalePage puts back older, valid copies of pages (a lost
// write): only the txn id carried by the reference can tell.
func TestCorruptStalePage(t *testing.T) {
	src := t.TempDir()
	m := buildCorruptDB(t, src, 3000, nil)
	old, err := os.ReadFile(DataPath(src))
	if err != nil {
		t.Fatal(err)
	}
	// More commits and flushes: pages are freed and their ids reused
	// (lowest-first placement reuses the most).
	db, err := Open(src, &Options{PageSize: corruptPS, Durability: No, FileSlack: -1})
	if err != nil {
		t.Fatal(err)
	}
	fillTables(t, db, m, rand.New(rand.NewPCG(21, 22)), 4000)
	verify(t, db, m)
	lastFlush(t, db)
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	l := readLayout(t, DataPath(src), nil)
	covered := map[page.Type]int{}
	for typ, ids := range l.kinds {
		for _, id := range ids {
			n := l.runs[id]
			end := (int(id) + n) * corruptPS
			if end > len(old) || covered[typ] >= 2 {
				continue
			}
			buf := old[int(id)*corruptPS : end]
			_, h, err := page.PlainCodec().Open(bytes.Clone(buf), id, 0, 0, corruptPS)
			if err != nil || h.Txn == l.txns[id] || l.txns[id] > l.older.Txn {
				continue // not a valid older page at this id, or written by the newest flush
			}
			covered[typ]++
			t.Run(fmt.Sprintf("%v/%d", typ, id), func(t *testing.T) {
				dir := copyDB(t, DataPath(src))
				patchFile(t, DataPath(dir), int64(id)*corruptPS, buf)
				expectCorrupt(t, dir, nil, m, 0, false, id)
			})
		}
	}
	t.Logf("stale pages put back: %v", covered)
	if covered[page.TypeLeaf] == 0 || covered[page.TypeBranch]+covered[page.TypeFreemap]+covered[page.TypeFreedir]+covered[page.TypeOverflow] == 0 {
		t.Fatalf("too few reused page ids to test stale pages: %v", covered)
	}
}

// TestCorruptNewestMeta damages the newest meta: Open must fall back to the
// older one, whose state is the commit of the flush before, and sound.
// Between the two flushes a lot was written, so pages the older meta
// reaches were freed and, were the reuse rule wrong, overwritten.
func TestCorruptNewestMeta(t *testing.T) {
	src := t.TempDir()
	db, err := Open(src, &Options{PageSize: corruptPS, Durability: No, DirtyCap: 1 << 40})
	if err != nil {
		t.Fatal(err)
	}
	m := model{}
	fillTables(t, db, m, rand.New(rand.NewPCG(31, 32)), 6000) // many flushes: free pages to reuse
	if err := db.Flush(); err != nil {
		t.Fatal(err)
	}
	before := m.clone()
	// Write a lot without a flush, then Close flushes once.
	r := rand.New(rand.NewPCG(33, 34))
	err = db.Update(func(tx *Tx) error {
		for i := 0; i < 6000; i++ {
			tn := uint32(r.IntN(4))
			k := fmt.Sprintf("key-%05d", r.IntN(3000))
			if r.IntN(3) == 0 {
				if _, err := tx.Table(tn).Delete([]byte(k)); err != nil {
					return err
				}
				delete(m.table(tn), k)
				continue
			}
			v := bytes.Repeat([]byte{byte(i)}, 10+r.IntN(2*corruptPS))
			if err := putModel(tx, m, tn, k, v, 0); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	// Take the file as a flush leaves it: a clean Close would also seal
	// (copy the newest meta into the other slot, see DB.seal), leaving no
	// older state to fall back to.
	if err := db.Flush(); err != nil {
		t.Fatal(err)
	}
	image := copyDB(t, DataPath(src))
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	l := readLayout(t, DataPath(image), nil)
	for _, off := range []int64{0, 8, 20, page.HeaderSize + 1, page.HeaderSize + 70, corruptPS - 1} {
		t.Run(fmt.Sprint(off), func(t *testing.T) {
			dir := copyDB(t, DataPath(image))
			flipByte(t, DataPath(dir), int64(l.newest.Slot)*corruptPS+off)
			db, err := Open(dir, &Options{Durability: No})
			if err != nil {
				t.Fatalf("open with the newest meta damaged: %v", err)
			}
			defer db.Close()
			var txn uint64
			db.View(func(tx *Tx) error { txn = tx.TxID(); return nil })
			if txn != l.older.Txn {
				t.Fatalf("opened at txn %d, want the older meta's %d", txn, l.older.Txn)
			}
			verify(t, db, before)
			mustCheck(t, db)
			// And it goes on working.
			if err := db.Update(func(tx *Tx) error {
				_, err := tx.Table(0).Put([]byte("after"), []byte("x"), TypeString, 0)
				return err
			}); err != nil {
				t.Fatal(err)
			}
			mustCheck(t, db)
		})
	}
	// Both metas damaged: an error naming them.
	dir := copyDB(t, DataPath(src))
	flipByte(t, DataPath(dir), 100)
	flipByte(t, DataPath(dir), corruptPS+100)
	db, err = Open(dir, nil)
	if err == nil {
		db.Close()
		t.Fatal("open with both metas damaged succeeded")
	}
	if !errors.Is(err, page.ErrCorrupt) || !namesPage(err, false, 0) || !namesPage(err, false, 1) {
		t.Fatalf("both metas damaged: %v", err)
	}
}

// TestCorruptForgedLongKey: a long key's chunk table rewritten to name
// another whole key, with a valid checksum (a forgery, or damage the
// checksum misses): Check, a get and a cursor each report the chunk
// table's page; none answers with the other key.
func TestCorruptForgedLongKey(t *testing.T) {
	dir := t.TempDir()
	db, err := Open(dir, &Options{PageSize: corruptPS})
	if err != nil {
		t.Fatal(err)
	}
	key := bytes.Repeat([]byte("long-key/"), 70) // 630 bytes: longer than KeyPrefixSize
	if err := db.Update(func(tx *Tx) error { _, err := tx.Table(0).Put(key, []byte("v"), TypeString, 0); return err }); err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	path := DataPath(dir)
	l := readLayout(t, path, nil)
	if len(l.kinds[page.TypeChunkTable]) != 1 {
		t.Fatalf("%d chunk tables, want 1", len(l.kinds[page.TypeChunkTable]))
	}
	id := l.kinds[page.TypeChunkTable][0]
	run := readPageBytes(t, path, id, l.runs[id])
	at := bytes.Index(run, key)
	if at < 0 {
		t.Fatal("the chunk table does not hold the whole key")
	}
	for _, pos := range []int{10, len(key) - 1} { // in the tree key's prefix, then only in its hash
		forged := slices.Clone(run)
		forged[at+pos] ^= 0x20
		if err := l.codec.Seal(forged); err != nil {
			t.Fatal(err)
		}
		d := copyDB(t, path)
		patchFile(t, DataPath(d), int64(id)*corruptPS, forged)
		db, err := Open(d, &Options{PageSize: corruptPS})
		if err != nil {
			t.Fatal(err)
		}
		want := func(what string, err error) {
			t.Helper()
			if !errors.Is(err, ErrCorrupt) || !namesPage(err, false, id) {
				t.Fatalf("forged byte %d: %s: %v, want corruption of page %d", pos, what, err, id)
			}
		}
		_, err = db.Check()
		want("check", err)
		want("get", db.View(func(tx *Tx) error {
			_, ok, err := tx.Table(0).Get(key)
			if err == nil && !ok {
				return errors.New("absent")
			}
			return err
		}))
		want("cursor", db.View(func(tx *Tx) error {
			c := tx.Table(0).Cursor()
			for ok := c.First(); ok; ok = c.Next() {
				if k, _ := c.KeyValue(); c.Err() == nil {
					return fmt.Errorf("cursor returned key %.20q… without an error", k)
				}
			}
			return c.Err()
		}))
		db.Close()
	}
}

// TestCorruptHugeReference: metas (with valid checksums) naming a catalog
// root far past the end of the file, at an offset near the largest file
// offset: a read reports the page, it does not crash (a mapped read's
// bounds check once wrapped around there).
func TestCorruptHugeReference(t *testing.T) {
	dir := t.TempDir()
	db, err := Open(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := db.Update(func(tx *Tx) error { _, err := tx.Table(0).Put([]byte("a"), []byte("b"), TypeString, 0); return err }); err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	path := DataPath(dir)
	huge := uint64(math.MaxInt64 / page.MinPageSize)
	for slot := uint64(0); slot < 2; slot++ {
		buf := readPageBytes(t, path, slot, 1)
		m, err := page.PlainCodec().DecodeMeta(buf, slot, page.MinPageSize)
		if err != nil {
			t.Fatal(err)
		}
		m.Catalog.ID = huge
		if err := page.PlainCodec().EncodeMeta(m, buf); err != nil {
			t.Fatal(err)
		}
		patchFile(t, path, int64(slot)*page.MinPageSize, buf)
	}
	db, err = Open(dir, nil)
	if err == nil {
		err = db.View(func(tx *Tx) error { _, _, err := tx.Table(0).Get([]byte("a")); return err })
		db.Close()
	}
	if !errors.Is(err, ErrCorrupt) || !strings.Contains(err.Error(), fmt.Sprintf("page %d", huge)) {
		t.Fatalf("got %v, want corruption of page %d", err, huge)
	}
}
