package store

import (
	"encoding/binary"
	"errors"

	"github.com/digby-db/digby/btree"
	"github.com/digby-db/digby/page"
)

// relocateBudget is the number of high pages one idle step tries to move.
const relocateBudget = 64

// relocateStep moves the highest live tree pages to the lowest free pages
// (by shadowing their paths) so that random deletes shrink the file without
// offline compaction: the moved pages become free and, two flushes later,
// the free tail is cut off. It works only while there is a free page below
// the candidate. It reports whether it moved anything.
//
// Overflow runs are moved by copying them to a lower run (their owner is
// recorded at their start); trees on the pending-drop list are not moved;
// free-space metadata is moved by rewriting its chunk.
func (db *DB) relocateStep() (bool, error) {
	low, ok := db.alloc.LowestFree()
	if !ok {
		return false, nil
	}
	// Only pages past the end of a compacted file need to move (one that
	// keeps its slack free: page/dense.go); this also stops the step from
	// churning when the tail is unmovable.
	hwm := db.alloc.HWM()
	floor := hwm - db.alloc.Surplus()
	floor = max(floor, low+1)
	// Moved pages must land low, not in the densest free group.
	db.alloc.SetLowFirst(true)
	defer db.alloc.SetLowFirst(false)
	tx := db.beginWrite()
	pend := movedChunks{}
	moved := 0
	tried, scanned := 0, 0
	for id := hwm - 1; id >= floor && tried < relocateBudget && scanned < 16*relocateBudget; id-- {
		if !db.alloc.Relocatable(id) {
			continue
		}
		scanned++
		if db.alloc.IsMetaPage(id) {
			db.alloc.RewriteMeta(id)
			continue
		}
		n, h, err := db.pageNode(id)
		if err != nil {
			continue // the inside of an overflow run, or unreadable: leave it
		}
		tried++
		var ok bool
		if n == nil {
			ok, err = tx.relocateOverflow(id, h, pend)
		} else {
			ok, err = tx.relocate(n)
		}
		if err != nil {
			return false, err
		}
		if ok {
			moved++
		}
		if low, ok = db.alloc.LowestFree(); !ok || low >= id {
			break
		}
	}
	if moved == 0 {
		return false, nil
	}
	if err := tx.finishMoved(pend); err != nil {
		return false, err
	}
	return true, db.commit(tx)
}

// movedChunks holds, during one relocation step, the values some of whose
// chunks moved, keyed by table and tree key: each gets one new chunk table
// at the end of the step, however many of its chunks moved.
type movedChunks map[string]*movedValue

type movedValue struct {
	table uint32
	key   []byte
	v     btree.Value // the leaf value, still referring to the old table
	ct    *chunkTable // with the moved chunks' new references
	// at indexes ct's chunks by their run as the step began (id, txn).
	at map[[2]uint64]int
}

// index is the index in mv.ct of the chunk stored in run id written by
// txn, or -1; a map built once, so that moving many chunks of one value
// does not search the table for each.
func (mv *movedValue) index(id, txn uint64) int {
	if mv.at == nil {
		mv.at = make(map[[2]uint64]int, len(mv.ct.chunks))
		for i, c := range mv.ct.chunks {
			mv.at[[2]uint64{c.ID, c.Txn}] = i
		}
	}
	if i, ok := mv.at[[2]uint64{id, txn}]; ok {
		return i
	}
	return -1
}

// holding is the value with tree key key whose chunk table, as this step
// found it, lists the chunk stored in run id written by txn; nil if none.
// It looks past the owner table the run records: after SWAPDB the tuple
// lives in another table.
func (pend movedChunks) holding(key []byte, id, txn uint64) *movedValue {
	for _, mv := range pend {
		if string(mv.key) == string(key) && mv.index(id, txn) >= 0 {
			return mv
		}
	}
	return nil
}

func movedKey(table uint32, key []byte) string {
	return string(binary.BigEndian.AppendUint32(nil, table)) + string(key)
}

// finishMoved writes the new chunk table of each value with moved chunks,
// frees its old one and points the tuple at the new one.
func (tx *Tx) finishMoved(pend movedChunks) error {
	w := tx.w
	defer func() { w.ownerTable, w.ownerKey = noOwner, nil }()
	for _, mv := range pend {
		w.ownerTable, w.ownerKey = mv.table, mv.key
		ref, err := w.writeTable(mv.ct)
		if err != nil {
			return err
		}
		w.free(mv.v.Ovf.ID, int(mv.v.Ovf.Pages))
		s, err := tx.tableState(mv.table)
		if err != nil {
			return err
		}
		m := btree.Tree{P: w, Root: s.root}
		v := mv.v
		v.Ovf, v.Data = ref, nil
		if _, _, err := m.Replace(mv.key, v); err != nil {
			return err
		}
		s.root = m.Root
		tx.tables.set(mv.table, s)
	}
	return nil
}

// pageNode returns the tree node at page id, or (nil, its header) for the
// first page of an overflow run (a chunk table or a chunk); an error for
// anything else.
func (db *DB) pageNode(id uint64) (*btree.Node, page.Header, error) {
	if n, ok := db.unflushedNode(id); ok {
		return n, page.Header{}, nil
	}
	buf := make([]byte, db.ps)
	if err := db.file.ReadRaw(id, buf); err != nil {
		return nil, page.Header{}, err
	}
	h := page.ReadHeader(buf)
	switch {
	case h.ID != id:
		return nil, h, errNotAPage
	case h.Type == page.TypeOverflow || h.Type == page.TypeChunkTable:
		return nil, h, nil
	case h.Type != page.TypeLeaf && h.Type != page.TypeBranch:
		return nil, h, errNotAPage
	}
	n, err := db.node(page.Ref{ID: id, Txn: h.Txn, Pages: 1})
	return n, h, err
}

var errNotAPage = errors.New("not the start of a page")

// relocateOverflow copies the overflow run at id (header h: a chunk table
// or a chunk) to a new run, lower in the file. A moved chunk table is
// pointed at by its tuple at once; a moved chunk changes its entry in the
// value's chunk table kept in pend, written once at the end of the step
// (finishMoved). It reports whether it moved the run (not if its owner no
// longer refers to it, or no lower run is free).
func (tx *Tx) relocateOverflow(id uint64, h page.Header, pend movedChunks) (bool, error) {
	ref := page.Ref{ID: id, Txn: h.Txn, Pages: uint32(h.Pages())}
	if !tx.db.alloc.HasRunBelow(h.Pages(), id) {
		return false, nil
	}
	buf, err := tx.db.readRun(ref, h.Type, nil)
	if err != nil {
		return false, nil // unreadable: Check reports it, relocation leaves it
	}
	owner, key, _, err := getOwner(id, buf[page.HeaderSize:])
	if err != nil || owner == noOwner {
		return false, nil
	}
	key = append([]byte(nil), key...)
	// A chunk belongs to a value in pend: one this step already moved
	// chunks of (its chunk table is read once per step, not once per
	// chunk), else one its owner names, added now.
	var mv *movedValue
	if h.Type != page.TypeChunkTable {
		mv = pend.holding(key, id, h.Txn)
	}
	var table uint32
	var s *tableState
	var v btree.Value
	if mv != nil {
		table = mv.table
	} else {
		var ct *chunkTable
		table, s, v, ct, err = tx.runOwner(owner, key, ref, h.Type)
		if err != nil || s == nil {
			return false, err
		}
		mk := movedKey(table, key)
		if h.Type == page.TypeChunkTable {
			if pend[mk] != nil {
				return false, nil // finishMoved writes it anew, low
			}
		} else if mv = pend[mk]; mv == nil {
			mv = &movedValue{table: table, key: key, v: v, ct: ct}
			pend[mk] = mv
		}
	}
	tx.w.ownerTable, tx.w.ownerKey = table, key
	defer func() { tx.w.ownerTable, tx.w.ownerKey = noOwner, nil }()
	body := buf[page.HeaderSize:]
	binary.LittleEndian.PutUint32(body, table) // the owner it has now (SWAPDB)
	nref, err := tx.w.copyRun(h.Type, body)
	if err != nil {
		return false, err
	}
	tx.w.free(ref.ID, int(ref.Pages))
	if mv != nil {
		i := mv.index(id, h.Txn)
		mv.ct.chunks[i].ID, mv.ct.chunks[i].Txn = nref.ID, nref.Txn
		return true, nil
	}
	m := btree.Tree{P: tx.w, Root: s.root}
	v.Ovf, v.Data = nref, nil
	if _, _, err := m.Replace(key, v); err != nil {
		return false, err
	}
	s.root = m.Root
	tx.tables.set(table, *s)
	return true, nil
}

// runOwner finds the tuple under tree key key whose value holds the run
// ref of type typ: in table owner first (as the run records), then in the
// other tables (SWAPDB moves tuples without rewriting their runs). For a
// chunk it returns the value's chunk table too. A nil state means that no
// tuple holds the run any more.
func (tx *Tx) runOwner(owner uint32, key []byte, ref page.Ref, typ page.Type) (uint32, *tableState, btree.Value, *chunkTable, error) {
	tables := []uint32{owner}
	for k := 0; k < len(tables); k++ {
		t := tables[k]
		if k > 0 && t == owner {
			continue
		}
		s, err := tx.tableState(t)
		if err != nil {
			return 0, nil, btree.Value{}, nil, err
		}
		m := btree.Tree{P: tx.w, Root: s.root}
		v, ok, err := m.GetRaw(key)
		if err != nil {
			return 0, nil, btree.Value{}, nil, err
		}
		if ok && !v.Ovf.IsZero() {
			if typ == page.TypeChunkTable && v.Ovf == ref {
				return t, &s, v, nil, nil
			}
			if typ != page.TypeChunkTable {
				ct, err := readChunkTable(tx.db.readRun, v.Ovf)
				if err != nil {
					return 0, nil, btree.Value{}, nil, err
				}
				if ct.indexOf(ref.ID, ref.Txn) >= 0 {
					return t, &s, v, ct, nil
				}
			}
		}
		if k == 0 {
			// Not where the run says: look in the other tables.
			more, err := tx.Tables()
			if err != nil {
				return 0, nil, btree.Value{}, nil, err
			}
			tables = append(tables, more...)
		}
	}
	return 0, nil, btree.Value{}, nil, nil
}

// copyRun writes body (an overflow run's bytes after the header, owner
// included) as a new run of typ.
func (w *wtx) copyRun(typ page.Type, body []byte) (page.Ref, error) {
	return w.writeOvfRun(typ, len(body), func(b []byte) { copy(b, body) })
}

// indexOf is the index of the chunk stored in run id written by txn, or -1.
func (ct *chunkTable) indexOf(id, txn uint64) int {
	for i, c := range ct.chunks {
		if c.ID == id && c.Txn == txn {
			return i
		}
	}
	return -1
}

// relocate finds the live tree holding n and shadows the path to it.
func (tx *Tx) relocate(n *btree.Node) (bool, error) {
	key := n.Key(0)
	if ok, err := tx.catalog.Relocate(key, n.ID); ok || err != nil {
		return ok, err
	}
	tables, err := tx.Tables()
	if err != nil {
		return false, err
	}
	for _, t := range tables {
		s, err := tx.tableState(t)
		if err != nil {
			return false, err
		}
		for i, root := range []page.Ref{s.root, s.exp} {
			tr := btree.Tree{P: tx.w, Root: root}
			ok, err := tr.Relocate(key, n.ID)
			if err != nil {
				return false, err
			}
			if ok {
				if i == 0 {
					s.root = tr.Root
				} else {
					s.exp = tr.Root
				}
				tx.tables.set(t, s)
				return true, nil
			}
		}
	}
	return false, nil
}
