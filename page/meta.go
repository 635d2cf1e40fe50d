package page

import (
	"encoding/binary"
	"errors"
	"fmt"
)

// Magic identifies a digby data file.
const Magic = "DIGBYDB\x00"

// FormatVersion is the on-disk format this code writes. Open refuses newer
// ones, and older than MinFormatVersion.
//
// Version 2 stores large values as chunk tables and chunk runs (lz4) where
// version 1 stored one overflow run per value.
const FormatVersion = 2

// MinFormatVersion is the oldest on-disk format this code reads.
const MinFormatVersion = 2

// ErrNewerFormat is returned when the file was written by a newer format.
var ErrNewerFormat = errors.New("data file has a newer format version")

// ErrOlderFormat is returned when the file was written by a format older
// than MinFormatVersion (copy it with the build that wrote it).
var ErrOlderFormat = errors.New("data file has an older format version")

// ErrForeign is returned when page 0 and 1 do not look like a digby file.
var ErrForeign = errors.New("not a digby data file")

// MetaSingleSync marks a meta written by a flush that synced once, after
// writing pages and meta together: open must verify the flush's runs (the
// free directory lists them) before trusting it.
const MetaSingleSync = 1

// MetaComplete marks a meta written after its flush's sync returned (at a
// clean close): its flush is known complete, so open does not verify it and
// damage to its pages is reported as corruption, never taken for a crash.
const MetaComplete = 2

// Ref points at a page (or run) and carries the txn id that wrote it, so a
// read can tell a stale but valid page from the one the reference meant.
type Ref struct {
	ID    uint64
	Txn   uint64
	Pages uint32 // run length; 1 for ordinary pages, 0 for a null ref
}

// IsZero reports a null reference.
func (r Ref) IsZero() bool { return r.ID == 0 }

// Meta is the root of one committed, durable state. Two are kept, in pages
// 0 and 1; each flush overwrites the slot that does not hold the newest one.
type Meta struct {
	Slot        uint64 // 0 or 1: the page it lives in
	Version     uint32
	PageSize    uint32
	Flags       uint32
	Txn         uint64 // last logical commit this meta makes durable
	Catalog     Ref    // catalog tree root
	Freedir     Ref    // free-space directory run
	HWM         uint64 // pages [0,HWM) make up the file
	NextVersion uint64 // tuple version counter
	Epoch       uint32 // bumped at every open (nonce space for sealing)
}

const metaBody = HeaderSize

// Encode renders m into a full page buffer of pageSize bytes and seals it.
func (m *Meta) Encode(buf []byte) {
	clear(buf)
	PutHeader(buf, Header{ID: m.Slot, Txn: m.Txn, Type: TypeMeta})
	b := buf[metaBody:]
	copy(b, Magic)
	le := binary.LittleEndian
	le.PutUint32(b[8:], m.Version)
	le.PutUint32(b[12:], m.PageSize)
	le.PutUint32(b[16:], m.Flags)
	le.PutUint32(b[20:], m.Epoch)
	putRef(b[24:], m.Catalog)
	putRef(b[44:], m.Freedir)
	le.PutUint64(b[64:], m.HWM)
	le.PutUint64(b[72:], m.NextVersion)
	Seal(buf)
}

func putRef(b []byte, r Ref) {
	binary.LittleEndian.PutUint64(b, r.ID)
	binary.LittleEndian.PutUint64(b[8:], r.Txn)
	binary.LittleEndian.PutUint32(b[16:], r.Pages)
}

func getRef(b []byte) Ref {
	return Ref{ID: binary.LittleEndian.Uint64(b), Txn: binary.LittleEndian.Uint64(b[8:]), Pages: binary.LittleEndian.Uint32(b[16:])}
}

// PeekPageSize reads the page size from a meta page buffer without
// verifying it (the checksum covers the whole page, whose size we need).
func PeekPageSize(buf []byte) (int, bool) {
	if len(buf) < metaBody+16 || string(buf[metaBody:metaBody+8]) != Magic {
		return 0, false
	}
	return int(binary.LittleEndian.Uint32(buf[metaBody+12:])), true
}

// DecodeMeta verifies and decodes the meta in slot from a page-size buffer.
func DecodeMeta(buf []byte, slot uint64, pageSize int) (*Meta, error) {
	if len(buf) < metaBody+80 || len(buf) != pageSize {
		return nil, corrupt(slot, "meta: %d bytes, expected a page of %d", len(buf), pageSize)
	}
	if string(buf[metaBody:metaBody+8]) != Magic {
		return nil, corrupt(slot, "meta: %v", ErrForeign)
	}
	h, err := Verify(buf, slot, TypeMeta, 0, pageSize)
	if err != nil {
		return nil, err
	}
	b := buf[metaBody:]
	le := binary.LittleEndian
	m := &Meta{
		Slot:        slot,
		Txn:         h.Txn,
		Version:     le.Uint32(b[8:]),
		PageSize:    le.Uint32(b[12:]),
		Flags:       le.Uint32(b[16:]),
		Epoch:       le.Uint32(b[20:]),
		Catalog:     getRef(b[24:]),
		Freedir:     getRef(b[44:]),
		HWM:         le.Uint64(b[64:]),
		NextVersion: le.Uint64(b[72:]),
	}
	if m.Version > FormatVersion {
		return nil, fmt.Errorf("page %d: meta: format version %d, this build reads up to %d: %w", slot, m.Version, FormatVersion, ErrNewerFormat)
	}
	if m.Version < MinFormatVersion {
		return nil, fmt.Errorf("page %d: meta: format version %d, this build reads %d to %d: %w", slot, m.Version, MinFormatVersion, FormatVersion, ErrOlderFormat)
	}
	if int(m.PageSize) != pageSize {
		return nil, corrupt(slot, "meta: page size %d, expected %d", m.PageSize, pageSize)
	}
	if m.HWM < 2 {
		return nil, corrupt(slot, "meta: high-water mark %d", m.HWM)
	}
	return m, nil
}
