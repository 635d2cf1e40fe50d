package store

import "testing"

// updateRange runs fn(tx, i) for i in [from, to), step apart, in
// transactions of at most batch calls each; any error fails tb.
func updateRange(tb testing.TB, db *DB, from, to, step, batch int, fn func(tx *Tx, i int) error) {
	tb.Helper()
	for lo := from; lo < to; lo += step * batch {
		if err := db.Update(func(tx *Tx) error {
			for i := lo; i < min(lo+step*batch, to); i += step {
				if err := fn(tx, i); err != nil {
					return err
				}
			}
			return nil
		}); err != nil {
			tb.Fatal(err)
		}
	}
}

// putString is a Put of a string value without expiry, for updateRange.
func putString(tx *Tx, table uint32, key, val []byte) error {
	_, err := tx.Table(table).Put(key, val, TypeString, 0)
	return err
}
