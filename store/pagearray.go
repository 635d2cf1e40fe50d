package store

import "sync/atomic"

// pageArray is a flush's page window: the pages a flush encodes and
// writes pass through it (flush.go, writeNodes; at most 2*flushHalf
// bytes). It is kept from one flush to the next and, where the system
// allows, lives outside the Go heap in an anonymous mapping of its own
// that asks for huge pages (pagearray_linux.go):
//   - The collector neither counts it nor clears it. Inside the heap a
//     new array was cleared whole before the flush wrote every byte of
//     it again, and under the server's soft memory limit (cache + 384
//     MiB) its tens of MB left the collector that much less room, so it
//     ran more often.
//   - A fresh array is faulted in 2 MiB at a time instead of 4 KiB at a
//     time (on the machine measured, a 4 KiB fault of fresh memory costs
//     about 10 us).
//
// Invariant: buf's capacity is the whole array; nothing but the flush
// owning it holds a slice of it when release is called.
type pageArray struct {
	buf    []byte
	mapped bool         // buf is a mapping of its own: release unmaps it
	counts *arrayCounts // nil but in tests
}

// arrayCounts counts a store's page arrays, for tests (Options.arrays):
// made is how many were made, mapped how many mappings are not yet
// released.
type arrayCounts struct{ made, mapped atomic.Int64 }

// newPageArray returns an array of capacity at least n, empty, counted
// in counts when that is not nil.
func newPageArray(n int, counts *arrayCounts) pageArray {
	a := pageArray{counts: counts}
	if b, ok := mapPages(n); ok {
		a.buf, a.mapped = b[:0], true
	} else {
		a.buf = make([]byte, 0, n)
	}
	if counts != nil {
		counts.made.Add(1)
		if a.mapped {
			counts.mapped.Add(1)
		}
	}
	return a
}

// release gives the array back (a mapping is unmapped at once) and
// empties a.
func (a *pageArray) release() {
	if a.mapped {
		unmapPages(a.buf[:cap(a.buf)])
		if a.counts != nil {
			a.counts.mapped.Add(-1)
		}
	}
	*a = pageArray{}
}
