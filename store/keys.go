package store

import (
	"crypto/sha256"
	"fmt"

	"github.com/digby-db/digby/btree"
	"github.com/digby-db/digby/page"
)

// Large keys (DESIGN §3, docs/format.md "Large keys").
//
// A key of at most KeyPrefixSize bytes is its own tree key. A longer key is
// stored in the tree as its first KeyPrefixSize bytes followed by the 32
// bytes of its SHA-256 (256 bytes in all, so never equal to a short key's
// tree key); the whole key lives in its value's chunk table, which such a
// tuple always has (even for an empty value). Every lookup of a long key
// compares the whole key before it answers, so two keys that share their
// first KeyPrefixSize bytes are two tuples and each is found as itself.
//
// Ordering: tree order is bytewise order of tree keys, so long keys sharing
// their first KeyPrefixSize bytes are ordered by the SHA-256 of the whole
// key, not bytewise; every other pair of keys keeps bytewise order.

// KeyPrefixSize is the longest key stored in the tree as it is.
const KeyPrefixSize = 224

// longTreeKeySize is the tree key size of a long key: prefix and SHA-256.
const longTreeKeySize = KeyPrefixSize + sha256.Size

// MaxKeySize is the longest key, 4 GiB, a checked limit: a longer one gets
// ErrKeyTooLarge.
const MaxKeySize = 4 << 30

// treeKey is the key under which key is stored in a tree.
func treeKey(key []byte) []byte {
	if len(key) <= KeyPrefixSize {
		return key
	}
	tk := make([]byte, longTreeKeySize)
	copy(tk, key[:KeyPrefixSize])
	sum := sha256.Sum256(key)
	copy(tk[KeyPrefixSize:], sum[:])
	return tk
}

// isLong reports whether a tree key stands for a long key.
func isLong(tk []byte) bool { return len(tk) > KeyPrefixSize }

// checkKey refuses keys over MaxKeySize.
func checkKey(key []byte) error {
	if uint64(len(key)) > MaxKeySize {
		return fmt.Errorf("key of %d bytes (limit %d): %w", len(key), uint64(MaxKeySize), ErrKeyTooLarge)
	}
	return nil
}

// found is what find returns about a key present in a table.
type found struct {
	tk []byte      // its tree key
	v  btree.Value // its leaf value (overflow not loaded)
	ct *chunkTable // its chunk table when it had to be read (long keys)
}

// find looks key up, confirming a long key's whole key against its chunk
// table. The tree key holds the whole key's SHA-256, so a chunk table
// naming another whole key is corrupt (or forged with a valid checksum):
// an error naming its page, not an answer about another key.
func (t *Table) find(key []byte) (found, bool, error) {
	tk := treeKey(key)
	v, ok, err := t.getRaw(tk)
	if err != nil || !ok {
		return found{}, false, err
	}
	f := found{tk: tk, v: v}
	if !isLong(tk) {
		return f, true, nil
	}
	if v.Ovf.IsZero() {
		return found{}, false, t.wrap(fmt.Errorf("long key stored without a chunk table: %w", ErrCorrupt))
	}
	if f.ct, err = t.chunkTable(v); err != nil {
		return found{}, false, err
	}
	if string(f.ct.fullKey) != string(key) {
		if err := checkFullKey(v.Ovf.ID, tk, f.ct); err != nil {
			return found{}, false, t.wrap(err)
		}
		return found{}, false, nil // a SHA-256 collision: another key
	}
	return f, true, nil
}

// fullKey is the whole key of tree key tk, whose leaf value is v.
func (t *Table) fullKey(tk []byte, v btree.Value) ([]byte, error) {
	return t.fullKeyOf(&found{tk: tk, v: v})
}

// fullKeyOf is fullKey keeping a long key's chunk table in f, so that
// loading the value does not read it again.
func (t *Table) fullKeyOf(f *found) ([]byte, error) {
	if !isLong(f.tk) {
		return f.tk, nil
	}
	if f.v.Ovf.IsZero() {
		return nil, t.wrap(fmt.Errorf("long key stored without a chunk table: %w", ErrCorrupt))
	}
	if f.ct == nil {
		ct, err := t.chunkTable(f.v)
		if err != nil {
			return nil, err
		}
		f.ct = ct
	}
	// A cursor met the tuple by its tree key: the whole key it returns
	// must be the one that tree key names.
	if err := checkFullKey(f.v.Ovf.ID, f.tk, f.ct); err != nil {
		return nil, t.wrap(err)
	}
	return f.ct.fullKey, nil
}

// checkFullKey verifies that a chunk table's whole key (if any) belongs to
// tree key tk, and that a long tree key has one.
func checkFullKey(id uint64, tk []byte, ct *chunkTable) error {
	switch {
	case ct.fullKey == nil && isLong(tk):
		return &page.CorruptError{ID: id, Reason: "chunk table of a long key holds no whole key"}
	case ct.fullKey != nil && string(treeKey(ct.fullKey)) != string(tk):
		return &page.CorruptError{ID: id, Reason: "chunk table's whole key does not match its tree key"}
	}
	return nil
}
