package page

import (
	"encoding/binary"
	"errors"
	"fmt"
)

// Page size limits and the header layout.
const (
	MinPageSize = 4096
	MaxPageSize = 65536
	// HeaderSize is the size of the header at the start of every page run:
	// checksum u64 (under encryption: the tag's first 8 bytes), id u64,
	// txn u64, type u8, flags u8, count u16, overflow u32. Encrypted runs
	// also end with a trailer of TrailerSize bytes (see Codec).
	HeaderSize = 32
)

// Type is the kind of a page.
type Type uint8

// Page types. Zero is never valid, so an all-zero page is caught as corrupt.
const (
	TypeMeta     Type = 1
	TypeBranch   Type = 2
	TypeLeaf     Type = 3
	TypeOverflow Type = 4
	TypeFreemap  Type = 5 // one chunk of the free-page bitmap
	TypeFreedir  Type = 6 // the free-space directory: chunk refs and pending ids
	// TypeChunkTable is the run a large value's leaf reference points at:
	// its owner, length and the references of its chunk runs (each a
	// TypeOverflow run), or the value itself when it fits one chunk.
	TypeChunkTable Type = 7
	// TypeLog is a block of the commit log (a file of its own beside the
	// data file; store/commitlog.go): never a page of the data file.
	TypeLog Type = 8
)

func (t Type) String() string {
	switch t {
	case TypeMeta:
		return "meta"
	case TypeBranch:
		return "branch"
	case TypeLeaf:
		return "leaf"
	case TypeOverflow:
		return "overflow"
	case TypeFreemap:
		return "freemap"
	case TypeFreedir:
		return "freedir"
	case TypeChunkTable:
		return "chunktable"
	case TypeLog:
		return "log"
	}
	return fmt.Sprintf("type(%d)", uint8(t))
}

// ErrCorrupt is wrapped by every error that reports a damaged, stale or
// foreign page. Callers test for it with errors.Is.
var ErrCorrupt = errors.New("corrupt page")

// CorruptError names the page that failed verification and why.
type CorruptError struct {
	ID     uint64
	Reason string
}

func (e *CorruptError) Error() string {
	return fmt.Sprintf("page %d: %s: %s", e.ID, ErrCorrupt, e.Reason)
}

// Unwrap makes errors.Is(err, ErrCorrupt) true.
func (e *CorruptError) Unwrap() error { return ErrCorrupt }

func corrupt(id uint64, format string, args ...any) error {
	return &CorruptError{ID: id, Reason: fmt.Sprintf(format, args...)}
}

// Header is the decoded form of a page header.
type Header struct {
	ID       uint64
	Txn      uint64
	Type     Type
	Flags    uint8
	Count    uint16
	Overflow uint32 // pages in the run after the first
}

// Pages is the length of the run in pages.
func (h Header) Pages() int { return int(h.Overflow) + 1 }

// PutHeader writes h into buf[8:HeaderSize], leaving buf[:8] to Codec.Seal.
func PutHeader(buf []byte, h Header) {
	binary.LittleEndian.PutUint64(buf[8:], h.ID)
	binary.LittleEndian.PutUint64(buf[16:], h.Txn)
	buf[24] = byte(h.Type)
	buf[25] = h.Flags
	binary.LittleEndian.PutUint16(buf[26:], h.Count)
	binary.LittleEndian.PutUint32(buf[28:], h.Overflow)
}

// ReadHeader decodes the header of buf without verifying it.
func ReadHeader(buf []byte) Header {
	return Header{
		ID:       binary.LittleEndian.Uint64(buf[8:]),
		Txn:      binary.LittleEndian.Uint64(buf[16:]),
		Type:     Type(buf[24]),
		Flags:    buf[25],
		Count:    binary.LittleEndian.Uint16(buf[26:]),
		Overflow: binary.LittleEndian.Uint32(buf[28:]),
	}
}

// ValidPageSize reports whether n is an allowed page size.
func ValidPageSize(n int) bool {
	return n >= MinPageSize && n <= MaxPageSize && n&(n-1) == 0
}
