package store

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/digby-db/digby/page"
)

var (
	encKey128 = bytes.Repeat([]byte{0x5c}, 16)
	encKey256 = bytes.Repeat([]byte{0xa7}, 32)
)

// secretModel writes distinctive keys and values (inline and overflow
// sized) into tables 0 and 1 and returns the model.
func secretModel(t *testing.T, db *DB) model {
	t.Helper()
	m := model{}
	err := db.Update(func(tx *Tx) error {
		for i := 0; i < 300; i++ {
			k := fmt.Sprintf("digby-secret-key-%04d", i)
			v := []byte(fmt.Sprintf("digby-secret-value-%04d", i))
			if i%10 == 0 { // overflow run
				v = bytes.Repeat([]byte(fmt.Sprintf("digby-secret-big-%04d|", i)), 900)
			}
			if err := putModel(tx, m, uint32(i%2), k, v, 0); err != nil {
				return err
			}
		}
		// A value of several chunk runs, incompressible but for a probe
		// in each chunk, under a key longer than the tree holds (its whole
		// key lives in the chunk table).
		r := rand.New(rand.NewPCG(5, 5))
		big := make([]byte, 3*ChunkSize+100)
		for i := range big {
			big[i] = byte(r.Uint32())
		}
		for off := 0; off+2000 < len(big); off += ChunkSize {
			copy(big[off+1000:], "digby-secret-chunk-probe")
		}
		long := "digby-secret-long-key-" + strings.Repeat("x", 300)
		return putModel(tx, m, 0, long, big, 0)
	})
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// TestEncryptNoPlaintext: an encrypted file holds none of the keys and
// values written, the metas included; a plain file does (so the test can fail).
func TestEncryptNoPlaintext(t *testing.T) {
	for _, key := range [][]byte{nil, encKey128, encKey256} {
		dir := t.TempDir()
		db, err := Open(dir, &Options{EncryptionKey: key})
		if err != nil {
			t.Fatal(err)
		}
		m := secretModel(t, db)
		if err := db.Flush(); err != nil {
			t.Fatal(err)
		}
		if err := db.Close(); err != nil {
			t.Fatal(err)
		}
		raw, err := os.ReadFile(DataPath(dir))
		if err != nil {
			t.Fatal(err)
		}
		found := 0
		for _, s := range []string{"digby-secret", "secret-key-0001", "secret-value-0003", "secret-big-0010", "secret-chunk-probe", "secret-long-key-"} {
			if bytes.Contains(raw, []byte(s)) {
				found++
			}
		}
		if key == nil && found != 6 {
			t.Fatalf("plain file holds %d of 6 probes: the probe is broken", found)
		}
		if key != nil && found != 0 {
			t.Fatalf("aes-%d file holds %d plaintext probes", len(key)*8, found)
		}
		db, err = Open(dir, &Options{EncryptionKey: key})
		if err != nil {
			t.Fatal(err)
		}
		verify(t, db, m)
		mustCheck(t, db)
		if want := map[int]string{0: "off", 16: "aes-128-gcm", 32: "aes-256-gcm"}[len(key)]; db.Stats().Encryption != want {
			t.Fatalf("Stats().Encryption = %q, want %q", db.Stats().Encryption, want)
		}
		db.Close()
	}
}

// TestEncryptKeyErrors: a wrong key, a key of the other size, no key for an
// encrypted database and a key for a plain one fail at open, saying so.
func TestEncryptKeyErrors(t *testing.T) {
	enc, plain := t.TempDir(), t.TempDir()
	for dir, key := range map[string][]byte{enc: encKey256, plain: nil} {
		db, err := Open(dir, &Options{EncryptionKey: key})
		if err != nil {
			t.Fatal(err)
		}
		secretModel(t, db)
		db.Close()
	}
	for _, tc := range []struct {
		name string
		dir  string
		key  []byte
		want error
		text string
	}{
		{"wrong key", enc, bytes.Repeat([]byte{1}, 32), ErrWrongKey, "wrong encryption key"},
		{"aes-128 key", enc, encKey128, ErrWrongKey, "uses AES-256, the key has 16 bytes"},
		{"no key", enc, nil, ErrKeyRequired, "an encryption key is required"},
		{"key size", enc, make([]byte, 24), ErrKeySize, "16 or 32 bytes"},
		{"plain file", plain, encKey128, ErrNotEncrypted, "not encrypted"},
	} {
		db, err := Open(tc.dir, &Options{EncryptionKey: tc.key})
		if err == nil {
			db.Close()
			t.Fatalf("%s: opened", tc.name)
		}
		if !errors.Is(err, tc.want) || errors.Is(err, ErrCorrupt) || !strings.Contains(err.Error(), tc.text) {
			t.Fatalf("%s: %v, want %v", tc.name, err, tc.want)
		}
	}
	db, err := Open(enc, &Options{EncryptionKey: encKey256})
	if err != nil {
		t.Fatalf("right key after failed opens: %v", err)
	}
	mustCheck(t, db)
	db.Close()
}

// TestEncryptTamperEveryPage: every reachable run and both metas of an
// encrypted file, with a byte changed in the fingerprint, the header (id,
// txn, type, run length), the body, the tag, the nonce or the reserved
// trailer bytes, fail to open as corruption naming that page.
func TestEncryptTamperEveryPage(t *testing.T) {
	src := t.TempDir()
	ops := 3000
	if long() {
		ops = 30000
	}
	buildCorruptDB(t, src, ops, encKey256)
	l := readLayout(t, DataPath(src), encKey256)
	raw, err := os.ReadFile(DataPath(src))
	if err != nil {
		t.Fatal(err)
	}
	r := rand.New(rand.NewPCG(8, 9))
	runs := 0
	for id, pages := range l.runs {
		size := pages * corruptPS
		run := raw[int(id)*corruptPS : int(id)*corruptPS+size]
		body := page.HeaderSize + r.IntN(size-page.HeaderSize-page.TrailerSize)
		for _, off := range []int{3, 8, 16, 24, 28, body, size - page.TrailerSize + 3, size - page.TrailerSize + page.TagSize + 5, size - 1} {
			b := bytes.Clone(run)
			b[off] ^= 0x21
			_, _, err := l.codec.Open(b, id, 0, l.txns[id], corruptPS)
			var ce *page.CorruptError
			if !errors.As(err, &ce) || ce.ID != id {
				t.Fatalf("page %d (%d pages), byte %d changed: %v", id, pages, off, err)
			}
		}
		if _, _, err := l.codec.Open(bytes.Clone(run), id, 0, l.txns[id], corruptPS); err != nil {
			t.Fatalf("page %d unchanged: %v", id, err)
		}
		// Moved to another offset, or a stale copy (another txn): corrupt.
		if _, _, err := l.codec.Open(bytes.Clone(run), id+1, 0, 0, corruptPS); !errors.Is(err, page.ErrCorrupt) || !namesPage(err, false, id+1) {
			t.Fatalf("page %d read as page %d: %v", id, id+1, err)
		}
		if _, _, err := l.codec.Open(bytes.Clone(run), id, 0, l.txns[id]+1, corruptPS); !errors.Is(err, page.ErrCorrupt) || !namesPage(err, false, id) {
			t.Fatalf("page %d read for a newer txn: %v", id, err)
		}
		runs++
	}
	for slot := uint64(0); slot < 2; slot++ {
		meta := raw[int(slot)*corruptPS : int(slot+1)*corruptPS]
		for _, off := range []int{3, 8, 16, 24, page.HeaderSize + 12, page.HeaderSize + 30, page.HeaderSize + 60, page.HeaderSize + 90, corruptPS - 20, corruptPS - 1} {
			b := bytes.Clone(meta)
			b[off] ^= 0x01
			_, err := l.codec.DecodeMeta(b, slot, corruptPS)
			if !errors.Is(err, page.ErrCorrupt) || !namesPage(err, false, slot) {
				t.Fatalf("meta %d, byte %d changed: %v", slot, off, err)
			}
		}
	}
	if runs < 50 {
		t.Fatalf("only %d runs in the test file", runs)
	}
}

// TestEncryptBackup: the backup of an encrypted database is encrypted with
// the same key under a new salt, holds no plaintext, opens with the key
// and passes Check.
func TestEncryptBackup(t *testing.T) {
	dir := t.TempDir()
	db, err := Open(dir, &Options{EncryptionKey: encKey128})
	if err != nil {
		t.Fatal(err)
	}
	m := secretModel(t, db)
	out := filepath.Join(t.TempDir(), "copy.db")
	if err := db.Backup(out); err != nil {
		t.Fatal(err)
	}
	db.Close()
	raw, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(raw, []byte("digby-secret")) {
		t.Fatal("backup holds plaintext")
	}
	orig := readPageBytes(t, DataPath(dir), 0, 1)
	saltAt := page.HeaderSize + 24
	if bytes.Equal(orig[saltAt:saltAt+page.SaltSize], raw[saltAt:saltAt+page.SaltSize]) {
		t.Fatal("backup shares the database's salt (and so its page key)")
	}
	bdir := t.TempDir()
	if err := os.Rename(out, DataPath(bdir)); err != nil {
		t.Fatal(err)
	}
	if _, err := Open(bdir, nil); !errors.Is(err, ErrKeyRequired) {
		t.Fatalf("backup opened without a key: %v", err)
	}
	db, err = Open(bdir, &Options{EncryptionKey: encKey128})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	verify(t, db, m)
	mustCheck(t, db)
}

// nonceRecorder records the nonce of every run written to an encrypted
// file (metas included), and the (page id, txn) of its header.
type nonceRecorder struct {
	mu     sync.Mutex
	ps     int
	nonces map[[page.NonceSize]byte]string
	idTxn  map[[2]uint64]int
	epochs map[int][]uint32 // epochs of the metas written, by session
	dups   []string
}

func (r *nonceRecorder) record(p []byte, session int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	eachRun(p, r.ps, func(run []byte, h page.Header) {
		var n [page.NonceSize]byte
		copy(n[:], run[len(run)-page.TrailerSize+page.TagSize:])
		what := fmt.Sprintf("session %d: page %d (%v, txn %d)", session, h.ID, h.Type, h.Txn)
		if prev, ok := r.nonces[n]; ok {
			r.dups = append(r.dups, fmt.Sprintf("nonce %x: %s and %s", n, prev, what))
		}
		r.nonces[n] = what
		if h.Type == page.TypeMeta {
			r.epochs[session] = append(r.epochs[session], binary.LittleEndian.Uint32(run[page.HeaderSize+20:]))
		} else {
			r.idTxn[[2]uint64{h.ID, h.Txn}]++
		}
	})
}

// eachRun calls fn for every sealed run in p, a write of whole runs of ps-byte pages.
func eachRun(p []byte, ps int, fn func(run []byte, h page.Header)) {
	for pos := 0; pos+ps <= len(p); {
		h := page.ReadHeader(p[pos:])
		run := p[pos : pos+min(h.Pages()*ps, len(p)-pos)]
		fn(run, h)
		pos += len(run)
	}
}

// recordingBackend records every write's nonces and keeps writes volatile
// until Sync (a lossyBackend that never kills); crash drops what was not
// synced and fails every later write and sync, as power loss would.
type recordingBackend struct {
	*lossyBackend
	rec     *nonceRecorder
	session int
	crashAt int // crash at this write (1-based); 0 never
	writes  int
	dead    bool
}

var errPowerLost = errors.New("power lost")

func (b *recordingBackend) WriteAt(p []byte, off int64) (int, error) {
	b.rec.record(p, b.session)
	b.mu.Lock()
	b.writes++
	dead := b.dead || b.writes == b.crashAt
	b.mu.Unlock()
	if dead {
		b.crash()
		return 0, errPowerLost
	}
	return b.lossyBackend.WriteAt(p, off)
}

func (b *recordingBackend) Sync() error {
	b.mu.Lock()
	dead := b.dead
	b.mu.Unlock()
	if dead {
		return errPowerLost
	}
	return b.lossyBackend.Sync()
}

func (b *recordingBackend) crash() {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.dead = true
	b.pending = nil
}

// TestEncryptNoncesNeverRepeat: write and flush, write more (overflow runs
// reach the backend before any flush), lose power before the flush; then an
// open whose epoch bump itself is lost mid-write; then reopen and write
// again, reusing the lost txn ids and page ids. Every nonce ever written
// (metas included) is distinct, though (page id, txn) pairs repeat and the
// torn bump's epoch is bumped to again.
func TestEncryptNoncesNeverRepeat(t *testing.T) {
	dir := t.TempDir()
	rec := &nonceRecorder{ps: page.MinPageSize, nonces: map[[page.NonceSize]byte]string{}, idTxn: map[[2]uint64]int{}, epochs: map[int][]uint32{}}
	var cur *recordingBackend
	open := func(session, crashAt int) (*DB, error) {
		// NoCompression: the repeated values must fill pages and overflow.
		return Open(dir, &Options{EncryptionKey: encKey256, Durability: No, NoCompression: true, OpenFile: func(path string) (page.Backend, error) {
			f, err := os.OpenFile(path, os.O_RDWR, 0)
			if err != nil {
				return nil, err
			}
			cur = &recordingBackend{lossyBackend: newLossyBackend(f, -1, uint64(session)), rec: rec, session: session, crashAt: crashAt}
			return cur, nil
		}})
	}
	write := func(db *DB, from, to int) {
		t.Helper()
		for c := from; c < to; c++ {
			err := db.Update(func(tx *Tx) error {
				for i := 0; i < 20; i++ {
					v := bytes.Repeat([]byte{byte(c), byte(i)}, 20)
					if i%7 == 0 {
						v = bytes.Repeat(v, 200) // overflow, written at once
					}
					if _, err := tx.Table(0).Put([]byte(fmt.Sprintf("k%03d-%d", i, c%3)), v, TypeString, 0); err != nil {
						return err
					}
				}
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
		}
	}
	// Session 1: durable writes, then unflushed ones, then power loss.
	db, err := open(1, 0)
	if err != nil {
		t.Fatal(err)
	}
	write(db, 0, 10)
	if err := db.Flush(); err != nil {
		t.Fatal(err)
	}
	var durable uint64
	db.View(func(tx *Tx) error { durable = tx.TxID(); return nil })
	write(db, 10, 30)
	cur.crash()
	db.file.Close() // abandon the crashed store; release its lock
	// Session 2: the epoch bump (the first write of an open) is lost.
	if db, err := open(2, 1); err == nil {
		db.Close()
		t.Fatal("open survived losing its epoch bump")
	}
	// Session 3: back at the durable state; the lost txns are redone.
	db, err = open(3, 0)
	if err != nil {
		t.Fatal(err)
	}
	var txn uint64
	db.View(func(tx *Tx) error { txn = tx.TxID(); return nil })
	if txn != durable {
		t.Fatalf("reopened at txn %d, want the durable %d", txn, durable)
	}
	write(db, 10, 40)
	if err := db.Flush(); err != nil {
		t.Fatal(err)
	}
	write(db, 40, 45)
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	db, err = open(4, 0)
	if err != nil {
		t.Fatal(err)
	}
	// A flush of more than 2*encodeSplit pages seals them on two
	// goroutines: their nonces must still be distinct.
	updateRange(t, db, 0, 40000, 1, 40000, func(tx *Tx, i int) error {
		return putString(tx, 1, []byte(fmt.Sprintf("bulk-%06d", i)), bytes.Repeat([]byte{byte(i)}, 40))
	})
	w0 := db.Stats().BytesWritten
	if err := db.Flush(); err != nil {
		t.Fatal(err)
	}
	if pages := (db.Stats().BytesWritten - w0) / uint64(db.PageSize()); pages < 2*encodeSplit {
		t.Fatalf("the bulk flush wrote %d pages; the test needs over %d to seal on two goroutines", pages, 2*encodeSplit)
	}
	mustCheck(t, db)
	db.Close()

	for _, d := range rec.dups {
		t.Error(d)
	}
	reused := 0
	for _, n := range rec.idTxn {
		if n > 1 {
			reused++
		}
	}
	if reused == 0 {
		t.Fatal("no (page id, txn) was written twice: the scenario does not exercise reuse")
	}
	// Session 1 bumps to epoch 1, session 2's lost bump is to epoch 2,
	// and session 3 bumps to epoch 2 again (with a new random nonce).
	if e := rec.epochs; len(e[2]) != 1 || len(e[3]) == 0 || e[1][0] != 1 || e[2][0] != 2 || e[3][0] != 2 {
		t.Fatalf("meta epochs by session %v: want the lost bump's epoch bumped to again", e)
	}
	t.Logf("%d nonces, all distinct; %d (page id, txn) pairs written more than once; meta epochs %v", len(rec.nonces), reused, rec.epochs)
}

// TestEncryptEpochExhausted: an open whose epoch would pass page.MaxEpoch
// is refused with an error that says so, before it writes anything; the
// file stays as it was.
func TestEncryptEpochExhausted(t *testing.T) {
	dir := t.TempDir()
	db, err := Open(dir, &Options{EncryptionKey: encKey256})
	if err != nil {
		t.Fatal(err)
	}
	if err := db.Update(func(tx *Tx) error { return putString(tx, 0, []byte("k"), []byte("v")) }); err != nil {
		t.Fatal(err)
	}
	if err := db.Flush(); err != nil {
		t.Fatal(err)
	}
	m := db.newestMeta()
	before := *m
	err = db.bumpEpoch(m, page.MaxEpoch)
	if err == nil || !strings.Contains(err.Error(), "out of range") {
		t.Fatalf("bumping past the last epoch: %v", err)
	}
	if *db.newestMeta() != before {
		t.Fatal("a refused epoch bump changed the newest meta")
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	db, err = Open(dir, &Options{EncryptionKey: encKey256})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	db.View(func(tx *Tx) error {
		if tu, ok, err := tx.Table(0).Get([]byte("k")); err != nil || !ok || string(tu.Value) != "v" {
			t.Fatalf("after a refused bump: %q %v %v", tu.Value, ok, err)
		}
		return nil
	})
}
