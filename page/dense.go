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
// allocatable (giveAvail) lowers the hints its group now qualifies for; a
// search only passes groups that do not.

// denseLevels are the allocatable-page counts, freest first, that qualify
// a 64-page group at each level of the search.
var denseLevels = [...]int{32, 16, 8, 4, 2}

// placeSingle places one page densely (see above): it returns the page,
// taken from the group being filled or a qualifying group, or added at the
// end of the file; false when only the lowest free page is left to take.
func (a *Allocator) placeSingle() (uint64, bool) {
	id, ok := a.curPage()
	if !ok {
		id, ok = a.denseGroup(0, 1)
	}
	if !ok && a.mayGrow() {
		id = a.hwm
		a.hwm++
		return id, true
	}
	if !ok {
		id, ok = a.denseGroup(1, len(denseLevels))
	}
	if ok {
		a.take(id, 1)
	}
	return id, ok
}

// curPage is the lowest allocatable page of the group being filled.
func (a *Allocator) curPage() (uint64, bool) {
	if a.cur >= uint64(len(a.avail)) || a.avail[a.cur] == 0 {
		return 0, false
	}
	id := a.cur*64 + uint64(bits.TrailingZeros64(a.avail[a.cur]))
	return id, id < a.hwm
}

// denseGroup makes the lowest group qualifying at levels [from, to),
// freest level first, the group being filled and returns its lowest
// allocatable page; false when there is none.
func (a *Allocator) denseGroup(from, to int) (uint64, bool) {
	words := uint64(len(a.avail))
	for k := from; k < to; k++ {
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
	}
	return 0, false
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
func (a *Allocator) SetSlack(slack int) {
	a.slack = max(slack, 0)
	a.denseHint = [len(denseLevels)]uint64{} // no group was searched while off
}

// Slack is the share SetSlack last set (0: off).
func (a *Allocator) Slack() int { return a.slack }

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

// giveAvail makes id allocatable, and keeps the dense hints: it lowers
// those its group now qualifies for.
func (a *Allocator) giveAvail(id uint64) {
	if a.avail.has(id) {
		return
	}
	a.avail.set(id)
	a.availN++
	if a.slack == 0 {
		return
	}
	g := id / 64
	n := bits.OnesCount64(a.avail[g])
	for k, min := range denseLevels {
		if n >= min && g < a.denseHint[k] {
			a.denseHint[k] = g
		}
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
