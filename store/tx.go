package store

import (
	"encoding/binary"
	"fmt"

	"github.com/digby-db/digby/btree"
	"github.com/digby-db/digby/page"
)

// Catalog key prefixes.
const (
	catTable byte = 0x00 // 0x00 ‖ table u32 BE -> tableState
	catDrop  byte = 0x01 // 0x01 ‖ seq u64 BE  -> dropEntry
)

// tableState is a table's catalog entry.
type tableState struct {
	root    page.Ref // main tree
	exp     page.Ref // expiry index: expire-at u64 BE ‖ key -> empty
	count   uint64
	expires uint64
}

const tableStateSize = 2*20 + 16

func (s tableState) encode() []byte {
	b := make([]byte, tableStateSize)
	putRef(b, s.root)
	putRef(b[20:], s.exp)
	binary.BigEndian.PutUint64(b[40:], s.count)
	binary.BigEndian.PutUint64(b[48:], s.expires)
	return b
}

func decodeTableState(b []byte) (tableState, error) {
	if len(b) != tableStateSize {
		return tableState{}, fmt.Errorf("catalog: table entry of %d bytes: %w", len(b), ErrCorrupt)
	}
	return tableState{root: getRef(b), exp: getRef(b[20:]), count: binary.BigEndian.Uint64(b[40:]), expires: binary.BigEndian.Uint64(b[48:])}, nil
}

func putRef(b []byte, r page.Ref) {
	binary.BigEndian.PutUint64(b, r.ID)
	binary.BigEndian.PutUint64(b[8:], r.Txn)
	binary.BigEndian.PutUint32(b[16:], r.Pages)
}

func getRef(b []byte) page.Ref {
	return page.Ref{ID: binary.BigEndian.Uint64(b), Txn: binary.BigEndian.Uint64(b[8:]), Pages: binary.BigEndian.Uint32(b[16:])}
}

func tableKey(n uint32) []byte {
	return []byte{catTable, byte(n >> 24), byte(n >> 16), byte(n >> 8), byte(n)}
}

// Tx is a transaction: a read-only snapshot (View) or the writer's
// transaction (Update/Submit). A Tx must not be used after its function returns.
type Tx struct {
	db *DB
	st *state
	w  *wtx

	// Writer-only state.
	catalog     btree.Tree
	tables      tableStates
	nextVersion uint64
	dropSeq     uint64 // next pending-drop sequence (0 = not loaded)
	// expiringDelta is how the expiry indexes' entries changed, summed
	// over the tables (writeCatalog), for DB.expiring at commit.
	expiringDelta int64

	// lending is set once a ScanCursor of this read transaction holds
	// db.lendMu (read-locked until View returns).
	lending bool
	// aheads are the read-ahead windows its ScanCursors used, handed
	// back when View returns (readahead.go).
	aheads []*readAhead
	// noRemember: this read transaction's trees are not marked Published
	// (DB.Prefetch), so every level goes through the page cache.
	noRemember bool
	// touched is what its last Table.Touch found, for the lookups after
	// it (ranges.go); dropped when View returns.
	touched *touchMemo
}

// Writable reports whether tx may write.
func (tx *Tx) Writable() bool { return tx.w != nil }

// TxID is the id of the snapshot (read) or of the txn being built (write).
func (tx *Tx) TxID() uint64 {
	if tx.w != nil {
		return tx.w.txn
	}
	return tx.st.txn
}

func (tx *Tx) pager() btree.Pager {
	if tx.w != nil {
		return tx.w
	}
	return readPager{tx.db}
}

// published reports whether tx's trees may remember children
// (btree/swizzle.go): a read snapshot's nodes are all published, the
// writer's are not, and DB.Prefetch must go through the cache.
func (tx *Tx) published() bool { return tx.w == nil && !tx.noRemember }

func (tx *Tx) catalogTree() *btree.Tree {
	if tx.w != nil {
		return &tx.catalog
	}
	return &btree.Tree{P: readPager{tx.db}, Root: tx.st.catalog, Published: tx.published()}
}

// writeState returns where the write transaction keeps table n's state,
// for its writer to change field by field. The pointer is valid until the
// transaction next adds a table's state (a first change or read of
// another table), rolls back or commits. A change that fails halfway
// leaves the state half changed, as it leaves the tree's nodes: the
// caller rolls back (every write function's error does).
func (tx *Tx) writeState(n uint32) (*tableState, error) {
	if i := tx.tables.find(n); i >= 0 {
		return &tx.tables.ents[i].s, nil
	}
	if _, err := tx.tableState(n); err != nil { // loads it into tx.tables
		return nil, err
	}
	return &tx.tables.ents[tx.tables.find(n)].s, nil
}

// tableState returns table n's state (zero for a table never written).
func (tx *Tx) tableState(n uint32) (tableState, error) {
	if tx.w != nil {
		if s, ok := tx.tables.get(n); ok {
			return s, nil
		}
	} else if n < uint32(len(tx.st.tables)) {
		if p := tx.st.tables[n].Load(); p != nil {
			return *p, nil
		}
	}
	var s tableState
	v, ok, err := tx.catalogTree().Get(tableKey(n))
	if err != nil {
		return tableState{}, err
	}
	if ok {
		if s, err = decodeTableState(v.Data); err != nil {
			return s, err
		}
	}
	if tx.w != nil {
		tx.tables.set(n, s)
	} else if n < uint32(len(tx.st.tables)) {
		tx.st.tables[n].Store(&s)
	}
	return s, nil
}

// Tables lists the tables that hold entries.
func (tx *Tx) Tables() ([]uint32, error) {
	seen := map[uint32]bool{}
	var out []uint32
	if tx.w != nil {
		for _, e := range tx.tables.ents {
			seen[e.n] = true
			if e.s.count > 0 {
				out = append(out, e.n)
			}
		}
	}
	err := tx.catalogTables(func(n uint32, s tableState) {
		if !seen[n] && s.count > 0 {
			out = append(out, n)
		}
	})
	if err != nil {
		return nil, err
	}
	sortU32(out)
	return out, nil
}

// catalogTables calls fn with every table state the catalog holds (not
// those this write transaction changed since), in table order.
func (tx *Tx) catalogTables(fn func(n uint32, s tableState)) error {
	c := tx.catalogTree().Cursor()
	for ok := c.Seek([]byte{catTable}); ok && c.Key()[0] == catTable; ok = c.Next() {
		if len(c.Key()) != 5 {
			return fmt.Errorf("catalog: bad table key: %w", ErrCorrupt)
		}
		v, err := c.Value()
		if err != nil {
			return err
		}
		s, err := decodeTableState(v.Data)
		if err != nil {
			return err
		}
		fn(binary.BigEndian.Uint32(c.Key()[1:]), s)
	}
	return c.Err()
}

func sortU32(s []uint32) {
	for i := 1; i < len(s); i++ {
		for j := i; j > 0 && s[j] < s[j-1]; j-- {
			s[j], s[j-1] = s[j-1], s[j]
		}
	}
}

// Table returns the handle of table n. Reads of a table never written see
// it empty; the first write creates it.
func (tx *Tx) Table(n uint32) *Table { return &Table{tx: tx, n: n} }

// SwapTables exchanges the contents of tables a and b.
func (tx *Tx) SwapTables(a, b uint32) error {
	if tx.w == nil {
		return ErrReadOnly
	}
	sa, err := tx.tableState(a)
	if err != nil {
		return err
	}
	tx.w.log.touched() // not a page change, nor in the log
	sb, err := tx.tableState(b)
	if err != nil {
		return err
	}
	tx.tables.set(a, sb)
	tx.tables.set(b, sa)
	return nil
}

// ClearTable empties table n in O(1): its trees go on the pending-drop list
// and the writer frees their pages in bounded steps afterwards.
func (tx *Tx) ClearTable(n uint32) error {
	if tx.w == nil {
		return ErrReadOnly
	}
	s, err := tx.tableState(n)
	if err != nil {
		return err
	}
	for _, r := range []page.Ref{s.root, s.exp} {
		if err := tx.scheduleDrop(r); err != nil {
			return err
		}
	}
	tx.tables.set(n, tableState{})
	return nil
}

// maxKeptUndoLogs bounds the undo logs kept for reuse (a savepoint
// records a few nodes: a leaf and its path).
const maxKeptUndoLogs = 64

// keptSavepointNodes is the most nodes (or tables) a savepoint's lists may
// have held for the next savepoint to reuse them (emptied): a write
// command touches a few, an EXEC of thousands of writes many.
const keptSavepointNodes = 256

// savepoint starts a savepoint; rollback undoes everything since.
func (tx *Tx) savepoint() {
	w := tx.w
	sp := &tx.db.spBuf
	sp.created, sp.recorded = kept(sp.created, keptSavepointNodes), kept(sp.recorded, keptSavepointNodes)
	sp.tables.reset(keptSavepointNodes)
	sp.tables.copyFrom(&tx.tables)
	sp.allocs, sp.freed = len(w.allocs), len(w.freed)
	sp.evicts, sp.superseded, sp.unlisted = len(w.evicts), len(w.superseded), len(w.unlisted)
	sp.mark = tx.db.alloc.Mark()
	sp.catalog, sp.nextVersion, sp.dropSeq = tx.catalog.Root, tx.nextVersion, tx.dropSeq
	sp.log = w.log.mark()
	w.sp = sp
}

func (tx *Tx) rollback() {
	w := tx.w
	sp := w.sp
	w.changes++ // nodes change back, or leave the transaction: a kept path is stale
	for _, n := range sp.created {
		n.Mark &^= markSaved
		delete(w.dirty, n.ID)
	}
	for _, n := range sp.recorded {
		n.Mark &^= markSaved
		n.Undo()
		if n.Txn == w.txn { // not one changing in place: those are never in w.dirty
			w.dirty[n.ID] = n
		}
	}
	// Runs freed since go back on the flush's list (a run both written
	// and freed since comes off it again below, with its allocation).
	for _, r := range w.unlisted[sp.unlisted:] {
		tx.db.flushed[r.ID] = r
	}
	w.unlisted = w.unlisted[:sp.unlisted]
	for _, r := range w.allocs[sp.allocs:] {
		tx.db.alloc.Unalloc(r.id, r.n)
		delete(tx.db.flushed, r.id)
	}
	w.allocs = w.allocs[:sp.allocs]
	tx.db.alloc.Unfree(sp.mark)
	w.freed = w.freed[:sp.freed]
	w.evicts = w.evicts[:sp.evicts]
	clear(w.superseded[sp.superseded:])
	w.superseded = w.superseded[:sp.superseded]
	tx.tables.copyFrom(&sp.tables) // sp.tables is reused by the next savepoint: copy back
	tx.catalog.Root = sp.catalog
	tx.nextVersion = sp.nextVersion
	tx.dropSeq = sp.dropSeq
	w.log.rollback(sp.log)
	w.sp = nil
}

// release ends a savepoint keeping its changes.
func (tx *Tx) release() {
	w := tx.w
	for _, n := range w.sp.created {
		n.Mark &^= markSaved
	}
	for _, n := range w.sp.recorded {
		n.Mark &^= markSaved
		if l := n.StopUndo(); l != nil && len(tx.db.undoLogs) < maxKeptUndoLogs {
			tx.db.undoLogs = append(tx.db.undoLogs, l)
		}
	}
	w.sp = nil
}

// writeCatalog stores every table state changed in this txn, adding the
// change in their expiry indexes' entries to tx.expiringDelta.
func (tx *Tx) writeCatalog() error {
	for _, e := range tx.tables.ents {
		n, s := e.n, e.s
		var cur tableState
		v, ok, err := tx.catalog.Get(tableKey(n))
		if err != nil {
			return err
		}
		if ok {
			if cur, err = decodeTableState(v.Data); err != nil {
				return err
			}
		}
		if cur == s {
			continue
		}
		tx.expiringDelta += int64(s.expires) - int64(cur.expires)
		if s == (tableState{}) {
			if _, _, err := tx.catalog.Delete(tableKey(n)); err != nil {
				return err
			}
			continue
		}
		if _, _, err := tx.catalog.Put(tableKey(n), btree.Value{Data: s.encode()}); err != nil {
			return err
		}
	}
	return nil
}
