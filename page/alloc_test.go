package page

import (
	"bytes"
	"slices"
	"testing"
)

// TestAllocHeldUntilLanded: pages a flush moves out of pending (freed at
// or before the newest meta on disk) stay unallocatable until that
// flush's meta is durable (Landed), even with no reader holding them back:
// before it lands, a crash reopens the older meta, which still reaches
// them (DESIGN §2 rule (b)).
func TestAllocHeldUntilLanded(t *testing.T) {
	a := NewAllocator(PlainCodec(), MinPageSize)
	first := a.Alloc(10)
	a.Flushed() // a meta on disk reaches them now
	a.Free(3, first, 10)
	a.PrepareFlush(3)
	a.Release(^uint64(0), nil) // no readers at all
	got := a.Alloc(10)
	if got < first+10 && got+10 > first {
		t.Fatalf("allocated %d..%d among pages freed at txn 3 before the flush landed (%d..%d)", got, got+9, first, first+9)
	}
	a.Landed()
	a.Release(^uint64(0), nil)
	if got := a.Alloc(10); got != first {
		t.Fatalf("after the flush landed, Alloc(10) = %d, want the freed run at %d", got, first)
	}
}

// TestFreeDirSeal: a directory sized for n runs takes a list of up to n
// (read back as given) and refuses a longer one.
func TestFreeDirSeal(t *testing.T) {
	const ps = 4096
	a := NewAllocator(PlainCodec(), ps)
	a.Alloc(10)
	a.Free(3, 4, 2)
	a.PrepareFlush(3)
	pages := map[uint64][]byte{}
	write := func(id uint64, buf []byte) error { pages[id] = buf; return nil }
	dir, _, err := a.WriteFreespace(5, write, func() int { return 3 })
	if err != nil {
		t.Fatal(err)
	}
	list := []RunSum{{ID: 2, Pages: 1, Sum: 7}, {ID: 9, Pages: 2, Sum: 8}}
	if _, err := dir.Seal(append(list, list...)); err == nil {
		t.Fatal("a directory sized for 3 runs took 4")
	}
	buf, err := dir.Seal(list)
	if err != nil {
		t.Fatal(err)
	}
	pages[dir.Ref.ID] = buf
	read := func(r Ref, want Type) ([]byte, error) {
		b, _, err := PlainCodec().Open(bytes.Clone(pages[r.ID]), r.ID, want, r.Txn, ps)
		return b, err
	}
	fs, err := ReadFreespace(PlainCodec(), ps, dir.Ref, read)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(fs.Flushed, list) {
		t.Fatalf("directory lists %v, want %v", fs.Flushed, list)
	}
}
