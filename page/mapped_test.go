//go:build linux

package page

import (
	"bytes"
	"errors"
	"io"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"
)

// mappedTemp makes an empty file in a temporary directory and its mapped
// backend (closed at the end of the test).
func mappedTemp(t testing.TB) (string, *os.File, Backend) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "f")
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	b, err := MapReads(f)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Close() })
	return path, f, b
}

// TestMapReads: reads through MapReads see every write at once, follow the
// file past the first mapping, and a read of a part cut off behind the
// backend's back (its known size stale) reports the short file instead of
// crashing on the fault.
func TestMapReads(t *testing.T) {
	path, _, b := mappedTemp(t)
	page := func(c byte) []byte { return bytes.Repeat([]byte{c}, 4096) }
	read := func(off int64) ([]byte, error) {
		p := make([]byte, 4096)
		n, err := b.ReadAt(p, off)
		return p[:n], err
	}
	for i, c := range []byte("abc") {
		if _, err := b.WriteAt(page(c), int64(i)*4096); err != nil {
			t.Fatal(err)
		}
	}
	if p, err := read(4096); err != nil || !bytes.Equal(p, page('b')) {
		t.Fatalf("read page 1: %v", err)
	}
	// Overwrite: the mapping shows the new bytes.
	if _, err := b.WriteAt(page('x'), 4096); err != nil {
		t.Fatal(err)
	}
	if p, err := read(4096); err != nil || !bytes.Equal(p, page('x')) {
		t.Fatalf("read page 1 after overwrite: %v", err)
	}
	// Past the end: pread's answer.
	if _, err := read(3 * 4096); !errors.Is(err, io.EOF) {
		t.Fatalf("read past the end: %v, want EOF", err)
	}
	// Grow (sparsely) past the first mapping.
	far := int64(3 << 30)
	if _, err := b.WriteAt(page('z'), far); err != nil {
		t.Fatal(err)
	}
	if p, err := read(far); err != nil || !bytes.Equal(p, page('z')) {
		t.Fatalf("read past the first mapping: %v", err)
	}
	if p, err := read(2 * 4096); err != nil || !bytes.Equal(p, page('c')) {
		t.Fatalf("read page 2 through the new mapping: %v", err)
	}
	// The reads above came from a mapping (not pread): one covers far.
	mf, ok := b.(*mappedFile)
	if !ok {
		t.Fatalf("MapReads returned %T", b)
	}
	if m := mf.m.Load(); strconv.IntSize == 64 && (m == nil || int64(len(*m)) <= far || mf.failed.Load()) {
		// (A 32-bit process has no room for a mapping past 3 GiB: its
		// reads fall back to pread, checked right above.)
		t.Fatal("reads did not go through a mapping covering the file")
	}
	// Where mapping failed (a file system without mmap), reads are
	// preads, and still right.
	pb, err := MapReads(mf.File)
	if err != nil {
		t.Fatal(err)
	}
	pb.(*mappedFile).failed.Store(true)
	q := make([]byte, 4096)
	if _, err := pb.ReadAt(q, 0); err != nil || !bytes.Equal(q, page('a')) || pb.(*mappedFile).m.Load() != nil {
		t.Fatalf("read without a mapping: %v", err)
	}
	// A reference's huge offset (corrupt data) is an error, not a crash.
	if _, err := b.ReadAt(make([]byte, 4096), math.MaxInt64-4095); err == nil {
		t.Fatal("read at a huge offset succeeded")
	}
	// Cut the file behind the backend's back: the mapped read faults, the
	// fault is recovered and pread reports the end of the file.
	if err := os.Truncate(path, 4096); err != nil {
		t.Fatal(err)
	}
	if _, err := read(2 * 4096); !errors.Is(err, io.EOF) {
		t.Fatalf("read of a cut-off page: %v, want EOF", err)
	}
	if p, err := read(0); err != nil || !bytes.Equal(p, page('a')) {
		t.Fatalf("read page 0 after the cut: %v", err)
	}
	// Truncate through the backend: reads past the new end go to pread.
	if err := b.Truncate(2 * 4096); err != nil {
		t.Fatal(err)
	}
	if _, err := read(2 * 4096); !errors.Is(err, io.EOF) {
		t.Fatalf("read past a truncation: %v, want EOF", err)
	}
}

// TestViewRun: ViewRun lends the verified page from the mapping (a later
// write shows through the lent bytes: no copy), reports a stale page as
// corruption naming it, declines where it cannot lend (past the end, an
// encrypted file, a backend without a mapping), and a page cut off the
// file behind the backend's back gives an error naming it, not a crash.
func TestViewRun(t *testing.T) {
	path, f, b := mappedTemp(t)
	file := NewFile(b, nil, fuzzPS)
	for id := uint64(0); id < 4; id++ {
		buf, _ := sealedRun(t, PlainCodec(), id, 1)
		if err := file.Write(id, buf); err != nil {
			t.Fatal(err)
		}
	}
	_, want := sealedRun(t, PlainCodec(), 2, 1)
	got, h, ok, err := file.ViewRun(2, 1, TypeOverflow, 9)
	if !ok || err != nil || h.ID != 2 || !bytes.Equal(got[HeaderSize:], want) {
		t.Fatalf("ViewRun(2): ok %v, %v, header %+v", ok, err, h)
	}
	rewritten := bytes.Repeat([]byte{0xee}, fuzzPS)
	if _, err := b.WriteAt(rewritten, 2*fuzzPS); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, rewritten[:len(got)]) {
		t.Fatal("the bytes ViewRun returned are a copy, not the mapping's")
	}
	var ce *CorruptError
	if _, _, ok, err := file.ViewRun(1, 1, TypeOverflow, 8); !ok || !errors.As(err, &ce) || ce.ID != 1 {
		t.Fatalf("stale page: ok %v, %v; want corruption of page 1", ok, err)
	}
	if _, _, ok, _ := file.ViewRun(4, 1, 0, 0); ok {
		t.Fatal("lent a page past the end of the file")
	}
	if _, _, ok, _ := NewFile(f, nil, fuzzPS).ViewRun(1, 1, 0, 0); ok {
		t.Fatal("lent a page from a backend without a mapping")
	}
	for name, c := range testCodecs(t) {
		if c.Encrypted() {
			enc := NewFile(b, nil, fuzzPS)
			enc.SetCodec(c)
			if _, _, ok, _ := enc.ViewRun(1, 1, 0, 0); ok || enc.CanView() {
				t.Fatalf("%s: lent a page of an encrypted file", name)
			}
		}
	}
	if !file.CanView() {
		t.Fatal("CanView false for a mapped plain file")
	}
	// Cut the file behind the backend's back (its known size stale).
	if err := os.Truncate(path, fuzzPS); err != nil {
		t.Fatal(err)
	}
	if _, _, ok, err := file.ViewRun(3, 1, 0, 0); !ok || !errors.As(err, &ce) || ce.ID != 3 {
		t.Fatalf("page cut off: ok %v, %v; want corruption of page 3", ok, err)
	}
}

// TestPopulate: after Populate, first reads of every page of a fresh
// mapping take (almost) no page faults, where without it they take at
// least one per fault-around window; reads still see the file's bytes,
// and a range past the end is cut to the file.
func TestPopulate(t *testing.T) {
	const pages = 2048
	fill := func(b Backend) {
		for i := 0; i < pages; i++ {
			if _, err := b.WriteAt(bytes.Repeat([]byte{byte(i)}, 4096), int64(i)*4096); err != nil {
				t.Fatal(err)
			}
		}
	}
	faults := func(b Backend) int64 {
		p := make([]byte, 4096)
		var before, after syscall.Rusage
		syscall.Getrusage(syscall.RUSAGE_SELF, &before)
		for i := 0; i < pages; i++ {
			j := i * 997 % pages // scattered
			if _, err := b.ReadAt(p, int64(j)*4096); err != nil || p[0] != byte(j) || p[4095] != byte(j) {
				t.Fatalf("page %d: %v", j, err)
			}
		}
		syscall.Getrusage(syscall.RUSAGE_SELF, &after)
		return int64(after.Minflt - before.Minflt)
	}
	_, _, plain := mappedTemp(t)
	fill(plain)
	_, _, pop := mappedTemp(t)
	fill(pop)
	if !pop.(*mappedFile).Populate(0, (pages+10)*4096) {
		t.Skip("MADV_POPULATE_READ is not supported by this kernel (before 5.14)")
	}
	if !pop.(*mappedFile).Populate(4096, 4096) { // within what was populated
		t.Fatal("a second Populate failed")
	}
	without, with := faults(plain), faults(pop)
	if without < pages/32 || with > without/4 {
		t.Fatalf("page faults reading %d pages: %d without Populate, %d with", pages, without, with)
	}
	t.Logf("page faults reading %d pages: %d without Populate, %d with", pages, without, with)
}
