package store

import (
	"fmt"
	"testing"
)

// TestWarmCache: after a reopen, warming loads every tree page when the
// cache can hold them (a full scan and point reads then miss nothing),
// keeps to its share of a small cache, and runs beside writes, plain and
// encrypted.
func TestWarmCache(t *testing.T) {
	for _, key := range [][]byte{nil, encKey256} {
		t.Run(fmt.Sprintf("encrypted=%v", key != nil), func(t *testing.T) {
			dir := t.TempDir()
			db, err := Open(dir, &Options{EncryptionKey: key, NoWarmCache: true})
			if err != nil {
				t.Fatal(err)
			}
			const n = 30000
			k := func(i int) []byte { return []byte(fmt.Sprintf("key-%08d", i*7919%n)) }
			updateRange(t, db, 0, n, 1, 3000, func(tx *Tx, i int) error {
				return putString(tx, uint32(i%3), k(i), []byte(fmt.Sprintf("value-%d", i)))
			})
			settle(t, db)
			if err := db.Close(); err != nil {
				t.Fatal(err)
			}

			// A cache that holds everything: no misses after warming.
			db, err = Open(dir, &Options{EncryptionKey: key})
			if err != nil {
				t.Fatal(err)
			}
			<-db.warmDone
			before := db.Stats()
			if before.CacheBytes == 0 {
				t.Fatal("warming cached nothing")
			}
			got := 0
			if err := db.View(func(tx *Tx) error {
				for tn := uint32(0); tn < 3; tn++ {
					c := tx.Table(tn).Cursor()
					for ok := c.First(); ok; ok = c.Next() {
						got++
					}
					if err := c.Err(); err != nil {
						return err
					}
				}
				for i := 0; i < n; i += 101 {
					tu, ok, err := tx.Table(uint32(i % 3)).Get(k(i))
					if err != nil || !ok || string(tu.Value) != fmt.Sprintf("value-%d", i) {
						return fmt.Errorf("get %s: %q %v %v", k(i), tu.Value, ok, err)
					}
				}
				return nil
			}); err != nil {
				t.Fatal(err)
			}
			if got != n {
				t.Fatalf("scan found %d keys, want %d", got, n)
			}
			if after := db.Stats(); after.CacheMisses != before.CacheMisses {
				t.Fatalf("%d cache misses after warming (txid %d to %d, flushes %d to %d, free %d pending %d)", after.CacheMisses-before.CacheMisses, before.TxID, after.TxID, before.Flushes, after.Flushes, after.FreePages, after.PendingPages)
			}
			mustCheck(t, db)
			db.Close()

			// A small cache: warming keeps to its bound, and writes (one
			// transaction each) run beside it and read back.
			const small = 64 << 10
			db, err = Open(dir, &Options{EncryptionKey: key, CacheSize: small})
			if err != nil {
				t.Fatal(err)
			}
			updateRange(t, db, 0, 200, 1, 1, func(tx *Tx, i int) error {
				return putString(tx, 0, k(i*3), []byte("new"))
			})
			<-db.warmDone
			if b := db.Stats().CacheBytes; b > small {
				t.Fatalf("cache holds %d bytes, bound %d", b, small)
			}
			if err := db.View(func(tx *Tx) error {
				for i := 0; i < 200; i++ {
					if tu, ok, err := tx.Table(0).Get(k(i * 3)); err != nil || !ok || string(tu.Value) != "new" {
						return fmt.Errorf("get %s after writes beside warming: %q %v %v", k(i*3), tu.Value, ok, err)
					}
				}
				return nil
			}); err != nil {
				t.Fatal(err)
			}
			mustCheck(t, db)
			if err := db.Close(); err != nil {
				t.Fatal(err)
			}
		})
	}
}

// settle runs the writer's idle work until relocation moves nothing more,
// so that a reopened DB's idle relocation (which starts at once: no write
// has come yet) finds nothing to move. A move frees the page it moves,
// which leaves the cache (commit), and a reader of the snapshot before it
// then reads it back from the file: a cache miss.
func settle(t *testing.T, db *DB) {
	t.Helper()
	for i := 0; ; i++ {
		idle(t, db)
		var moved bool
		if err := db.control(func() error {
			var err error
			moved, err = db.relocateStep()
			return err
		}); err != nil {
			t.Fatal(err)
		}
		if !moved {
			return
		}
		if i == 10000 {
			t.Fatal("relocation still moving pages after 10000 idle cycles")
		}
	}
}
