package page

import (
	"fmt"
	"math/bits"
)

// Single pages are allocated densely (when the store gives the allocator
// slack, SetSlack). Pages are taken a group of 64 at a time (one word of
// the avail bitmap), the group filled in ascending order before the next
// is chosen. The next group is the lowest with at least half its pages
// allocatable; failing that, the file grows while under its slack share is
// allocatable (the new pages are contiguous); failing that, the lowest
// group with at least a quarter, an eighth, ... of its pages allocatable,
// down to the lowest free page.
//
// Why: a flush's cost is its one sync, and on the disks measured here a
// sync costs by how spread the pages it writes are, not only by how many:
// 44 pages written in place at random over a 200 MB file took 2.5-3.9 ms
// to sync, the same 44 inside a window of 88 pages 0.74 ms, contiguous
// 0.36 ms (BenchmarkSyncPlacement; docs/format.md, "Where pages go").
// Lowest-first allocation under random overwrites hands a flush pages
// scattered over the whole file: the old versions of random leaves, freed
// one by one. Taking the freest groups first keeps a flush's pages in few
// windows, and leaves the sparse groups to gather free pages meanwhile.
//
// The invariant each level's hint keeps: no group below hint[k] other than
// cur has denseLevels[k] or more allocatable pages. Making a page
// allocatable (noteAvail) lowers the hints its group now qualifies for; a
// search only passes groups that do not.

// denseLevels are the allocatable-page counts, freest first, that qualify
// a 64-page group at each level of the search.
var denseLevels = [...]int{32, 16, 8, 4, 2}

// allocDense returns an allocatable page of the group being filled, or of
// the lowest group at level from or below, without taking it; false when
// there is none.
func (a *Allocator) allocDense(from int) (uint64, bool) {
	words := uint64(len(a.avail))
	if a.cur < words {
		if w := a.avail[a.cur]; w != 0 {
			if id := a.cur*64 + uint64(bits.TrailingZeros64(w)); id < a.hwm {
				return id, true
			}
		}
	}
	for k := from; k < len(denseLevels); k++ {
		for g := a.denseHint[k]; g < words; g++ {
			w := a.avail[g]
			if bits.OnesCount64(w) < denseLevels[k] {
				continue
			}
			if id := g*64 + uint64(bits.TrailingZeros64(w)); id < a.hwm {
				a.cur, a.denseHint[k] = g, g+1
				return id, true
			}
		}
		a.denseHint[k] = words
		if from == 0 {
			// Below half free, growing the file comes first.
			return 0, false
		}
	}
	return 0, false
}

// allocSingle allocates one page densely: see above.
func (a *Allocator) allocSingle() uint64 {
	id, ok := a.allocDense(0)
	if !ok && a.mayGrow() {
		id = a.hwm
		a.hwm++
		return id
	}
	if !ok {
		id, ok = a.allocDense(1)
	}
	if !ok {
		var found bool
		if id, found = a.avail.next(a.lowHint); !found || id >= a.hwm {
			id = a.hwm
			a.hwm++
			return id
		}
		a.lowHint = id + 1
	}
	a.takeAvail(id)
	a.diskFree.clear(id)
	a.markDirty(id)
	return id
}

// noteAvail keeps the dense hints after page id became allocatable.
func (a *Allocator) noteAvail(id uint64) {
	g := id / 64
	n := bits.OnesCount64(a.avail[g])
	for k, min := range denseLevels {
		if n >= min && g < a.denseHint[k] {
			a.denseHint[k] = g
		}
	}
}

// SetLowFirst makes single-page allocation take the lowest free page
// (relocation, which must move pages lower) until it is called with false.
func (a *Allocator) SetLowFirst(on bool) { a.lowFirst = on }

// SetSlack turns dense placement on with slack > 0. When no 64-page group
// is half free, a single page extends the file (contiguous pages) while
// less than slack percent of the file is free or freed (allocatable, or
// waiting for rules (a) and (b)), and takes a page of the freest group
// otherwise. Growth for placement's sake thus stops at about
// 100/(100-slack) times the live pages; as lowest-first allocation, the
// file still grows when nothing at all is allocatable. With slack <= 0 (the
// default) single pages take the lowest free page, as runs always do.
func (a *Allocator) SetSlack(slack int) { a.slack = max(slack, 0) }

// mayGrow reports whether a single page with no half-free group for it
// may extend the file rather than take a page of a sparser group.
func (a *Allocator) mayGrow() bool {
	return (a.availN+a.waitN)*100 < a.hwm*uint64(a.slack)
}

// takeAvail makes id not allocatable.
func (a *Allocator) takeAvail(id uint64) {
	if a.avail.has(id) {
		a.avail.clear(id)
		a.availN--
	}
}

// giveAvail makes id allocatable.
func (a *Allocator) giveAvail(id uint64) {
	if !a.avail.has(id) {
		a.avail.set(id)
		a.availN++
	}
}

// CheckCounts verifies the allocator's page counters against its sets.
func (a *Allocator) CheckCounts() error {
	if got, want := a.availN, a.avail.count(); got != want {
		return fmt.Errorf("allocatable count %d, bitmap holds %d", got, want)
	}
	var wait uint64
	for _, l := range [][]Freed{a.pending, a.staged, a.held, a.freshFree} {
		for _, f := range l {
			wait += uint64(len(f.IDs))
		}
	}
	if a.waitN != wait {
		return fmt.Errorf("waiting count %d, lists hold %d", a.waitN, wait)
	}
	return nil
}

// Surplus is how many pages at the end of the file relocation should empty:
// those beyond what the file needs to hold its live pages with its slack
// share free (all allocatable pages without slack), and never more than
// are allocatable. Compacting below the slack would only make the next
// writes grow the file again.
func (a *Allocator) Surplus() uint64 {
	free := a.availN + a.waitN
	used := a.hwm - min(a.hwm, free)
	target := used * 100 / uint64(100-a.slack)
	if target >= a.hwm {
		return 0
	}
	return min(a.hwm-target, a.availN)
}
