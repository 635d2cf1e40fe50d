package store

import (
	"encoding/binary"
	"fmt"

	"github.com/digby-db/digby/btree"
	"github.com/digby-db/digby/page"
)

// Tuple is one stored entry. Key and Value must not be modified, and are
// valid only inside the transaction that returned them.
type Tuple struct {
	Key   []byte
	Value []byte // the value, or a part of it (GetRange), or nil (GetMeta)
	// Len is the length of the whole value, whatever Value holds.
	Len      uint64
	Type     uint8
	Version  uint64
	ExpireAt int64 // unix ms; 0 = no expiry
}

// Expired reports whether the tuple has an expiry at or before now (unix ms).
func (t Tuple) Expired(now int64) bool { return t.ExpireAt != 0 && t.ExpireAt <= now }

func tupleOf(k []byte, v btree.Value) Tuple {
	return Tuple{Key: k, Value: v.Data, Len: v.Len, Type: v.Type, Version: v.Version, ExpireAt: v.ExpireAt}
}

// Table is a handle on one numbered table inside a Tx. The store does not
// hide expired tuples: callers compare ExpireAt with their own clock.
type Table struct {
	tx *Tx
	n  uint32
}

// Number is the table's number.
func (t *Table) Number() uint32 { return t.n }

func (t *Table) state() (tableState, error) { return t.tx.tableState(t.n) }

func (t *Table) trees(s tableState) (main, exp btree.Tree) {
	p, pub := t.tx.pager(), t.tx.published()
	// Main trees mark the leaves a sequential load leaves full (they are
	// not cached at flush); the expiry index, whose keys start with a
	// time, grows at its end too, but is read and replaced there. A
	// writer's main trees keep their last look-up's path for a put of the
	// same key after it (btree.Finger).
	m := btree.Tree{P: p, Root: s.root, Published: pub, MarkFilled: true}
	if w := t.tx.w; w != nil {
		m.Finger = &w.finger
	}
	return m, btree.Tree{P: p, Root: s.exp, Published: pub}
}

// Get returns the tuple under key (a long key's whole key confirmed).
func (t *Table) Get(key []byte) (Tuple, bool, error) {
	f, ok, err := t.find(key)
	if err != nil || !ok {
		return Tuple{}, false, err
	}
	if err := t.load(&f); err != nil {
		return Tuple{}, false, err
	}
	return tupleOf(key, f.v), true, nil
}

// load reads f's overflow value into f.v.Data, or decodes its compressed
// one.
func (t *Table) load(f *found) error {
	if f.v.Ovf.IsZero() {
		return t.wrapKey(f.tk, decodeValue(&f.v))
	}
	if f.ct == nil {
		ct, err := t.chunkTable(f.v)
		if err != nil {
			return err
		}
		f.ct = ct
	}
	db := t.tx.db
	data, err := f.ct.readRange(db.readRun, db.geom(), f.v.Ovf.ID, 0, f.ct.length)
	f.v.Data = data
	return t.wrap(err)
}

func (t *Table) wrap(err error) error {
	if err == nil {
		return nil
	}
	return fmt.Errorf("table %d: %w", t.n, err)
}

// wrapKey is wrap naming tree key tk too.
func (t *Table) wrapKey(tk []byte, err error) error {
	if err == nil {
		return nil
	}
	return fmt.Errorf("table %d: key %q: %w", t.n, tk, err)
}

func expKey(at int64, key []byte) []byte {
	b := make([]byte, 8+len(key))
	binary.BigEndian.PutUint64(b, uint64(at))
	copy(b[8:], key)
	return b
}

// Put stores value under key with a type tag and an expiry (0 = none),
// giving it a new version from the database-wide counter.
func (t *Table) Put(key, value []byte, typ uint8, expireAt int64) (Tuple, error) {
	if err := checkKey(key); err != nil {
		return Tuple{}, err
	}
	if uint64(len(value)) > MaxValueSize {
		return Tuple{}, fmt.Errorf("value of %d bytes: %w", len(value), ErrValueTooLarge)
	}
	v := btree.Value{Type: typ, ExpireAt: expireAt, Data: value}
	if err := t.put(key, &v); err != nil {
		return Tuple{}, err
	}
	return Tuple{Key: key, Value: value, Len: uint64(len(value)), Type: typ, Version: v.Version, ExpireAt: expireAt}, nil
}

// put stores v under key (Version assigned here unless preset by a copy).
// A long key's value always goes to overflow, with the whole key in its
// chunk table. A short key's value is compressed in its leaf where that
// pays (compress.go): v.Data is then its stored form, and v.Compressed set,
// for the commit log; a v already Compressed (a replay) is stored as it is.
func (t *Table) put(key []byte, v *btree.Value) (err error) {
	tx := t.tx
	if tx.w == nil {
		return ErrReadOnly
	}
	tx.w.log.begin()
	defer tx.w.log.endErr(&err)
	// The state is changed where the transaction keeps it, field by field:
	// a copy changed on the stack and stored back whole was read in
	// 16-byte pieces just after its 8-byte fields were written, a load
	// the CPU cannot forward, which waited for every store before it (the
	// leaf's, into cold memory): 3% of the server's CPU under INCR.
	s, err := tx.writeState(t.n)
	if err != nil {
		return err
	}
	if v.Version == 0 {
		v.Version = tx.nextVersion
		tx.nextVersion++
	}
	m, e := t.trees(*s)
	tk := treeKey(key)
	w := tx.w
	w.ownerTable, w.ownerKey = t.n, tk
	var old btree.Value
	var replaced bool
	if isLong(tk) {
		w.ownerFullKey = key
		var ref page.Ref
		if ref, err = w.WriteOverflow(v.Data); err == nil {
			lv := *v
			lv.Ovf, lv.Len, lv.Data = ref, uint64(len(v.Data)), nil
			old, replaced, err = m.PutValue(tk, lv)
		}
	} else {
		if !v.Compressed {
			if c, ok := w.compressInline(v.Data); ok {
				v.Data, v.Compressed = c, true
			}
		}
		old, replaced, err = m.Put(tk, *v)
	}
	w.ownerTable, w.ownerKey, w.ownerFullKey = noOwner, nil, nil
	if err != nil {
		return t.wrap(err)
	}
	s.root = m.Root
	if !replaced {
		s.count++
	}
	if err := t.reindex(s, &e, tk, old.ExpireAt, replaced, v.ExpireAt); err != nil {
		return err
	}
	tx.w.log.put(t.n, key, v)
	return nil
}

// reindex moves the expiry-index entry of tree key key from oldAt (if
// had) to newAt.
func (t *Table) reindex(s *tableState, e *btree.Tree, key []byte, oldAt int64, had bool, newAt int64) error {
	if had && oldAt == newAt {
		return nil
	}
	if had && oldAt != 0 {
		if _, ok, err := e.Delete(expKey(oldAt, key)); err != nil {
			return t.wrap(err)
		} else if ok {
			s.expires--
		}
	}
	if newAt != 0 {
		if _, _, err := e.Put(expKey(newAt, key), btree.Value{}); err != nil {
			return t.wrap(err)
		}
		s.expires++
	}
	s.exp = e.Root
	return nil
}

// Delete removes key, reporting whether it was there.
func (t *Table) Delete(key []byte) (bool, error) {
	if t.tx.w == nil {
		return false, ErrReadOnly
	}
	tk, ok, err := t.confirmedTK(key)
	if err != nil || !ok {
		return false, err
	}
	return t.deleteTK(tk)
}

// confirmedTK is key's tree key. A long key's tree key is shared by every
// key with the same prefix and hash, so it is confirmed against the whole
// key first (ok false if another key holds it); a short key's is itself,
// and the caller's own descent finds out whether it is there.
func (t *Table) confirmedTK(key []byte) ([]byte, bool, error) {
	tk := treeKey(key)
	if !isLong(tk) {
		return tk, true, nil
	}
	f, ok, err := t.find(key)
	return f.tk, ok, err
}

// deleteTK removes the tuple under tree key key.
func (t *Table) deleteTK(key []byte) (_ bool, err error) {
	t.tx.w.log.begin()
	defer t.tx.w.log.endErr(&err)
	s, err := t.tx.writeState(t.n) // changed in place, as in put
	if err != nil {
		return false, err
	}
	m, e := t.trees(*s)
	old, ok, err := m.Delete(key)
	if err != nil || !ok {
		return false, t.wrap(err)
	}
	s.root = m.Root
	s.count--
	if err := t.reindex(s, &e, key, old.ExpireAt, true, 0); err != nil {
		return false, err
	}
	t.tx.w.log.del(t.n, key)
	return true, nil
}

// SetExpire sets key's expiry (0 removes it) and bumps its version. It
// reports whether the key exists.
func (t *Table) SetExpire(key []byte, expireAt int64) (bool, error) {
	tx := t.tx
	if tx.w == nil {
		return false, ErrReadOnly
	}
	key, ok, err := t.confirmedTK(key)
	if err != nil || !ok {
		return false, err
	}
	if ok, err = t.setExpireTK(key, expireAt, tx.nextVersion); ok {
		tx.nextVersion++
	}
	return ok, err
}

// setExpireTK sets the expiry of the tuple under tree key key and gives
// it version (the commit log's replay passes the version it recorded).
func (t *Table) setExpireTK(key []byte, expireAt int64, version uint64) (_ bool, err error) {
	tx := t.tx
	tx.w.log.begin()
	defer tx.w.log.endErr(&err)
	s, err := tx.writeState(t.n) // changed in place, as in put
	if err != nil {
		return false, err
	}
	m, e := t.trees(*s)
	var oldAt int64
	ok, err := m.Update(key, func(v *btree.Value) {
		oldAt = v.ExpireAt
		v.ExpireAt = expireAt
		v.Version = version
	})
	if err != nil || !ok {
		return false, t.wrap(err)
	}
	s.root = m.Root
	if err := t.reindex(s, &e, key, oldAt, true, expireAt); err != nil {
		return false, err
	}
	tx.w.log.expire(t.n, key, expireAt, version)
	return true, nil
}

// Count is the number of entries, expired ones included until removed. O(1).
func (t *Table) Count() uint64 {
	s, _ := t.state()
	return s.count
}

// Expires is the number of entries with an expiry. O(1).
func (t *Table) Expires() uint64 {
	s, _ := t.state()
	return s.expires
}

// ExpireDue deletes up to limit keys whose expiry is at or before now and
// returns them. Before deleting it re-reads the tuple and deletes only if
// its expire-at equals the index entry's; a stale index entry is dropped.
func (t *Table) ExpireDue(now int64, limit int) ([][]byte, error) {
	if t.tx.w == nil {
		return nil, ErrReadOnly
	}
	s, err := t.state()
	if err != nil {
		return nil, err
	}
	_, e := t.trees(s)
	type due struct {
		at  int64
		key []byte
	}
	var todo []due
	c := e.Cursor()
	for ok := c.First(); ok && len(todo) < limit; ok = c.Next() {
		k := c.Key()
		if len(k) < 8 {
			return nil, t.wrap(fmt.Errorf("expiry index key of %d bytes: %w", len(k), ErrCorrupt))
		}
		at := int64(binary.BigEndian.Uint64(k))
		if at > now {
			break
		}
		todo = append(todo, due{at, append([]byte(nil), k[8:]...)})
	}
	if c.Err() != nil {
		return nil, t.wrap(c.Err())
	}
	var out [][]byte
	for _, d := range todo {
		s, _ = t.state()
		m, _ := t.trees(s)
		v, ok, err := m.GetRaw(d.key)
		if err != nil {
			return out, t.wrap(err)
		}
		if ok && v.ExpireAt == d.at {
			full, err := t.fullKey(d.key, v)
			if err != nil {
				return out, err
			}
			full = append([]byte(nil), full...)
			if _, err := t.deleteTK(d.key); err != nil {
				return out, err
			}
			out = append(out, full)
			continue
		}
		// Stale index entry: dropping it changes nothing a reader sees,
		// so the commit log need not carry it (a replay leaves it for a
		// later pass).
		_, e := t.trees(s)
		t.tx.w.log.begin()
		_, dropped, err := e.Delete(expKey(d.at, d.key))
		t.tx.w.log.end()
		if err != nil {
			return out, t.wrap(err)
		} else if dropped {
			s.expires--
			s.exp = e.Root
			t.tx.tables.set(t.n, s)
		}
	}
	return out, nil
}

// Cursor returns a cursor over the table in key order (see KeyPrefixSize
// for the order of long keys).
func (t *Table) Cursor() *Cursor {
	s, err := t.state()
	m, _ := t.trees(s)
	return &Cursor{t: t, c: m.Cursor(), err: err}
}

// Cursor iterates a table's tuples in key order. Writing to the table
// invalidates it: Seek again after a write. Its keys are whole keys: of a
// long key, Key reads the chunk table holding it.
type Cursor struct {
	t   *Table
	c   *btree.Cursor
	err error
}

func (c *Cursor) ok(b bool) bool { return c.err == nil && b }

// First moves to the smallest key.
func (c *Cursor) First() bool { return c.ok(c.err == nil && c.c.First()) }

// Last moves to the largest key.
func (c *Cursor) Last() bool { return c.ok(c.err == nil && c.c.Last()) }

// Seek moves to the first key >= key in tree order.
func (c *Cursor) Seek(key []byte) bool { return c.ok(c.err == nil && c.c.Seek(treeKey(key))) }

// Next moves to the next key.
func (c *Cursor) Next() bool { return c.ok(c.c.Next()) }

// Prev moves to the previous key.
func (c *Cursor) Prev() bool { return c.ok(c.c.Prev()) }

// Key is the current (whole) key; nil, with Err set, when a long key's
// chunk table cannot be read.
func (c *Cursor) Key() []byte {
	k, err := c.t.fullKey(c.c.Key(), c.c.RawValue())
	if err != nil && c.err == nil {
		c.err = err
	}
	return k
}

// Tuple is the current tuple with its value loaded (a long key's chunk
// table is read once, for the key and the value).
func (c *Cursor) Tuple() Tuple {
	f := found{tk: c.c.Key(), v: c.c.RawValue()}
	k, err := c.t.fullKeyOf(&f)
	if err == nil {
		err = c.t.load(&f)
	}
	if err != nil {
		if c.err == nil {
			c.err = err
		}
		return Tuple{Key: k} // never the stored form of a value that failed to decode
	}
	return tupleOf(k, f.v)
}

// Meta is the current tuple without its value (for a short key, read from
// the leaf alone).
func (c *Cursor) Meta() Tuple {
	v := c.c.RawValue()
	n, err := valueLen(&v)
	if err != nil && c.err == nil {
		c.err = c.t.wrapKey(c.c.Key(), err)
	}
	return Tuple{Key: c.Key(), Len: n, Type: v.Type, Version: v.Version, ExpireAt: v.ExpireAt}
}

// Err is the first error met.
func (c *Cursor) Err() error {
	if c.err != nil {
		return c.err
	}
	return c.c.Err()
}

// KeyValue is the current key and value, as Tuple gives them, without the
// rest of the tuple: for a short key and a value stored in the leaf (the
// common case) it only slices the leaf, which makes a scan cheaper.
func (c *Cursor) KeyValue() (k, v []byte) {
	tk, d, inline := c.c.KeyData()
	if inline && !isLong(tk) {
		return tk, d
	}
	t := c.Tuple()
	return t.Key, t.Value
}
