package btree

import (
	"bytes"
	"testing"

	"github.com/digby-db/digby/page"
)

// encodeBoth encodes n with Encode and with the field-by-field reference
// and reports whether they differ; it also reports whether Encode's page
// decodes back to n's keys.
func encodeBoth(t *testing.T, n *Node, ps int) (differ bool, decodeErr error) {
	t.Helper()
	got, want := make([]byte, ps), make([]byte, ps)
	if err := n.Encode(got, page.PlainCodec()); err != nil {
		t.Fatal(err)
	}
	copy(want, got[:page.HeaderSize])
	encodeRef(n, want)
	body := ps - page.PlainCodec().Overhead()
	differ = !bytes.Equal(got[:body], want[:body])
	m, err := openDecode(got, n.Ref(), ps)
	if err == nil {
		for i := 0; i < n.Len(); i++ {
			if !bytes.Equal(m.Key(i), n.Key(i)) {
				return differ, errKeyMismatch
			}
		}
	}
	return differ, err
}

var errKeyMismatch = &page.CorruptError{Reason: "key differs after re-decoding"}

// TestLeafSetKeyStalePrefix: setKey on a leaf entry writes its record
// again, so the record's 4-byte prefix holds the new key's length. Before
// it did, the key could land right after a record whose prefix held the old
// length (setVal then setKey: both appended to own in turn; or any pack
// after setKey), and Encode copied the stale prefix into a page it sealed
// as valid. setKey is only called on branches today; this keeps a leaf
// caller safe.
func TestLeafSetKeyStalePrefix(t *testing.T) {
	const ps = 4096
	t.Run("setVal then setKey", func(t *testing.T) {
		n := &Node{ID: 2, Txn: 1, Leaf: true}
		n.insertLeaf(0, []byte("a"), Value{Version: 1, Data: []byte("one")})
		n.insertLeaf(1, []byte("m"), Value{Version: 1, Data: []byte("two")})
		n.setVal(0, Value{Version: 2, Data: []byte("uno")})
		n.setKey(0, []byte("abcdefgh")) // lands right after the new record
		differ, derr := encodeBoth(t, n, ps)
		if differ || derr != nil {
			t.Errorf("Encode differs from the field-by-field encoding: %v; page decodes: %v", differ, derr)
		}
	})
	t.Run("setKey then Compacted", func(t *testing.T) {
		n := &Node{ID: 2, Txn: 1, Leaf: true}
		n.insertLeaf(0, []byte("a"), Value{Version: 1, Data: []byte("one")})
		n.insertLeaf(1, []byte("m"), Value{Version: 1, Data: []byte("two")})
		n.setKey(0, []byte("abcdefgh"))
		c := n.Compacted() // packs record (old prefix) and key side by side
		differ, derr := encodeBoth(t, c, ps)
		if differ || derr != nil {
			t.Errorf("Encode differs from the field-by-field encoding: %v; page decodes: %v", differ, derr)
		}
	})
}
