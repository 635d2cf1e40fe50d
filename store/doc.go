// Package store is digby's database: numbered tables, each a copy-on-write
// B+ tree found through a catalog tree, in one data file.
//
// One writer goroutine applies all writes; any number of readers run on
// snapshots and are never blocked by it. Writes are submitted with Submit
// (or Update): the writer drains what is queued, runs each submission under
// its own savepoint (an error or panic rolls back that submission alone),
// commits once, flushes once when the durability mode asks, and then
// releases every submitter with its own result (group commit).
//
// Invariants:
//   - a committed page is never overwritten while a meta on disk or a
//     registered reader can reach it (see page.Allocator for the rule);
//   - a flush writes all pages, syncs, writes the meta into the slot that
//     does not hold the newest valid meta, and syncs again; open takes the
//     valid meta with the highest txn id: no log is replayed;
//   - every table's entry count and expiry count in the catalog equal the
//     number of entries of its trees; every expiry-index entry names a tuple
//     with exactly that expire-at, and every tuple with one has its entry;
//   - after an I/O error the store refuses writes until reopened.
package store
