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
