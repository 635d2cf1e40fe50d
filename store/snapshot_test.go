package store

import (
	"bytes"
	"fmt"
	"testing"
	"time"
)

// TestHeldSnapshotUnchanged holds one read snapshot open while later
// transactions delete whole leaves' worth of keys (branch entries are
// removed), split nodes and rewrite values, with flushes between: the held
// snapshot must still read exactly what it read at first. Shadowed nodes
// share structure with the nodes they copy (a branch clone shares its
// entries), so any in-place write into shared state shows here.
func TestHeldSnapshotUnchanged(t *testing.T) {
	db, err := Open(t.TempDir(), &Options{Durability: Everysec, FlushInterval: time.Hour, CacheSize: 1 << 20})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	const n = 20000
	key := func(i int) []byte { return []byte(fmt.Sprintf("k%06d", i)) }
	updateRange(t, db, 0, n, 1, 5000, func(tx *Tx, i int) error {
		return putString(tx, 0, key(i), []byte(fmt.Sprintf("v%d", i)))
	})
	scan := func(tx *Tx) ([][2][]byte, error) {
		var out [][2][]byte
		c := tx.Table(0).Cursor()
		for ok := c.First(); ok; ok = c.Next() {
			tu := c.Tuple()
			out = append(out, [2][]byte{append([]byte{}, tu.Key...), append([]byte{}, tu.Value...)})
		}
		return out, c.Err()
	}
	pinned, release, result := make(chan struct{}), make(chan struct{}), make(chan error, 1)
	go func() {
		result <- db.View(func(tx *Tx) error {
			before, err := scan(tx)
			close(pinned)
			if err != nil {
				return err
			}
			<-release
			after, err := scan(tx)
			if err != nil {
				return err
			}
			if len(after) != len(before) {
				return fmt.Errorf("held snapshot: %d keys, had %d", len(after), len(before))
			}
			for i := range before {
				if !bytes.Equal(before[i][0], after[i][0]) || !bytes.Equal(before[i][1], after[i][1]) {
					return fmt.Errorf("held snapshot: entry %d is %q=%q, was %q=%q", i, after[i][0], after[i][1], before[i][0], before[i][1])
				}
			}
			for i := 0; i < n; i += 97 {
				tu, ok, err := tx.Table(0).Get(key(i))
				if err != nil || !ok || string(tu.Value) != fmt.Sprintf("v%d", i) {
					return fmt.Errorf("held snapshot: get %s = %q, %v, %v", key(i), tu.Value, ok, err)
				}
			}
			return nil
		})
	}()
	<-pinned
	for round := 0; round < 8; round++ {
		lo := round * 2000
		// Whole leaves go (branch entries removed), in one transaction.
		updateRange(t, db, lo, lo+1500, 1, 1500, func(tx *Tx, i int) error {
			_, err := tx.Table(0).Delete(key(i))
			return err
		})
		// Values grow: leaves split.
		updateRange(t, db, lo+1500, lo+2000, 3, 500, func(tx *Tx, i int) error {
			return putString(tx, 0, key(i), bytes.Repeat([]byte{'x'}, 300))
		})
		if round%3 == 2 {
			if err := db.Flush(); err != nil {
				t.Fatal(err)
			}
		}
	}
	close(release)
	if err := <-result; err != nil {
		t.Fatal(err)
	}
	mustCheck(t, db)
}
