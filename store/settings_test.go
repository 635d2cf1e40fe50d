package store

import (
	"os"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/digby-db/digby/page"
)

// TestRuntimeSettings: SetDurability and SetCacheSize refuse what they
// cannot honour, and a smaller cache bound evicts at once.
func TestRuntimeSettings(t *testing.T) {
	db, err := Open(t.TempDir(), &Options{NoWarmCache: true})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if err := db.SetDurability(Durability(7)); err == nil {
		t.Fatal("SetDurability(7) accepted")
	}
	for _, n := range []int64{0, -1} {
		if err := db.SetCacheSize(n); err == nil {
			t.Fatalf("SetCacheSize(%d) accepted", n)
		}
	}
	updateRange(t, db, 0, 20000, 1, 5000, func(tx *Tx, i int) error {
		return putString(tx, 0, []byte{byte(i >> 8), byte(i), 'k'}, make([]byte, 50))
	})
	if err := db.Flush(); err != nil {
		t.Fatal(err)
	}
	// A sequential load's full leaves are not cached when flushed
	// (btree's Filled): reading them back caches them.
	if err := db.View(func(tx *Tx) error {
		for i := 0; i < 20000; i++ {
			if _, _, err := tx.Table(0).Get([]byte{byte(i >> 8), byte(i), 'k'}); err != nil {
				return err
			}
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if b := db.Stats().CacheBytes; b < 64<<10 {
		t.Fatalf("only %d bytes cached; the test needs more than the new bound", b)
	}
	if err := db.SetCacheSize(64 << 10); err != nil {
		t.Fatal(err)
	}
	if st := db.Stats(); st.CacheSize != 64<<10 || st.CacheBytes > 64<<10 {
		t.Fatalf("after SetCacheSize(64 KiB): bound %d, %d bytes cached", st.CacheSize, st.CacheBytes)
	}
	if err := db.SetDurability(Always); err != nil {
		t.Fatal(err)
	}
	mustCheck(t, db)
}

// blockingBackend holds every Sync while armed, until release is closed.
type blockingBackend struct {
	*os.File
	armed   atomic.Bool
	entered chan struct{} // receives once per held Sync
	release chan struct{}
}

func (b *blockingBackend) Sync() error {
	if b.armed.Load() {
		b.entered <- struct{}{}
		<-b.release
	}
	return b.File.Sync()
}

// TestDurabilitySwitchDuringFlush: an Always-mode write waiting for its
// flush keeps waiting for it after a switch to No (it was promised
// durability), while writes made under No are acknowledged at once.
func TestDurabilitySwitchDuringFlush(t *testing.T) {
	var bb *blockingBackend
	opts := &Options{Durability: Always, FlushInterval: time.Hour, NoWarmCache: true, OpenFile: func(path string) (page.Backend, error) {
		f, err := os.OpenFile(path, os.O_RDWR, 0)
		if err != nil {
			return nil, err
		}
		bb = &blockingBackend{File: f, entered: make(chan struct{}, 1), release: make(chan struct{})}
		return bb, nil
	}}
	db, err := Open(t.TempDir(), opts)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var once sync.Once
	unblock := func() { bb.armed.Store(false); once.Do(func() { close(bb.release) }) }
	defer unblock() // before Close, which waits for the flush
	bb.armed.Store(true)
	first := make(chan error, 1)
	go func() {
		first <- db.Update(func(tx *Tx) error { return putString(tx, 0, []byte("always"), []byte("1")) })
	}()
	<-bb.entered // its flush is syncing
	if err := db.SetDurability(No); err != nil {
		t.Fatal(err)
	}
	// Under No a write is acknowledged on commit, beside the held flush.
	if err := db.Update(func(tx *Tx) error { return putString(tx, 0, []byte("no"), []byte("2")) }); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-first:
		t.Fatalf("the Always-mode write was acknowledged (%v) before its flush landed", err)
	case <-time.After(50 * time.Millisecond):
	}
	unblock()
	if err := <-first; err != nil {
		t.Fatal(err)
	}
	for k, v := range map[string]string{"always": "1", "no": "2"} {
		if got := getOne(t, db, k); string(got) != v {
			t.Fatalf("%s = %q, want %q", k, got, v)
		}
	}
	mustCheck(t, db)
}
