package store

import (
	"bytes"
	"fmt"
	"math/rand"
	"testing"
)

// TestTableTouch checks Table.Touch's count of present keys, short and
// long (past KeyPrefixSize: looked up by their tree key), on a snapshot
// with flushed and unflushed pages, and on a table that does not exist.
func TestTableTouch(t *testing.T) {
	db, err := Open(t.TempDir(), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	r := rand.New(rand.NewSource(1))
	var keys [][]byte
	for i := range 3000 {
		k := []byte(fmt.Sprintf("%016x-%d", r.Uint64(), i))
		if i%50 == 0 {
			k = append(k, bytes.Repeat([]byte{'L'}, KeyPrefixSize)...)
		}
		keys = append(keys, k)
	}
	put := func(ks [][]byte) {
		if err := db.Update(func(tx *Tx) error {
			for _, k := range ks {
				if _, err := tx.Table(3).Put(k, []byte("v"), TypeString, 0); err != nil {
					return err
				}
			}
			return nil
		}); err != nil {
			t.Fatal(err)
		}
	}
	put(keys[:2000])
	if err := db.Flush(); err != nil {
		t.Fatal(err)
	}
	put(keys[2000:2500]) // unflushed
	var s TouchScratch
	if err := db.View(func(tx *Tx) error {
		for round := range 200 {
			var batch [][]byte
			want := 0
			for range 1 + r.Intn(30) {
				i := r.Intn(len(keys))
				if r.Intn(4) == 0 {
					batch = append(batch, []byte(fmt.Sprintf("absent-%d", r.Int())))
					continue
				}
				batch = append(batch, keys[i])
				if i < 2500 {
					want++
				}
			}
			kept := fmt.Sprint(batch)
			if got := tx.Table(3).Touch(batch, &s); got != want {
				return fmt.Errorf("round %d: Touch counted %d, want %d", round, got, want)
			}
			if fmt.Sprint(batch) != kept {
				return fmt.Errorf("Touch changed its keys")
			}
			if got := tx.Table(4).Touch(batch, &s); got != 0 {
				return fmt.Errorf("an empty table: Touch counted %d", got)
			}
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
}

// TestTouchMemo: in a read transaction, lookups after Table.Touch take
// what it found (touchMemo) and answer as plain lookups do: in Touch's
// order, in another order, a key twice, keys it did not walk, absent and
// long keys, another table, and a second Touch. A write transaction's
// Touch leaves no memo; View's end drops the memo's nodes.
func TestTouchMemo(t *testing.T) {
	db, err := Open(t.TempDir(), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	r := rand.New(rand.NewSource(7))
	var keys [][]byte
	for i := range 2000 {
		k := []byte(fmt.Sprintf("%016x-%d", r.Uint64(), i))
		if i%40 == 0 {
			k = append(k, bytes.Repeat([]byte{'L'}, KeyPrefixSize)...)
		}
		keys = append(keys, k)
	}
	updateRange(t, db, 0, 1500, 1, 500, func(tx *Tx, i int) error {
		return putString(tx, uint32(3+i%2), keys[i], []byte(fmt.Sprintf("v%d", i)))
	})
	// What a plain lookup answers, key by key, in each table.
	want := map[string]string{}
	if err := db.View(func(tx *Tx) error {
		for _, k := range keys {
			for tn := uint32(3); tn <= 4; tn++ {
				tu, ok, err := tx.Table(tn).Get(k)
				if err != nil {
					return err
				}
				want[fmt.Sprint(tn, string(k))] = fmt.Sprint(ok, string(tu.Value))
			}
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	var s TouchScratch
	taken := 0
	for round := range 300 {
		var batch [][]byte
		for range 2 + r.Intn(20) {
			batch = append(batch, keys[r.Intn(len(keys))])
		}
		tn := uint32(3 + r.Intn(2))
		// The lookups: Touch's keys, sometimes shuffled, with some repeated,
		// some left out, some keys it did not walk, and some in the other
		// table.
		look := append([][]byte(nil), batch...)
		if r.Intn(3) == 0 {
			r.Shuffle(len(look), func(i, j int) { look[i], look[j] = look[j], look[i] })
		}
		for range r.Intn(4) {
			switch r.Intn(3) {
			case 0:
				look = append(look, look[r.Intn(len(look))])
			case 1:
				if len(look) > 2 {
					look = append(look[:1], look[2:]...)
				}
			default:
				look = append(look, keys[r.Intn(len(keys))])
			}
		}
		if err := db.View(func(tx *Tx) error {
			tx.Table(tn).Touch(batch, &s)
			if tx.touched == nil {
				return fmt.Errorf("round %d: a read transaction's Touch left no memo", round)
			}
			for _, k := range look {
				table := tn
				if r.Intn(10) == 0 {
					table = 7 - tn // the other table
				}
				tu, ok, err := tx.Table(table).Get(k)
				if err != nil {
					return err
				}
				if got, w := fmt.Sprint(ok, string(tu.Value)), want[fmt.Sprint(table, string(k))]; got != w {
					return fmt.Errorf("round %d: table %d key %q: %s, want %s", round, table, k, got, w)
				}
			}
			taken += tx.touched.next
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		for _, h := range s.bt.Hits() {
			if h.N != nil {
				t.Fatal("a memo's node outlived its View")
			}
		}
	}
	if taken == 0 {
		t.Fatal("no lookup took the memo")
	}
	if err := db.Update(func(tx *Tx) error {
		tx.Table(3).Touch(keys[:10], &s)
		if tx.touched != nil {
			return fmt.Errorf("a write transaction's Touch left a memo")
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
}
