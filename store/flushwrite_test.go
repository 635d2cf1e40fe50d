package store

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"testing"
)

// TestEncodeWrite checks a flush's pipeline (encodeWrite) on both paths,
// failing an encode or a write at each run: every run written was encoded
// whole before, in order, and its window slots still hold it (no later
// run's encode reused them first); nothing is written after the first
// error, which is returned; and the encoding goroutine is done when it
// returns (the test reads the encoder's state without a lock: run it with
// -race). The halves of 4 pages make the runs take turns in them.
func TestEncodeWrite(t *testing.T) {
	ends := []int{3, 4, 9, 10, 13, 16, 17, 18, 19, 22}
	errEncode := errors.New("encode failed")
	errWrite := errors.New("write failed")
	for _, split := range []bool{false, true} {
		for failEnc := -1; failEnc < len(ends); failEnc++ {
			for failWrite := -1; failWrite < len(ends); failWrite++ {
				name := fmt.Sprintf("split=%v/encode%d/write%d", split, failEnc, failWrite)
				t.Run(name, func(t *testing.T) {
					runEncodeWrite(t, ends, 4, split, failEnc, failWrite, errEncode, errWrite)
				})
			}
		}
	}
}

// runEncodeWrite runs encodeWrite over ends with halves of half pages,
// its encode failing at run failEnc and its write at run failWrite (-1:
// never), and checks what it did.
func runEncodeWrite(t *testing.T, ends []int, half int, split bool, failEnc, failWrite int, errEncode, errWrite error) {
	run := func(lo, hi int) int { // the run [lo, hi) is, or -1
		for r, e := range ends {
			if e == hi && (r == 0 && lo == 0 || r > 0 && ends[r-1] == lo) {
				return r
			}
		}
		return -1
	}
	// The window: slot s holds page window[s] (-1: nothing yet). Written
	// by encode, read by write: the pipeline must order them.
	window := make([]int, 2*half+ends[len(ends)-1])
	for i := range window {
		window[i] = -1
	}
	encodes := 0 // calls, written only by encode
	encode := func(lo, hi, at int) error {
		encodes++
		if r := run(lo, hi); r < 0 {
			t.Errorf("encode of pages [%d,%d): not a run of %v", lo, hi, ends)
		} else if r == failEnc {
			return errEncode
		}
		for i := lo; i < hi; i++ {
			window[at+i-lo] = i
		}
		return nil
	}
	var written []int // runs, in order of their write
	write := func(lo, hi, at int) error {
		r := run(lo, hi)
		if r < 0 {
			t.Errorf("write of pages [%d,%d): not a run of %v", lo, hi, ends)
		}
		if len(written) > 0 && r != written[len(written)-1]+1 || len(written) == 0 && r != 0 {
			t.Errorf("write of run %d after runs %v: out of order", r, written)
		}
		if at < 0 || at+hi-lo > 2*half && hi-lo <= half {
			t.Errorf("run %d at slot %d: outside the window of two halves of %d", r, at, half)
		}
		for i := lo; i < hi; i++ {
			if window[at+i-lo] != i {
				t.Errorf("write of run %d: slot %d holds page %d, want %d", r, at+i-lo, window[at+i-lo], i)
			}
		}
		written = append(written, r)
		if r == failWrite {
			return errWrite
		}
		return nil
	}
	err := encodeWrite(ends, half, split, encode, write)

	// What should have happened: the runs before the first failure are
	// written; a failing write comes after its run's encode.
	wantWrites := len(ends)
	var wantErr error
	switch {
	case failWrite >= 0 && (failEnc < 0 || failWrite < failEnc):
		wantWrites, wantErr = failWrite+1, errWrite
	case failEnc >= 0:
		wantWrites, wantErr = failEnc, errEncode
	}
	if !errors.Is(err, wantErr) {
		t.Fatalf("encodeWrite returned %v, want %v", err, wantErr)
	}
	if len(written) != wantWrites {
		t.Fatalf("wrote runs %v, want the first %d", written, wantWrites)
	}
	// Read after the return without synchronization: a race if the
	// encoding goroutine were still running.
	if failEnc >= 0 && (failWrite < 0 || failEnc < failWrite) && encodes != failEnc+1 {
		t.Fatalf("%d encode calls, want %d: encoding went on past the failing run", encodes, failEnc+1)
	}
	if failEnc < 0 && encodes == 0 {
		t.Fatal("nothing encoded")
	}
}

// TestPlaceRuns: runs fill one half while they fit, then take the other,
// alternately; each turn's first and last runs are marked; a run longer
// than a half gets a turn of its own.
func TestPlaceRuns(t *testing.T) {
	got := placeRuns([]int{3, 4, 9, 10, 13, 16, 26}, 4)
	want := []runSlot{
		{at: 0, first: true}, {at: 3, last: true}, // 3+1 pages: half 0
		{at: 4, first: true, last: true}, // 5 pages: a turn of its own, half 1
		{at: 0, first: true},             // 1 page, half 0
		{at: 1, last: true},              // 3 pages: 4 in all
		{at: 4, first: true, last: true}, // 3 pages, half 1
		{at: 0, first: true, last: true}, // 10 pages: its own turn
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("placeRuns:\n got %v\nwant %v", got, want)
	}
}

// TestWindowHoldsRuns: for random runs of at most a half each, every run
// placeRuns places lies inside the window windowPages gives. (The window
// once had min(n, two halves) pages: a flush of between one and two
// halves whose first turn ended early ran past it.)
func TestWindowHoldsRuns(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for range 20000 {
		half := 1 + rng.IntN(64)
		var ends []int
		n := 0
		for k := rng.IntN(3 * half); k >= 0; k-- {
			n += 1 + rng.IntN(half)
			ends = append(ends, n)
			if rng.IntN(4) == 0 {
				break
			}
		}
		w := windowPages(n, half)
		lo := 0
		for r, s := range placeRuns(ends, half) {
			if s.at < 0 || s.at+ends[r]-lo > w {
				t.Fatalf("half %d, runs ending at %v: run %d at slot %d, %d pages, past a window of %d", half, ends, r, s.at, ends[r]-lo, w)
			}
			lo = ends[r]
		}
	}
}
