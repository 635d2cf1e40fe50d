package store

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/digby-db/digby/btree"
	"github.com/digby-db/digby/page"
)

func TestSecondOpenLocked(t *testing.T) {
	dir := t.TempDir()
	db, err := Open(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	if db2, err := Open(dir, nil); !errors.Is(err, ErrLocked) {
		if err == nil {
			db2.Close()
		}
		t.Fatalf("second open in the same process: %v, want ErrLocked", err)
	}
	// Another process cannot take the lock either.
	flock, lerr := exec.LookPath("flock")
	if lerr != nil {
		if os.Getenv("DIGBY_REQUIRE_TOOLS") == "1" {
			t.Fatal("flock (util-linux) not found")
		}
		t.Log("flock not found: cross-process check skipped")
	} else {
		out, err := exec.Command(flock, "-n", filepath.Join(dir, page.LockFile), "true").CombinedOutput()
		if err == nil {
			t.Fatalf("another process took the lock of an open database: %s", out)
		}
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	if flock, err := exec.LookPath("flock"); err == nil {
		// A lock held by another process: Open fails with ErrLocked until it ends.
		cmd := exec.Command(flock, "-n", filepath.Join(dir, page.LockFile), "-c", "echo locked; read x")
		stdin, _ := cmd.StdinPipe()
		stdout, _ := cmd.StdoutPipe()
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		line, _ := bufio.NewReader(stdout).ReadString('\n')
		if line != "locked\n" {
			t.Fatalf("flock: %q", line)
		}
		if db, err := Open(dir, nil); !errors.Is(err, ErrLocked) {
			if err == nil {
				db.Close()
			}
			t.Fatalf("open while another process holds the lock: %v, want ErrLocked", err)
		}
		stdin.Close()
		cmd.Wait()
	}
	db, err = Open(dir, nil)
	if err != nil {
		t.Fatalf("open after the lock was released: %v", err)
	}
	db.Close()
}

func TestPageSizeReadBack(t *testing.T) {
	for _, ps := range []int{8192, 65536} {
		dir := t.TempDir()
		db, err := Open(dir, &Options{PageSize: ps})
		if err != nil {
			t.Fatal(err)
		}
		m := model{}
		big := bytes.Repeat([]byte("v"), ps) // overflow at this page size
		db.Update(func(tx *Tx) error {
			for i := 0; i < 500; i++ {
				k := fmt.Sprintf("k%04d", i)
				v := []byte(k)
				if i%50 == 0 {
					v = big
				}
				m.table(0)[k] = modelVal{val: v}
				if _, err := tx.Table(0).Put([]byte(k), v, TypeString, 0); err != nil {
					return err
				}
			}
			return nil
		})
		db.Close()
		for _, other := range []int{0, 4096, 32768} {
			db, err := Open(dir, &Options{PageSize: other})
			if err != nil {
				t.Fatalf("reopen with PageSize %d: %v", other, err)
			}
			if db.PageSize() != ps {
				t.Fatalf("created with %d, reopened with option %d: page size %d", ps, other, db.PageSize())
			}
			verify(t, db, m)
			mustCheck(t, db)
			db.Close()
		}
		if st, _ := os.Stat(DataPath(dir)); st.Size()%int64(ps) != 0 {
			t.Fatalf("file of %d bytes is not whole pages of %d", st.Size(), ps)
		}
	}
}

// setFormatVersion rewrites both metas of the closed database in dir
// (4 KiB pages) with format version v.
func setFormatVersion(t *testing.T, dir string, v uint32) {
	t.Helper()
	path := DataPath(dir)
	for slot := uint64(0); slot < 2; slot++ {
		buf := readPageBytes(t, path, slot, 1)
		m, err := page.PlainCodec().DecodeMeta(buf, slot, page.MinPageSize)
		if err != nil {
			t.Fatal(err)
		}
		m.Version = v
		if err := page.PlainCodec().EncodeMeta(m, buf); err != nil {
			t.Fatal(err)
		}
		patchFile(t, path, int64(slot)*page.MinPageSize, buf)
	}
}

func TestNewerFormatRefused(t *testing.T) {
	dir := t.TempDir()
	db, err := Open(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	db.Update(func(tx *Tx) error { _, err := tx.Table(0).Put([]byte("a"), []byte("b"), TypeString, 0); return err })
	db.Close()
	setFormatVersion(t, dir, page.FormatVersion+1)
	db, err = Open(dir, nil)
	if err == nil {
		db.Close()
		t.Fatal("a file of a newer format opened")
	}
	if !errors.Is(err, page.ErrNewerFormat) {
		t.Fatalf("newer format: %v", err)
	}
}

func TestForeignFile(t *testing.T) {
	r := rand.New(rand.NewPCG(4, 4))
	random := make([]byte, 256<<10)
	for i := range random {
		random[i] = byte(r.UintN(256))
	}
	magicOnly := make([]byte, 2*page.MinPageSize)
	copy(magicOnly[page.HeaderSize:], page.Magic)
	copy(magicOnly[page.MinPageSize+page.HeaderSize:], page.Magic)
	for name, content := range map[string][]byte{
		"random":    random,
		"text":      []byte("hello, this is not a database\n"),
		"zeros":     make([]byte, 64<<10),
		"empty":     {},
		"magicOnly": magicOnly,
	} {
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			if err := os.WriteFile(DataPath(dir), content, 0o644); err != nil {
				t.Fatal(err)
			}
			db, err := Open(dir, nil)
			if err == nil {
				db.Close()
				t.Fatal("a foreign file opened")
			}
			if !errors.Is(err, page.ErrForeign) && !errors.Is(err, page.ErrCorrupt) {
				t.Fatalf("foreign file: %v", err)
			}
			// The file is left alone.
			got, _ := os.ReadFile(DataPath(dir))
			if !bytes.Equal(got, content) {
				t.Fatal("open changed a foreign file")
			}
		})
	}
}

func TestExpireDue(t *testing.T) {
	db, err := Open(t.TempDir(), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	m := model{}
	big := bytes.Repeat([]byte("x"), 10000)
	if err := db.Update(func(tx *Tx) error {
		tb := tx.Table(0)
		for i := 0; i < 100; i++ {
			k := fmt.Sprintf("k%03d", i)
			exp := int64(0)
			if i%2 == 0 {
				exp = int64(1000 + i*10) // due from 1000 to 1980
			}
			v := []byte(k)
			if i%10 == 0 {
				v = big
			}
			if _, err := tb.Put([]byte(k), v, TypeString, exp); err != nil {
				return err
			}
			m.table(0)[k] = modelVal{val: v, exp: exp}
		}
		// A stale index entry: k001 (no expiry) indexed at 1005, and k002
		// indexed a second time at an older expiry than its own.
		s, err := tb.state()
		if err != nil {
			return err
		}
		_, e := tb.trees(s)
		for _, ek := range [][]byte{expKey(1005, []byte("k001")), expKey(1001, []byte("k002"))} {
			if _, _, err := e.Put(ek, btreeEmpty()); err != nil {
				return err
			}
			s.expires++
		}
		s.exp = e.Root
		tx.tables.set(0, s)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	var got [][]byte
	if err := db.Update(func(tx *Tx) error {
		var err error
		got, err = tx.Table(0).ExpireDue(1100, 1000)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	// Due: k000..k010 even (1000..1100). k001 and the extra k002 entry are stale.
	want := []string{"k000", "k002", "k004", "k006", "k008", "k010"}
	if fmt.Sprint(bytesStrings(got)) != fmt.Sprint(want) {
		t.Fatalf("ExpireDue(1100) deleted %q, want %q", got, want)
	}
	for _, k := range want {
		delete(m.table(0), k)
	}
	verify(t, db, m) // k001 kept, nothing not due deleted, expires count exact
	mustCheck(t, db) // the stale entries are gone from the index
	// A limit bounds the batch; exactly due (expire == now) is due.
	if err := db.Update(func(tx *Tx) error {
		var err error
		got, err = tx.Table(0).ExpireDue(1200, 3)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(bytesStrings(got)) != "[k012 k014 k016]" {
		t.Fatalf("ExpireDue(1200, 3) deleted %q", got)
	}
	for _, k := range []string{"k012", "k014", "k016"} {
		delete(m.table(0), k)
	}
	verify(t, db, m)
	mustCheck(t, db)
}

func bytesStrings(b [][]byte) []string {
	var s []string
	for _, x := range b {
		s = append(s, string(x))
	}
	return s
}

func btreeEmpty() btree.Value { return btree.Value{} }

// loadBig writes n keys (every 50th with an overflow value) to table tn.
func loadBig(t *testing.T, db *DB, tn uint32, n int) map[string]modelVal {
	t.Helper()
	m := map[string]modelVal{}
	for i := 0; i < n; i += 5000 {
		if err := db.Update(func(tx *Tx) error {
			for j := i; j < min(i+5000, n); j++ {
				k := fmt.Sprintf("big-%06d", j)
				v := bytes.Repeat([]byte{byte(j)}, 60)
				if j%50 == 0 {
					v = bytes.Repeat([]byte{byte(j)}, 6000)
				}
				if _, err := tx.Table(tn).Put([]byte(k), v, TypeString, int64(j%3)*1e15); err != nil {
					return err
				}
				m[k] = modelVal{val: v, exp: int64(j%3) * 1e15}
			}
			return nil
		}); err != nil {
			t.Fatal(err)
		}
	}
	return m
}

func fileSize(t *testing.T, db *DB) int64 {
	t.Helper()
	st, err := os.Stat(DataPath(db.Dir()))
	if err != nil {
		t.Fatal(err)
	}
	return st.Size()
}

// TestClearTableBig: clearing a big table frees nothing in the foreground
// (the txn that clears it frees at most a few catalog pages); the pages go
// back in later bounded steps, none leaked, and refilling reuses them.
func TestClearTableBig(t *testing.T) {
	n := 50_000
	if testing.Short() {
		n = 10_000
	}
	// No timed flushes: where they fall in a load changes how many shadowed
	// pages wait for reuse, and so the file size this test compares.
	db, err := Open(t.TempDir(), &Options{Durability: Everysec, FlushInterval: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	m := model{}
	m[0] = loadBig(t, db, 0, n)
	m.table(1)["other"] = modelVal{val: []byte("kept")}
	db.Update(func(tx *Tx) error {
		_, err := tx.Table(1).Put([]byte("other"), []byte("kept"), TypeString, 0)
		return err
	})
	full := mustCheck(t, db)
	sizeFull := fileSize(t, db)
	var freedInTxn int
	if err := db.Update(func(tx *Tx) error {
		before := len(tx.w.freed)
		if err := tx.ClearTable(0); err != nil {
			return err
		}
		freedInTxn = len(tx.w.freed) - before
		if c := tx.Table(0).Count(); c != 0 {
			return fmt.Errorf("count %d after ClearTable", c)
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if freedInTxn > 8 {
		t.Fatalf("ClearTable freed %d pages in the foreground of a table of %d pages", freedInTxn, full.Reachable)
	}
	delete(m, 0)
	verify(t, db, m)
	// Drop steps, each committed, until nothing is pending.
	steps := 0
	var rep CheckReport
	for ; steps < 1000; steps++ {
		more := false
		if err := db.control(func() error {
			var err error
			more, err = db.dropStep(dropBudget)
			return err
		}); err != nil {
			t.Fatal(err)
		}
		rep = mustCheck(t, db)
		if !more {
			break
		}
	}
	if rep.PendingDrop != 0 {
		t.Fatalf("after %d drop steps PendingDrop = %d", steps, rep.PendingDrop)
	}
	verify(t, db, m)
	// Flushes release the freed pages; a refill must reuse them.
	idle(t, db)
	idle(t, db)
	m[2] = loadBig(t, db, 2, n)
	idle(t, db)
	verify(t, db, m)
	mustCheck(t, db)
	if sz := fileSize(t, db); sz > sizeFull+sizeFull/10 {
		t.Fatalf("refilled file %d bytes, was %d with the same data before the clear: pages leaked", sz, sizeFull)
	}
}

// TestCrashMidDrop takes the file image a crash leaves right after a flush
// in the middle of dropping a big table, and after a plain Close with the
// drop unfinished: both reopen sound, and the drop finishes with no leak.
func TestCrashMidDrop(t *testing.T) {
	dir := t.TempDir()
	db, err := Open(dir, &Options{Durability: No})
	if err != nil {
		t.Fatal(err)
	}
	m := model{}
	m[0] = loadBig(t, db, 0, 30_000)
	m[1] = loadBig(t, db, 1, 2_000)
	if err := db.Update(func(tx *Tx) error { return tx.ClearTable(0) }); err != nil {
		t.Fatal(err)
	}
	delete(m, 0)
	crashDir := t.TempDir()
	if err := db.control(func() error {
		if _, err := db.dropStep(dropBudget); err != nil {
			return err
		}
		if err := db.flush(); err != nil {
			return err
		}
		// The writer is here: nothing else writes while the image is taken.
		b, err := os.ReadFile(DataPath(dir))
		if err != nil {
			return err
		}
		return os.WriteFile(DataPath(crashDir), b, 0o644)
	}); err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	for _, d := range []string{crashDir, dir} {
		db, err := Open(d, &Options{Durability: No})
		if err != nil {
			t.Fatal(err)
		}
		verify(t, db, m)
		mustCheck(t, db)
		for i := 0; i < 200; i++ {
			more := false
			db.control(func() error { more, err = db.dropStep(dropBudget); return err })
			if err != nil {
				t.Fatal(err)
			}
			if !more {
				break
			}
		}
		if rep := mustCheck(t, db); rep.PendingDrop != 0 {
			t.Fatalf("PendingDrop %d after the drop finished", rep.PendingDrop)
		}
		verify(t, db, m)
		db.Close()
	}
}

// TestBackup: the copy opens as a database with identical contents
// (values, expiries, versions), passes Check, and is compact.
func TestBackup(t *testing.T) {
	dir := t.TempDir()
	db, err := Open(dir, &Options{Durability: No})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	m := model{}
	m[0] = loadBig(t, db, 0, 20_000)
	m[3] = loadBig(t, db, 3, 3_000)
	// Delete most of table 0.
	if err := db.Update(func(tx *Tx) error {
		for k := range m[0] {
			if k[len(k)-1] != '7' {
				if _, err := tx.Table(0).Delete([]byte(k)); err != nil {
					return err
				}
				delete(m[0], k)
			}
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	mustCheck(t, db)
	out := filepath.Join(t.TempDir(), "copy.db")
	if err := db.Backup(out); err != nil {
		t.Fatal(err)
	}
	bdir := t.TempDir()
	if err := os.Rename(out, DataPath(bdir)); err != nil {
		t.Fatal(err)
	}
	bdb, err := Open(bdir, nil)
	if err != nil {
		t.Fatalf("open the backup: %v", err)
	}
	defer bdb.Close()
	verify(t, bdb, m)
	mustCheck(t, bdb)
	versions := func(d *DB) map[string]uint64 {
		v := map[string]uint64{}
		d.View(func(tx *Tx) error {
			for _, tn := range []uint32{0, 3} {
				c := tx.Table(tn).Cursor()
				for ok := c.First(); ok; ok = c.Next() {
					mt := c.Meta()
					v[fmt.Sprint(tn, string(mt.Key), mt.Type)] = mt.Version
				}
			}
			return nil
		})
		return v
	}
	if a, b := versions(db), versions(bdb); fmt.Sprint(a) != fmt.Sprint(b) {
		t.Fatal("backup changed tuple versions or types")
	}
	src, dst := fileSize(t, db), fileSize(t, bdb)
	if dst >= src {
		t.Fatalf("backup %d bytes, source %d after deleting 90%%", dst, src)
	}
	t.Logf("source %d bytes, backup %d", src, dst)
}

// TestOverwriteLargeValue: a 1 MiB value overwritten 200 times leaves the
// file about as big as one copy needs once no reader holds old versions;
// while a reader holds its snapshot the old pages are kept (and readable).
func TestOverwriteLargeValue(t *testing.T) {
	for _, mode := range []Durability{Always, Everysec} {
		t.Run(mode.String(), func(t *testing.T) {
			db, err := Open(t.TempDir(), &Options{Durability: mode})
			if err != nil {
				t.Fatal(err)
			}
			defer db.Close()
			put := func(i int) {
				t.Helper()
				v := bytes.Repeat([]byte{byte(i)}, 1<<20)
				if err := db.Update(func(tx *Tx) error { _, err := tx.Table(0).Put([]byte("big"), v, TypeString, 0); return err }); err != nil {
					t.Fatal(err)
				}
			}
			put(0)
			idle(t, db)
			one := fileSize(t, db)
			for i := 1; i <= 200; i++ {
				put(i)
				if mode == Always && fileSize(t, db) > 4*one {
					t.Fatalf("after %d overwrites the file is %d bytes, %d after one", i, fileSize(t, db), one)
				}
			}
			// Freed runs wait for two flushes, and relocation of the live
			// run frees its old place: allow a few idle cycles.
			settle := func() {
				for i := 0; i < 8 && fileSize(t, db) > 3*one; i++ {
					idle(t, db)
				}
			}
			settle()
			if sz := fileSize(t, db); sz > 3*one {
				rep, err := db.Check()
				t.Fatalf("after 200 overwrites and idle cycles the file is %d bytes, %d after one (%+v, %v)", sz, one, rep, err)
			}
			// A reader holds old versions; they stay readable.
			err = db.View(func(tx *Tx) error {
				for i := 201; i <= 210; i++ {
					put(i)
				}
				tu, _, err := tx.Table(0).Get([]byte("big"))
				if err != nil || len(tu.Value) != 1<<20 || tu.Value[0] != 200 || tu.Value[1<<20-1] != 200 {
					return fmt.Errorf("old snapshot read: %v", err)
				}
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
			for i := 211; i <= 230; i++ {
				put(i)
			}
			settle()
			if sz := fileSize(t, db); sz > 3*one {
				t.Fatalf("after the reader left the file is %d bytes, %d after one value", sz, one)
			}
			mustCheck(t, db)
		})
	}
}
