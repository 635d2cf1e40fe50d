package store

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"math/rand/v2"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// TestConcurrentReaders runs readers that scan whole tables and do point
// reads while the writer commits (transfers, inserts, deletes, overflow
// values, ClearTable, SwapTables, flushes with page reuse). The writer keeps
// invariants that every snapshot must show intact:
//   - table 0: accounts whose balances always sum to accounts*100;
//   - tables 1..3: either empty, or "#n" holds the number of other keys,
//     equal to Count()-1; every value names its own key and is self-checking.
func TestConcurrentReaders(t *testing.T) {
	const accounts = 200
	commits := 150
	readers := 3
	if long() {
		commits, readers = 4000, 8
	}
	db, err := Open(t.TempDir(), &Options{Durability: Everysec, FlushInterval: 5 * time.Millisecond,
		CacheSize: 256 << 10, DirtyCap: 128 << 10})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	bal := func(n int64) []byte { return []byte(strconv.FormatInt(n, 10)) }
	if err := db.Update(func(tx *Tx) error {
		for i := 0; i < accounts; i++ {
			if _, err := tx.Table(0).Put([]byte(fmt.Sprintf("acct-%04d", i)), bal(100), TypeString, 0); err != nil {
				return err
			}
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}

	var stop atomic.Bool
	var wg sync.WaitGroup
	errc := make(chan error, readers+1)
	var snapshots atomic.Int64
	for rd := 0; rd < readers; rd++ {
		wg.Add(1)
		go func(rd int) {
			defer wg.Done()
			r := rand.New(rand.NewPCG(uint64(rd), 3))
			for !stop.Load() {
				if err := db.View(func(tx *Tx) error { return checkSnapshot(tx, r, accounts) }); err != nil {
					errc <- fmt.Errorf("reader %d: %w", rd, err)
					return
				}
				snapshots.Add(1)
			}
		}(rd)
	}

	r := rand.New(rand.NewPCG(9, 9))
	for c := 0; c < commits; c++ {
		err := db.Update(func(tx *Tx) error {
			// Transfers keep the sum.
			for i := 0; i < 5; i++ {
				a := []byte(fmt.Sprintf("acct-%04d", r.IntN(accounts)))
				b := []byte(fmt.Sprintf("acct-%04d", r.IntN(accounts)))
				amt := int64(r.IntN(50))
				if err := addTo(tx, a, -amt); err != nil {
					return err
				}
				if err := addTo(tx, b, amt); err != nil {
					return err
				}
			}
			tn := uint32(1 + r.IntN(3))
			switch x := r.IntN(100); {
			case x < 3:
				return tx.ClearTable(tn)
			case x < 6:
				return tx.SwapTables(tn, uint32(1+r.IntN(3)))
			}
			tb := tx.Table(tn)
			n, err := counter(tb)
			if err != nil {
				return err
			}
			for i := 0; i < 1+r.IntN(20); i++ {
				k := []byte(fmt.Sprintf("k%05d", r.IntN(5000)))
				_, had, err := tb.Get(k)
				if err != nil {
					return err
				}
				if r.IntN(4) == 0 {
					if had {
						if _, err := tb.Delete(k); err != nil {
							return err
						}
						n--
					}
					continue
				}
				size := 8 + r.IntN(64)
				if r.IntN(20) == 0 {
					size = 5000 + r.IntN(10000)
				}
				if _, err := tb.Put(k, selfValue(k, size, r.Uint64()), TypeString, 0); err != nil {
					return err
				}
				if !had {
					n++
				}
			}
			if n == 0 {
				_, err = tb.Delete([]byte("#n"))
				return err
			}
			_, err = tb.Put([]byte("#n"), bal(n), TypeString, 0)
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
		select {
		case err := <-errc:
			t.Fatal(err)
		default:
		}
	}
	stop.Store(true)
	wg.Wait()
	close(errc)
	for err := range errc {
		t.Fatal(err)
	}
	if snapshots.Load() == 0 {
		t.Fatal("no reader finished a snapshot")
	}
	t.Logf("%d snapshots checked during %d commits", snapshots.Load(), commits)
	r2 := rand.New(rand.NewPCG(1, 1))
	if err := db.View(func(tx *Tx) error { return checkSnapshot(tx, r2, accounts) }); err != nil {
		t.Fatal(err)
	}
	mustCheck(t, db)
}

func addTo(tx *Tx, k []byte, d int64) error {
	tu, ok, err := tx.Table(0).Get(k)
	if err != nil {
		return err
	}
	if !ok {
		return fmt.Errorf("account %s missing", k)
	}
	n, err := strconv.ParseInt(string(tu.Value), 10, 64)
	if err != nil {
		return err
	}
	_, err = tx.Table(0).Put(k, []byte(strconv.FormatInt(n+d, 10)), TypeString, 0)
	return err
}

func counter(tb *Table) (int64, error) {
	tu, ok, err := tb.Get([]byte("#n"))
	if err != nil || !ok {
		return 0, err
	}
	return strconv.ParseInt(string(tu.Value), 10, 64)
}

// selfValue is key ‖ 0 ‖ seed ‖ filler derived from seed, so a reader can
// tell a value belongs to its key and is whole.
func selfValue(k []byte, size int, seed uint64) []byte {
	v := make([]byte, 0, len(k)+9+size)
	v = append(v, k...)
	v = append(v, 0)
	v = binary.BigEndian.AppendUint64(v, seed)
	fr := rand.New(rand.NewPCG(seed, 0))
	for i := 0; i < size; i++ {
		v = append(v, byte(fr.UintN(256)))
	}
	return v
}

func checkSelfValue(k, v []byte) error {
	if len(v) < len(k)+9 || !bytes.Equal(v[:len(k)], k) || v[len(k)] != 0 {
		return fmt.Errorf("key %q holds a value of another key", k)
	}
	seed := binary.BigEndian.Uint64(v[len(k)+1:])
	want := selfValue(k, len(v)-len(k)-9, seed)
	if !bytes.Equal(v, want) {
		return fmt.Errorf("key %q: value damaged", k)
	}
	return nil
}

// checkSnapshot verifies the writer's invariants in one snapshot, with
// full scans and point reads agreeing with each other.
func checkSnapshot(tx *Tx, r *rand.Rand, accounts int) error {
	var sum int64
	seen := map[string]int64{}
	c := tx.Table(0).ScanCursor() // pages used in the mapping while the writer writes
	for ok := c.First(); ok; ok = c.Next() {
		tu := c.Tuple()
		n, err := strconv.ParseInt(string(tu.Value), 10, 64)
		if err != nil {
			return fmt.Errorf("account %s: %q", tu.Key, tu.Value)
		}
		sum += n
		seen[string(tu.Key)] = n
	}
	if c.Err() != nil {
		return c.Err()
	}
	if len(seen) != accounts || sum != int64(accounts)*100 {
		return fmt.Errorf("txn %d: %d accounts sum to %d, want %d and %d", tx.TxID(), len(seen), sum, accounts, accounts*100)
	}
	for i := 0; i < 20; i++ {
		k := fmt.Sprintf("acct-%04d", r.IntN(accounts))
		tu, ok, err := tx.Table(0).Get([]byte(k))
		if err != nil || !ok || string(tu.Value) != strconv.FormatInt(seen[k], 10) {
			return fmt.Errorf("txn %d: point read of %s = %q, %v, %v; scan saw %d", tx.TxID(), k, tu.Value, ok, err, seen[k])
		}
	}
	for tn := uint32(1); tn <= 3; tn++ {
		tb := tx.Table(tn)
		var keys [][]byte
		var want int64 = -1
		c := tb.Cursor()
		for ok := c.First(); ok; ok = c.Next() {
			tu := c.Tuple()
			if string(tu.Key) == "#n" {
				n, err := strconv.ParseInt(string(tu.Value), 10, 64)
				if err != nil {
					return err
				}
				want = n
				continue
			}
			if err := checkSelfValue(tu.Key, tu.Value); err != nil {
				return fmt.Errorf("txn %d table %d: %w", tx.TxID(), tn, err)
			}
			keys = append(keys, bytes.Clone(tu.Key))
		}
		if c.Err() != nil {
			return c.Err()
		}
		if len(keys) == 0 && want == -1 && tb.Count() == 0 {
			continue
		}
		if int64(len(keys)) != want || tb.Count() != uint64(len(keys))+1 {
			return fmt.Errorf("txn %d table %d: %d keys, counter %d, Count %d", tx.TxID(), tn, len(keys), want, tb.Count())
		}
		for i := 0; i < 5 && len(keys) > 0; i++ {
			k := keys[r.IntN(len(keys))]
			tu, ok, err := tb.Get(k)
			if err != nil || !ok {
				return fmt.Errorf("txn %d table %d: point read of %q: %v %v", tx.TxID(), tn, k, ok, err)
			}
			if err := checkSelfValue(k, tu.Value); err != nil {
				return err
			}
		}
	}
	return nil
}
