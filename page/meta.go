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
// version 1 stored one overflow run per value. Version 3 adds leaf entries
// whose value is compressed inline (the btree's FlagCompressed), which a
// version 2 reader would take for corrupt; a version 2 file opens as it
// is, and its first flush makes it version 3.
const FormatVersion = 3

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
	Epoch       uint32 // open epoch: bumped at every open of an encrypted file (see Codec, nonce reuse)
}

// Meta layout: the header, then magic, version, page size, flags, epoch
// (all plaintext), then for plain metas the refs at metaBody+24; encrypted
// metas put salt and key check there (plaintext, authenticated) and the
// refs, encrypted, at metaEncSecret.
const (
	metaBody      = HeaderSize
	metaEncSecret = metaBody + 24 + SaltSize + KeyCheckSize
	metaRefsSize  = 56 // catalog ref, free directory ref, HWM, next version
)

// EncodeMeta renders m into a full page buffer of pageSize bytes and seals
// it. The codec sets the encryption flags and, under encryption, the salt
// and key check; the meta's nonce follows the rule under "nonce reuse".
func (c *Codec) EncodeMeta(m *Meta, buf []byte) error {
	clear(buf)
	PutHeader(buf, Header{ID: m.Slot, Txn: m.Txn, Type: TypeMeta})
	b := buf[metaBody:]
	copy(b, Magic)
	le := binary.LittleEndian
	flags := m.Flags &^ (MetaEncrypted | MetaAES256)
	if c.Encrypted() {
		flags |= MetaEncrypted
		if c.bits == 256 {
			flags |= MetaAES256
		}
	}
	le.PutUint32(b[8:], m.Version)
	le.PutUint32(b[12:], m.PageSize)
	le.PutUint32(b[16:], flags)
	le.PutUint32(b[20:], m.Epoch)
	refs := b[24:]
	if c.Encrypted() {
		copy(b[24:], c.salt[:])
		copy(b[24+SaltSize:], c.check[:])
		refs = buf[metaEncSecret:]
	}
	putRef(refs, m.Catalog)
	putRef(refs[20:], m.Freedir)
	le.PutUint64(refs[40:], m.HWM)
	le.PutUint64(refs[48:], m.NextVersion)
	if !c.Encrypted() {
		return c.Seal(buf)
	}
	n, err := c.metaNonce()
	if err != nil {
		return fmt.Errorf("page %d: %w", m.Slot, err)
	}
	c.sealAt(buf, metaEncSecret, n)
	return nil
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

// DecodeMeta verifies (and under encryption decrypts, in place) the meta
// in slot from a page-size buffer and decodes it.
func (c *Codec) DecodeMeta(buf []byte, slot uint64, pageSize int) (*Meta, error) {
	if len(buf) < metaEncSecret+metaRefsSize+TrailerSize || len(buf) != pageSize {
		return nil, corrupt(slot, "meta: %d bytes, expected a page of %d", len(buf), pageSize)
	}
	if string(buf[metaBody:metaBody+8]) != Magic {
		return nil, corrupt(slot, "meta: %v", ErrForeign)
	}
	b := buf[metaBody:]
	le := binary.LittleEndian
	flags := le.Uint32(b[16:])
	refs := b[24:]
	if c.Encrypted() {
		if flags&MetaEncrypted == 0 {
			return nil, corrupt(slot, "meta: not an encrypted meta")
		}
		if err := c.openAt(buf, slot, metaEncSecret); err != nil {
			return nil, err
		}
		if _, err := checkHeader(buf, slot, TypeMeta, 0, pageSize); err != nil {
			return nil, err
		}
		refs = buf[metaEncSecret:]
	} else {
		if _, _, err := c.Open(buf, slot, TypeMeta, 0, pageSize); err != nil {
			return nil, err
		}
		if flags&(MetaEncrypted|MetaAES256) != 0 {
			return nil, corrupt(slot, "meta: encryption flags on a plain meta")
		}
	}
	h := ReadHeader(buf)
	m := &Meta{
		Slot:        slot,
		Txn:         h.Txn,
		Version:     le.Uint32(b[8:]),
		PageSize:    le.Uint32(b[12:]),
		Flags:       flags,
		Epoch:       le.Uint32(b[20:]),
		Catalog:     getRef(refs),
		Freedir:     getRef(refs[20:]),
		HWM:         le.Uint64(refs[40:]),
		NextVersion: le.Uint64(refs[48:]),
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
