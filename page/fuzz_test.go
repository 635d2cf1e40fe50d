package page

import (
	"bytes"
	"encoding/binary"
	"testing"
)

// fuzzPS is the page size the fuzzers decode with.
const fuzzPS = MinPageSize

func seedMeta(slot uint64) []byte {
	buf := make([]byte, fuzzPS)
	m := &Meta{Slot: slot, Version: FormatVersion, PageSize: fuzzPS, Txn: 42 + slot, Catalog: Ref{ID: 7, Txn: 40, Pages: 1},
		Freedir: Ref{ID: 9, Txn: 42, Pages: 1}, HWM: 100, NextVersion: 1234, Epoch: 3}
	if err := PlainCodec().EncodeMeta(m, buf); err != nil {
		panic(err)
	}
	return buf
}

// FuzzDecodeMeta: DecodeMeta never panics on arbitrary bytes, raw or
// resealed (so that the field checks behind the checksum are reached), and
// a meta it accepts re-encodes to the same meta.
func FuzzDecodeMeta(f *testing.F) {
	f.Add(seedMeta(0), uint8(0), false)
	f.Add(seedMeta(1), uint8(1), true)
	f.Add([]byte(Magic), uint8(0), true)
	f.Add([]byte{}, uint8(1), false)
	f.Fuzz(func(t *testing.T, data []byte, slot uint8, reseal bool) {
		s := uint64(slot & 1)
		c := PlainCodec()
		check := func(buf []byte) {
			m, err := c.DecodeMeta(buf, s, fuzzPS)
			if err != nil {
				return
			}
			if m.Slot != s || int(m.PageSize) != fuzzPS || m.HWM < 2 || m.Version > FormatVersion {
				t.Fatalf("accepted an invalid meta: %+v", m)
			}
			out := make([]byte, fuzzPS)
			if err := c.EncodeMeta(m, out); err != nil {
				t.Fatal(err)
			}
			m2, err := c.DecodeMeta(out, s, fuzzPS)
			if err != nil || *m2 != *m {
				t.Fatalf("re-encoded meta: %+v, %v; want %+v", m2, err, m)
			}
		}
		check(data)
		if !reseal {
			return
		}
		buf := make([]byte, fuzzPS)
		copy(buf, data)
		if len(data) < HeaderSize+8 {
			copy(buf[HeaderSize:], Magic)
		}
		if err := c.Seal(buf); err != nil {
			t.Fatal(err)
		}
		check(buf)
	})
}

// seedFreespace makes a valid directory and chunks with the allocator.
func seedFreespace(f *testing.F) map[uint64][]byte {
	a := NewAllocator(PlainCodec(), fuzzPS)
	for i := 0; i < 200; i++ {
		a.Alloc(1)
	}
	a.Free(3, 10, 20)
	a.Free(4, 50, 3)
	a.PrepareFlush(3)
	pages := map[uint64][]byte{}
	dir, _, err := a.WriteFreespace(5, func(id uint64, buf []byte) error {
		pages[id] = append([]byte(nil), buf...)
		return nil
	}, func() int { return 1 })
	if err != nil {
		f.Fatal(err)
	}
	buf, err := dir.Seal([]RunSum{{ID: 7, Pages: 1, Sum: 42}})
	if err != nil {
		f.Fatal(err)
	}
	pages[dir.Ref.ID] = buf
	return pages
}

// FuzzReadFreespace: ReadFreespace and Load never panic on an arbitrary
// directory run and arbitrary chunk pages (as the verified reads of a
// file would return them: whole runs of the size the reference names).
func FuzzReadFreespace(f *testing.F) {
	pages := seedFreespace(f)
	var dir, chunk []byte
	for _, b := range pages {
		switch ReadHeader(b).Type {
		case TypeFreedir:
			dir = b
		case TypeFreemap:
			chunk = b
		}
	}
	if dir == nil || chunk == nil {
		f.Fatal("seed free space has no directory or chunk")
	}
	f.Add(dir, chunk, uint64(250))
	f.Add(dir[:HeaderSize+40], chunk[:100], uint64(2))
	f.Add([]byte{}, []byte{}, uint64(0))
	big := make([]byte, 3*fuzzPS)
	copy(big, dir)
	binary.LittleEndian.PutUint64(big[HeaderSize+8:], 300) // many chunks
	f.Add(big, chunk, uint64(1<<40))
	f.Fuzz(func(t *testing.T, dirData, chunkData []byte, hwm uint64) {
		runs := max(1, (len(dirData)+fuzzPS-1)/fuzzPS)
		if runs > 16 {
			runs = 16
		}
		dirBuf := make([]byte, runs*fuzzPS)
		copy(dirBuf, dirData)
		chunkBuf := make([]byte, fuzzPS)
		copy(chunkBuf, chunkData)
		dirRef := Ref{ID: 2, Txn: 1, Pages: uint32(runs)}
		read := func(r Ref, want Type) ([]byte, error) {
			if r == dirRef && want == TypeFreedir {
				return bytes.Clone(dirBuf), nil
			}
			if r.Pages != 1 {
				return nil, corrupt(r.ID, "run of %d pages, expected 1", r.Pages)
			}
			return bytes.Clone(chunkBuf), nil
		}
		if _, err := ReadFreespace(PlainCodec(), fuzzPS, dirRef, read); err != nil {
			return
		}
		a, err := Load(PlainCodec(), fuzzPS, dirRef, hwm%(1<<20), 7, read)
		if err != nil {
			return
		}
		// The loaded allocator must be usable.
		free, _ := a.FreeCounts()
		_ = free
		if a.HWM() > 2 {
			id := a.Alloc(1)
			if id < 2 {
				t.Fatalf("allocated meta page %d", id)
			}
		}
	})
}
