package store

import (
	"errors"
	"fmt"
	"testing"
)

// TestEncodeWrite checks a flush's pipeline (encodeWrite) on both paths,
// failing an encode or a write at each run: every run written was encoded
// whole before, in order; nothing is written after the first error, which
// is returned; and the encoding goroutine is done when it returns (the
// test reads the encoder's state without a lock: run it with -race).
func TestEncodeWrite(t *testing.T) {
	ends := []int{3, 4, 9, 10, 16}
	errEncode := errors.New("encode failed")
	errWrite := errors.New("write failed")
	for _, split := range []bool{false, true} {
		for failEnc := -1; failEnc < len(ends); failEnc++ {
			for failWrite := -1; failWrite < len(ends); failWrite++ {
				name := fmt.Sprintf("split=%v/encode%d/write%d", split, failEnc, failWrite)
				t.Run(name, func(t *testing.T) {
					runEncodeWrite(t, ends, split, failEnc, failWrite, errEncode, errWrite)
				})
			}
		}
	}
}

// runEncodeWrite runs encodeWrite over ends, its encode failing at run
// failEnc and its write at run failWrite (-1: never), and checks what it
// did.
func runEncodeWrite(t *testing.T, ends []int, split bool, failEnc, failWrite int, errEncode, errWrite error) {
	run := func(lo, hi int) int { // the run [lo, hi) is, or -1
		for r, e := range ends {
			if e == hi && (r == 0 && lo == 0 || r > 0 && ends[r-1] == lo) {
				return r
			}
		}
		return -1
	}
	encoded := make([]bool, ends[len(ends)-1]) // by page: written only by encode
	encodes := 0                               // calls, written only by encode
	var written []int                          // runs, in order of their write
	encode := func(lo, hi int) error {
		encodes++
		if r := run(lo, hi); failEnc >= 0 && r == failEnc ||
			!split && lo == 0 && hi == ends[len(ends)-1] && failEnc >= 0 {
			return errEncode // the failing run's pages stay half done
		}
		for i := lo; i < hi; i++ {
			encoded[i] = true
		}
		return nil
	}
	write := func(lo, hi int) error {
		r := run(lo, hi)
		if r < 0 {
			t.Errorf("write of pages [%d,%d): not a run of %v", lo, hi, ends)
		}
		if len(written) > 0 && r != written[len(written)-1]+1 || len(written) == 0 && r != 0 {
			t.Errorf("write of run %d after runs %v: out of order", r, written)
		}
		for i := lo; i < hi; i++ {
			if !encoded[i] {
				t.Errorf("write of run %d: page %d not encoded", r, i)
			}
		}
		written = append(written, r)
		if r == failWrite {
			return errWrite
		}
		return nil
	}
	err := encodeWrite(ends, split, encode, write)

	// What should have happened: without split, an encode error comes
	// before any write; with it, the runs before the failing one are
	// written, and a write error before it comes first.
	wantWrites := len(ends)
	var wantErr error
	switch {
	case !split && failEnc >= 0:
		wantWrites, wantErr = 0, errEncode
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
	if failEnc >= 0 && split && encodes != failEnc+1 {
		t.Fatalf("%d encode calls, want %d: encoding went on past the failing run", encodes, failEnc+1)
	}
	if failEnc < 0 && encodes == 0 {
		t.Fatal("nothing encoded")
	}
}
