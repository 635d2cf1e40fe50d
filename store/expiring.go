package store

// HasExpiring reports whether some table's expiry index holds entries
// (keys with an expiry, Table.Expires), as of the newest commit. Unlike a
// View it never waits: a background loop that polls it (the server's
// active expiry) must not hold up the writer's changes in place, which
// pause for a while after any reader waited for them (inplace.go). That
// poll, through a View ten times a second, turned them off for half of
// the time under a write load, and a third of the writes copied a node.
func (db *DB) HasExpiring() bool { return db.expiring.Load() > 0 }

// countExpiring sets db.expiring from the catalog of the state load read
// (at Open, before the writer runs).
func (db *DB) countExpiring() error {
	return db.View(func(tx *Tx) error {
		var sum int64
		err := tx.catalogTables(func(_ uint32, s tableState) { sum += int64(s.expires) })
		db.expiring.Store(sum)
		return err
	})
}
