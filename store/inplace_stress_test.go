package store

import (
	"bytes"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// TestInPlaceReadersStress: readers of every kind (held snapshots
// scanned twice with Cursor and ScanCursor, Touch then Get, DB.Prefetch)
// run beside batches that change nodes in place (puts of growing and
// overflow values, deletes, inserts that split, failing submissions that
// roll back, SWAPDB and a cleared table in the same batches), with short
// flush intervals so that flushes take the set beside the writer. Under
// -race a reader reading a node the writer changes is reported; a
// snapshot must read the same thing twice.
func TestInPlaceReadersStress(t *testing.T) {
	db, err := Open(t.TempDir(), &Options{FlushInterval: 5 * time.Millisecond, DirtyCap: 64 * 4096, NoWarmCache: true})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	db.ipPause = 0
	const keys = 3000
	key := func(i int) []byte { return []byte(fmt.Sprintf("key-%05d", i)) }
	val := func(r *rand.Rand, g int) []byte {
		n := 8 + r.IntN(120)
		if r.IntN(200) == 0 {
			n = 5000 // overflow
		}
		return append([]byte(fmt.Sprintf("g%07d-", g)), bytes.Repeat([]byte{'x'}, n)...)
	}
	r0 := rand.New(rand.NewPCG(1, 1))
	if err := db.Update(func(tx *Tx) error {
		for i := 0; i < keys; i += 2 {
			if _, err := tx.Table(0).Put(key(i), val(r0, 0), TypeString, 0); err != nil {
				return err
			}
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	scan := func(tx *Tx, table uint32, lend bool) (map[string]string, error) {
		out := map[string]string{}
		var c *Cursor
		if lend {
			c = tx.Table(table).ScanCursor()
		} else {
			c = tx.Table(table).Cursor()
		}
		var last []byte
		for ok := c.First(); ok; ok = c.Next() {
			k, v := c.KeyValue()
			if last != nil && bytes.Compare(last, k) >= 0 {
				return nil, fmt.Errorf("keys out of order: %q then %q", last, k)
			}
			last = append(last[:0], k...)
			out[string(k)] = string(v)
		}
		return out, c.Err()
	}
	same := func(a, b map[string]string) error {
		if len(a) != len(b) {
			return fmt.Errorf("%d keys then %d", len(a), len(b))
		}
		for k, v := range a {
			if b[k] != v {
				return fmt.Errorf("%s: %.12q then %.12q", k, v, b[k])
			}
		}
		return nil
	}
	var stop atomic.Bool
	var wg sync.WaitGroup
	errc := make(chan error, 8)
	for rd := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := rand.New(rand.NewPCG(uint64(rd), 9))
			var ts TouchScratch
			for !stop.Load() {
				err := db.View(func(tx *Tx) error {
					switch rd {
					case 0, 1:
						a, err := scan(tx, 0, rd == 1)
						if err != nil {
							return err
						}
						time.Sleep(time.Duration(r.IntN(3000)) * time.Microsecond)
						b, err := scan(tx, 0, rd == 0)
						if err != nil {
							return err
						}
						return same(a, b)
					case 2:
						ks := make([][]byte, 16)
						for i := range ks {
							ks[i] = key(r.IntN(keys))
						}
						tx.Table(0).Touch(ks, &ts)
						got := make([]string, len(ks))
						for i, k := range ks {
							tu, _, err := tx.Table(0).Get(k)
							if err != nil {
								return err
							}
							got[i] = string(tu.Value)
						}
						time.Sleep(time.Duration(r.IntN(1000)) * time.Microsecond)
						for i, k := range ks {
							tu, _, err := tx.Table(0).Get(k)
							if err != nil {
								return err
							}
							if string(tu.Value) != got[i] {
								return fmt.Errorf("%s: %.12q then %.12q", k, got[i], tu.Value)
							}
						}
					}
					return nil
				})
				if err != nil {
					errc <- fmt.Errorf("reader %d: %w", rd, err)
					return
				}
				if rd == 3 {
					db.Prefetch(0, key(r.IntN(keys)), key(r.IntN(keys)))
				}
				time.Sleep(time.Duration(r.IntN(300)) * time.Microsecond)
			}
		}()
	}
	r := rand.New(rand.NewPCG(7, 7))
	errFail := errors.New("rolled back")
	deadline := time.Now().Add(3 * time.Second)
	for g := 1; time.Now().Before(deadline) && len(errc) == 0; g++ {
		ps := make([]*Pending, 1+r.IntN(16))
		for j := range ps {
			op, i, v, fail := r.IntN(10), r.IntN(keys), val(r, g), r.IntN(5) == 0
			ps[j] = NewPending(func(tx *Tx) error {
				var err error
				switch {
				case op < 6:
					_, err = tx.Table(0).Put(key(i), v, TypeString, 0)
				case op < 8:
					_, err = tx.Table(0).Delete(key(i))
				case op == 8:
					for k := 0; k < 20 && err == nil; k++ {
						_, err = tx.Table(2).Put(key(i+k), v, TypeString, 0)
					}
				default:
					if err = tx.ClearTable(2); err == nil {
						err = tx.SwapTables(3, 4)
					}
				}
				if err == nil && fail {
					err = errFail
				}
				return err
			})
		}
		db.SubmitAll(ps...)
		for _, p := range ps {
			if err := p.Wait(); err != nil && !errors.Is(err, errFail) {
				t.Fatal(err)
			}
		}
	}
	stop.Store(true)
	wg.Wait()
	close(errc)
	for err := range errc {
		t.Error(err)
	}
	t.Logf("in-place nodes %d, reader waits %d, flushes %d", db.inPlaceNodes.Load(), db.gateWaits.Load(), db.flushes.Load())
	mustCheck(t, db)
}
