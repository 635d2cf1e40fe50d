package page

import (
	"bytes"
	"testing"
)

// TestGrowAfterLoadRewritesTail: a meta's high-water mark leaves out the
// file's free tail (usedHWM), whose pages the chunk on disk still marks
// free. After a Load from such a meta, pages the file grows by are
// allocated, and the next flush must write their chunk again: else a
// later Load finds them free and hands out live pages a second time.
// Found by the commit log's crash test (TestCrashCommitLogEncryptedNonces
// under -race): its replay after a crash grew the file and flushed with
// nothing else changing that chunk, and Check found a live leaf marked
// free. Load now marks such chunks to be written.
func TestGrowAfterLoadRewritesTail(t *testing.T) {
	const ps = 4096
	pages := map[uint64][]byte{}
	write := func(id uint64, buf []byte) error { pages[id] = bytes.Clone(buf); return nil }
	read := func(r Ref, want Type) ([]byte, error) {
		b, _, err := PlainCodec().Open(bytes.Clone(pages[r.ID]), r.ID, want, r.Txn, ps)
		return b, err
	}
	flush := func(a *Allocator, txn uint64) (Ref, uint64) {
		t.Helper()
		a.PrepareFlush(txn)
		a.Flushed()
		dir, hwm, err := a.WriteFreespace(txn, write, func() int { return 1 })
		if err != nil {
			t.Fatal(err)
		}
		buf, err := dir.Seal(nil)
		if err != nil {
			t.Fatal(err)
		}
		pages[dir.Ref.ID] = buf
		a.Landed()
		a.Release(txn+1, nil) // no readers
		return dir.Ref, hwm
	}
	// A file of 100 pages whose last 10 are freed: the meta's mark leaves
	// them out, the chunk marks them free.
	a := NewAllocator(PlainCodec(), ps)
	a.SetLowFirst(true)
	first := a.Alloc(100)
	flush(a, 2)
	a.Free(3, first+90, 10)
	// A few flushes: the free-space metadata moves down into the freed
	// pages, and the pages at the file's end are all free.
	var dir Ref
	var hwm, txn uint64
	for txn = 3; txn < 10; txn++ {
		dir, hwm = flush(a, txn)
	}
	if hwm >= a.HWM() {
		t.Fatalf("mark %d, file of %d pages: want a free tail left out", hwm, a.HWM())
	}
	b, err := Load(PlainCodec(), ps, dir, hwm, txn-1, read)
	if err != nil {
		t.Fatal(err)
	}
	// The chunk that marks the tail free on disk is written again at
	// the next flush (with the grown pages' bits clear), whatever else
	// changes before it.
	if _, ok := b.dirty[hwm/b.chunkBits()]; !ok {
		t.Fatalf("loaded with free bits past the mark %d on disk, chunk %d not to be written again", hwm, hwm/b.chunkBits())
	}
}
