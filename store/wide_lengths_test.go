package store

import (
	"encoding/binary"
	"errors"
	"os"
	"testing"

	"github.com/digby-db/digby/btree"
	"github.com/digby-db/digby/page"
)

// TestDecodeHugeValueLength (from a review of the 32-bit builds): a leaf
// entry whose value length field is 2^31 or more must be rejected as
// corruption, as it is on 64-bit. On 32-bit, btree/node.go decodeBody
// converts the u32 to int, which turns negative, passes the "value
// overruns the page" check, and moves off before the page start: the
// decode then panics with a slice index out of range.
func TestDecodeHugeValueLength(t *testing.T) {
	for _, vlen := range []uint32{1 << 31, 0xffffffff, 0xfffffff0} {
		buf := make([]byte, 4096)
		h := page.Header{ID: 5, Txn: 1, Type: page.TypeLeaf, Count: 1}
		page.PutHeader(buf, h)
		off := page.HeaderSize
		binary.LittleEndian.PutUint16(buf[off:], 1) // klen
		buf[off+2], buf[off+3] = 0, 1               // flags, type
		binary.LittleEndian.PutUint64(buf[off+4:], 1)
		off += 12
		binary.LittleEndian.PutUint32(buf[off:], vlen)
		buf[off+4] = 'k'
		func() {
			defer func() {
				if r := recover(); r != nil {
					t.Errorf("value length %#x: decode panicked: %v", vlen, r)
				}
			}()
			_, err := btree.DecodeCopy(buf, h)
			var ce *page.CorruptError
			if !errors.As(err, &ce) {
				t.Errorf("value length %#x: err %v, want a *page.CorruptError", vlen, err)
			}
		}()
	}
}

// TestLogHeaderHugeOverflow (from a review of the 32-bit builds): a commit
// log page whose raw, not yet verified header says TypeLog, names its own
// page and has an Overflow of 2^31 or more is "not a log block", as on
// 64-bit. On 32-bit page.Header.Pages (int(h.Overflow)+1) turns negative,
// passes readLogFile's "h.Pages() > maxPages" check, and make panics
// (makeslice: len out of range): recovery of a damaged log crashes Open.
func TestLogHeaderHugeOverflow(t *testing.T) {
	for _, ovf := range []uint32{1 << 31, 0xfffffffe} {
		f, err := os.CreateTemp(t.TempDir(), "log")
		if err != nil {
			t.Fatal(err)
		}
		head := make([]byte, 4096)
		head[24] = byte(page.TypeLog)                 // ID 0 at [8:16]: page 0
		binary.LittleEndian.PutUint32(head[28:], ovf) // Overflow
		binary.LittleEndian.PutUint64(head[16:], 1)   // txn
		if _, err := f.WriteAt(head, 0); err != nil {
			t.Fatal(err)
		}
		func() {
			defer func() {
				if r := recover(); r != nil {
					t.Errorf("overflow %#x: readLogFile panicked: %v", ovf, r)
				}
			}()
			blocks, why := readLogFile(f, page.PlainCodec(), 4096)
			if len(blocks) != 0 || why == "" {
				t.Errorf("overflow %#x: %d blocks, reason %q; want none, not a log block", ovf, len(blocks), why)
			}
		}()
		f.Close()
	}
}
