package btree

import (
	"bytes"
	"strings"
	"testing"
	"unsafe"

	"github.com/digby-db/digby/page"
)

// TestCompressedFlag: a compressed value's flag survives an encode and a
// decode, an expiry change (setMeta) and a replacement by a plain value
// clears it; a page claiming a compressed value in overflow does not
// decode.
func TestCompressedFlag(t *testing.T) {
	const ps = 4096
	n := &Node{ID: 5, Txn: 3, Leaf: true}
	n.insertLeaf(0, []byte("a"), Value{Type: 1, Version: 1, Data: []byte("stored"), Compressed: true})
	n.insertLeaf(1, []byte("b"), Value{Type: 1, Version: 2, Data: []byte("plain")})
	v := n.Val(0)
	v.ExpireAt = 99
	n.setMeta(0, v)
	buf := make([]byte, ps)
	if err := n.Encode(buf, page.PlainCodec()); err != nil {
		t.Fatal(err)
	}
	d, err := openDecode(buf, n.Ref(), ps)
	if err != nil {
		t.Fatal(err)
	}
	if v := d.Val(0); !v.Compressed || string(v.Data) != "stored" || v.ExpireAt != 99 {
		t.Fatalf("entry 0: %+v, want compressed \"stored\" expiring at 99", v)
	}
	if v := d.Val(1); v.Compressed {
		t.Fatal("entry 1: compressed, stored plain")
	}
	if _, ok := d.inlineData(0); ok {
		t.Fatal("inlineData gives a compressed value's stored bytes")
	}
	d.setVal(0, Value{Type: 1, Version: 3, Data: []byte("plain again")})
	if d.Val(0).Compressed {
		t.Fatal("a plain value replacing a compressed one kept the flag")
	}

	// Flip entry 0's flags to overflow and compressed; reseal.
	i := bytes.Index(buf, []byte{1, 0, FlagCompressed | FlagExpire, 1})
	if i < 0 {
		t.Fatal("entry 0's prefix not found on the page")
	}
	buf[i+2] |= FlagOverflow
	if err := page.PlainCodec().Seal(buf); err != nil {
		t.Fatal(err)
	}
	if _, err := openDecode(buf, n.Ref(), ps); err == nil || !strings.Contains(err.Error(), "compressed value in overflow") {
		t.Fatalf("a compressed value in overflow decoded: %v", err)
	}
}

// TestValueSize: a Value stays 80 bytes on 64-bit platforms (see
// Value.Compressed).
func TestValueSize(t *testing.T) {
	if unsafe.Sizeof(uintptr(0)) == 8 && unsafe.Sizeof(Value{}) != 80 {
		t.Fatalf("Value is %d bytes, want 80", unsafe.Sizeof(Value{}))
	}
}
