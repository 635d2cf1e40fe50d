package store

// HasExpiring reports whether some table's expiry index holds entries
// (keys with an expiry, Table.Expires), as of the newest commit. Unlike a
// View it never waits: a background loop that polls it (the server's
// active expiry) must not hold up the writer's changes in place, which
// pause for a while after any reader waited for them (inplace.go). That
// poll, through a View ten times a second, turned them off about a third
// of the time under a write load, and a third of the writes copied a node.
func (db *DB) HasExpiring() bool { return db.expiring.Load() > 0 }

// countExpiring sets db.expiring from the catalog of the state load read
// (at Open, before the writer runs). A catalog it cannot read does not
// fail Open (reads and Check report the damage, naming the page, as they
// did before the count existed): the count is then 1, so that a poller
// still runs the expiry cycle, which meets the error and reports it.
func (db *DB) countExpiring() {
	err := db.View(func(tx *Tx) error {
		var sum int64
		err := tx.catalogTables(func(_ uint32, s tableState) { sum += int64(s.expires) })
		db.expiring.Store(sum)
		return err
	})
	if err != nil {
		db.expiring.Store(1)
	}
}
