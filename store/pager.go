package store

import (
	"encoding/binary"
	"fmt"

	"github.com/digby-db/digby/btree"
	"github.com/digby-db/digby/page"
)

// node returns the committed node ref points at: from the unflushed set,
// the cache, or the file (verified against ref, then cached).
func (db *DB) node(ref page.Ref) (*btree.Node, error) {
	if n, ok := db.unflushedNode(ref.ID); ok {
		if n.Txn != ref.Txn {
			return nil, &page.CorruptError{ID: ref.ID, Reason: fmt.Sprintf("in-memory page of txn %d, reference expects txn %d", n.Txn, ref.Txn)}
		}
		return n, nil
	}
	var n *btree.Node
	if v, ok := db.cache.Get(ref.ID); ok {
		n := v.(*btree.Node)
		if n.Txn == ref.Txn {
			return n, nil
		}
	}
	buf, h, err := db.file.Read(ref.ID, 1, 0, ref.Txn)
	if err != nil {
		return nil, err
	}
	n, err = btree.Decode(buf, h)
	if err != nil {
		return nil, err
	}
	db.cache.Put(ref.ID, n, n.MemSize())
	return n, nil
}

// unflushedNode looks id up in the unflushed set, skipping the lock when
// the set is empty (reads after a flush).
func (db *DB) unflushedNode(id uint64) (*btree.Node, bool) {
	if db.nUnflushed.Load() == 0 {
		return nil, false
	}
	db.umu.RLock()
	n, ok := db.unflushed[id]
	db.umu.RUnlock()
	return n, ok
}

// ovfOwnerFixed is the fixed part of an overflow run's owner prefix:
// table u32, key length u16, then the key, then the value.
const ovfOwnerFixed = 6

// noOwner is the owner table of overflow data outside the tables.
const noOwner = ^uint32(0)

// readOverflowRun reads and verifies an overflow run; it returns the owner
// (table and key) and the value of the given length.
func (db *DB) readOverflowRun(ref page.Ref, length uint64) (uint32, []byte, []byte, error) {
	bad := func(why string) error { return &page.CorruptError{ID: ref.ID, Reason: why} }
	buf, _, err := db.file.Read(ref.ID, int(ref.Pages), page.TypeOverflow, ref.Txn)
	if err != nil {
		return 0, nil, nil, err
	}
	b := buf[page.HeaderSize:]
	if len(b) < ovfOwnerFixed {
		return 0, nil, nil, bad("overflow run too short")
	}
	table := binary.LittleEndian.Uint32(b)
	klen := int(binary.LittleEndian.Uint16(b[4:]))
	start := ovfOwnerFixed + klen
	if klen > MaxKeySize || uint64(len(b)-start) < length || start > len(b) {
		return 0, nil, nil, bad(fmt.Sprintf("overflow run of %d pages cannot hold %d bytes", ref.Pages, length))
	}
	end := uint64(start) + length
	return table, b[ovfOwnerFixed:start], b[start:end:end], nil
}

// readOverflow reads and verifies an overflow run holding length bytes.
func (db *DB) readOverflow(ref page.Ref, length uint64) ([]byte, error) {
	_, _, v, err := db.readOverflowRun(ref, length)
	return v, err
}

// readPager serves a read-only snapshot.
type readPager struct{ db *DB }

func (p readPager) PageSize() int                                     { return p.db.usable() }
func (p readPager) Node(ref page.Ref) (*btree.Node, error)            { return p.db.node(ref) }
func (p readPager) Writable(*btree.Node) (*btree.Node, error)         { return nil, ErrReadOnly }
func (p readPager) NewNode(bool) (*btree.Node, error)                 { return nil, ErrReadOnly }
func (p readPager) FreeNode(*btree.Node)                              {}
func (p readPager) WriteOverflow([]byte) (page.Ref, error)            { return page.Ref{}, ErrReadOnly }
func (p readPager) FreeOverflow(page.Ref)                             {}
func (p readPager) ReadOverflow(r page.Ref, l uint64) ([]byte, error) { return p.db.readOverflow(r, l) }

// run records an allocation, for rollback.
type run struct {
	id uint64
	n  int
}

// savepoint is what rolling back one submission needs.
type savepoint struct {
	undo        map[uint64]*btree.Node // a dirty node recording its changes; nil if created since
	allocs      int
	freed       int
	mark        page.Mark
	tables      map[uint32]tableState
	catalog     page.Ref
	nextVersion uint64
	dropSeq     uint64
}

// wtx is the writer's side of a write transaction; it is the tree's Pager.
type wtx struct {
	db *DB
	// owner of the overflow runs written now (set by Table.put)
	ownerTable uint32
	ownerKey   []byte
	txn        uint64
	dirty      map[uint64]*btree.Node
	allocs     []run
	freed      []uint64
	sp         *savepoint
}

// PageSize is the usable size of a page: the page less the codec's trailer.
func (w *wtx) PageSize() int { return w.db.usable() }

func (w *wtx) Node(ref page.Ref) (*btree.Node, error) {
	if n, ok := w.dirty[ref.ID]; ok {
		return n, nil
	}
	return w.db.node(ref)
}

func (w *wtx) allocate(n int) uint64 {
	id := w.db.alloc.Alloc(n)
	for i := id; i < id+uint64(n); i++ {
		w.db.cache.Remove(i)
	}
	w.allocs = append(w.allocs, run{id, n})
	return id
}

func (w *wtx) free(id uint64, n int) {
	w.db.alloc.Free(w.txn, id, n)
	delete(w.db.flushed, id) // written since the last flush, no longer reachable
	for i := id; i < id+uint64(n); i++ {
		w.freed = append(w.freed, i)
	}
}

func (w *wtx) remember(n *btree.Node) {
	if w.sp == nil {
		return
	}
	if _, ok := w.sp.undo[n.ID]; !ok {
		n.StartUndo()
		w.sp.undo[n.ID] = n
	}
}

func (w *wtx) NewNode(leaf bool) (*btree.Node, error) {
	n := &btree.Node{ID: w.allocate(1), Txn: w.txn, Leaf: leaf}
	w.dirty[n.ID] = n
	if w.sp != nil {
		w.sp.undo[n.ID] = nil
	}
	return n, nil
}

func (w *wtx) Writable(n *btree.Node) (*btree.Node, error) {
	if d, ok := w.dirty[n.ID]; ok && d == n {
		w.remember(n)
		return n, nil
	}
	c := n.Clone()
	c.ID, c.Txn = w.allocate(1), w.txn
	w.dirty[c.ID] = c
	if w.sp != nil {
		w.sp.undo[c.ID] = nil
	}
	w.free(n.ID, 1)
	return c, nil
}

func (w *wtx) FreeNode(n *btree.Node) {
	if d, ok := w.dirty[n.ID]; ok && d == n {
		w.remember(n)
		delete(w.dirty, n.ID)
	}
	w.free(n.ID, 1)
}

func (w *wtx) WriteOverflow(data []byte) (page.Ref, error) {
	if uint64(len(data)) > MaxValueSize {
		return page.Ref{}, fmt.Errorf("%d bytes: %w", len(data), ErrValueTooLarge)
	}
	// The run starts with its owner (table, key), so that idle relocation
	// can find the tuple that refers to it.
	prefix := ovfOwnerFixed + len(w.ownerKey)
	codec := w.db.file.Codec()
	pages := (len(data) + prefix + page.HeaderSize + codec.Overhead() + w.db.ps - 1) / w.db.ps
	id := w.allocate(pages)
	buf := make([]byte, pages*w.db.ps)
	page.PutHeader(buf, page.Header{ID: id, Txn: w.txn, Type: page.TypeOverflow, Overflow: uint32(pages - 1)})
	b := buf[page.HeaderSize:]
	binary.LittleEndian.PutUint32(b, w.ownerTable)
	binary.LittleEndian.PutUint16(b[4:], uint16(len(w.ownerKey)))
	copy(b[ovfOwnerFixed:], w.ownerKey)
	copy(b[prefix:], data)
	if err := codec.Seal(buf); err != nil {
		return page.Ref{}, w.db.fail(err)
	}
	// Written now: no meta reaches it until the txn's flush.
	if err := w.db.writeRecorded(id, buf); err != nil {
		return page.Ref{}, w.db.fail(err)
	}
	return page.Ref{ID: id, Txn: w.txn, Pages: uint32(pages)}, nil
}

func (w *wtx) ReadOverflow(r page.Ref, l uint64) ([]byte, error) { return w.db.readOverflow(r, l) }

func (w *wtx) FreeOverflow(r page.Ref) { w.free(r.ID, int(r.Pages)) }
