package page

import "testing"

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
