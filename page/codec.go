package page

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"sync/atomic"

	"github.com/cespare/xxhash/v2"
)

// Encryption layout constants (see docs/format.md).
const (
	// TrailerSize is what an encrypted run gives up at its end: the 16-byte
	// GCM tag, the 12-byte nonce and 4 reserved (zero) bytes. Plain runs
	// have no trailer.
	TrailerSize = 32
	// NonceSize is the AES-GCM nonce size.
	NonceSize = 12
	// TagSize is the AES-GCM tag size.
	TagSize = 16
	// SaltSize is the size of the per-file salt kept in plaintext in the metas.
	SaltSize = 16
	// KeyCheckSize is the size of the key check kept in plaintext in the metas.
	KeyCheckSize = sha256.Size
	// MaxEpoch is the highest open epoch: the epoch field's top bit is
	// reserved for the random nonces of metas (see nonce reuse, below).
	MaxEpoch = 1<<31 - 1
)

// Meta flags describing encryption. They stay in plaintext (authenticated).
const (
	MetaEncrypted = 4 // pages are sealed with AES-GCM
	MetaAES256    = 8 // with a 32-byte key (else 16 bytes)
)

// Labels of the HMAC-SHA256 derivations from the user's key.
const (
	keyCheckLabel = "digby key check"
	pageKeyLabel  = "digby page key"
)

// Sentinel errors of opening a file with the wrong key material.
var (
	ErrWrongKey     = errors.New("wrong encryption key")
	ErrKeyRequired  = errors.New("database is encrypted: an encryption key is required")
	ErrNotEncrypted = errors.New("database is not encrypted, but an encryption key was given")
	ErrKeySize      = errors.New("encryption key must be 16 or 32 bytes (AES-128 or AES-256)")
)

// Codec seals page runs before they are written and opens (verifies and,
// under encryption, decrypts) them after they are read. It is plain
// (xxhash64 checksum, the original format) or AES-GCM. A Codec belongs to
// one open file; it holds no global state. It is safe for concurrent use:
// the nonce counter is atomic.
//
// Invariants:
//   - a sealed run read back at its own page id opens to the bytes sealed;
//     any change to any byte of it, a read at another page id, or (through
//     the txn check of Open) a stale copy fails with a CorruptError naming
//     the page;
//   - an encrypted codec never seals two runs with the same nonce (see
//     nonce reuse, below); it seals data pages only once given an epoch
//     (ForEpoch) that its caller has made durable.
type Codec struct {
	aead  cipher.AEAD // nil for plain
	bits  int         // 128 or 256 under encryption
	salt  [SaltSize]byte
	check [KeyCheckSize]byte
	epoch uint32 // 0: no session epoch yet (only metas can be sealed)
	ctr   *atomic.Uint64
}

// PlainCodec returns the codec of an unencrypted file: an xxhash64 of
// bytes 8..end of a run in its first 8 bytes.
func PlainCodec() *Codec { return &Codec{ctr: new(atomic.Uint64)} }

// NewCodec returns the AES-GCM codec for key (16 bytes: AES-128, 32: AES-256)
// and the file's salt. The AES key is derived per file:
// HMAC-SHA256(key, "digby page key" ‖ salt), cut to the key's length, so two
// files under one user key (a database and its backup) never share a
// (key, nonce) pair. The codec has no epoch: it opens pages and seals metas
// only, until ForEpoch.
func NewCodec(key []byte, salt [SaltSize]byte) (*Codec, error) {
	if len(key) != 16 && len(key) != 32 {
		return nil, fmt.Errorf("%w: got %d bytes", ErrKeySize, len(key))
	}
	mac := hmac.New(sha256.New, key)
	mac.Write([]byte(pageKeyLabel))
	mac.Write(salt[:])
	pk := mac.Sum(nil)[:len(key)]
	block, err := aes.NewCipher(pk)
	if err != nil {
		return nil, fmt.Errorf("encryption key: %w", err)
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, fmt.Errorf("encryption key: %w", err)
	}
	return &Codec{aead: aead, bits: len(key) * 8, salt: salt, check: KeyCheck(key, salt), ctr: new(atomic.Uint64)}, nil
}

// NewFileCodec returns the codec for a new file: plain when key is nil,
// else AES-GCM with a fresh random salt.
func NewFileCodec(key []byte) (*Codec, error) {
	if key == nil {
		return PlainCodec(), nil
	}
	var salt [SaltSize]byte
	if _, err := rand.Read(salt[:]); err != nil {
		return nil, fmt.Errorf("salt: %w", err)
	}
	return NewCodec(key, salt)
}

// KeyCheck is HMAC-SHA256(key, "digby key check" ‖ salt), stored in the
// metas so that a wrong key is told apart from damage at open.
func KeyCheck(key []byte, salt [SaltSize]byte) [KeyCheckSize]byte {
	mac := hmac.New(sha256.New, key)
	mac.Write([]byte(keyCheckLabel))
	mac.Write(salt[:])
	var out [KeyCheckSize]byte
	copy(out[:], mac.Sum(nil))
	return out
}

// Encrypted reports whether the codec seals with AES-GCM.
func (c *Codec) Encrypted() bool { return c.aead != nil }

// Cipher names the codec's cipher: "off", "aes-128-gcm" or "aes-256-gcm".
func (c *Codec) Cipher() string {
	if !c.Encrypted() {
		return "off"
	}
	return fmt.Sprintf("aes-%d-gcm", c.bits)
}

// Overhead is the number of bytes at the end of every run that its
// contents may not use: TrailerSize under encryption, else 0.
func (c *Codec) Overhead() int {
	if c.Encrypted() {
		return TrailerSize
	}
	return 0
}

// ForEpoch returns a codec sealing under epoch, its counter at zero. The
// caller must first have made epoch durable in a meta, and must never pass
// an epoch used before with this file's key (see nonce reuse).
func (c *Codec) ForEpoch(epoch uint32) (*Codec, error) {
	if epoch == 0 || epoch > MaxEpoch {
		return nil, fmt.Errorf("open epoch %d out of range 1..%d (rekey the database with a backup)", epoch, MaxEpoch)
	}
	d := *c
	d.epoch = epoch
	d.ctr = new(atomic.Uint64)
	return &d, nil
}

// Nonce reuse: why no (key, nonce) pair ever repeats.
//
// The AES key is derived from the user's key and the file's random salt,
// so nonces need only be unique within one file (a backup gets a new salt).
// A nonce is 12 bytes: epoch (u32 LE) ‖ counter (u64 LE).
//
//   - Data pages and every meta written after the open's epoch bump use
//     (epoch, counter): the codec's counter only grows (atomically) within
//     the process, so within one open no two seals share it.
//   - At every writable open the store picks epoch = 1 + the highest epoch
//     of any meta that authenticates (including one rejected as belonging
//     to an incomplete flush), writes a meta carrying it into the slot that
//     does not hold the newest meta, and fsyncs, before it calls ForEpoch,
//     so before sealing anything with that epoch. Every later meta of the
//     session carries the same epoch, and the store orders metas by (txn,
//     epoch), so each meta write goes to the slot that does not hold the
//     last durable one: from the bump on, one slot always holds a durable,
//     authenticating meta with that epoch or a higher one. A crash that
//     loses unflushed txns (whose txn ids and page ids are then handed out
//     again) therefore still leaves that epoch on disk, and the next open
//     moves past it: the counters restart, but under a new epoch.
//   - The corner: the bump write itself may tear, and the next open bump
//     to the same epoch again. Nothing was sealed under that epoch (the
//     sync had not returned), but the bump meta itself was. So metas
//     written before the session epoch is durable (the two at creation,
//     the bump) use a random nonce from crypto/rand with the epoch field's
//     top bit set: it can never equal an (epoch, counter) nonce, whose
//     epoch is at most MaxEpoch = 2^31-1, and two random ones collide with
//     probability about n²/2^96 for n opens (under 2^-32 for 2^32 opens).
//
// Outside the argument: copying the file and writing to both copies, or
// rolling the disk back to a snapshot and writing again, replays epochs;
// use Backup (new salt) to clone an encrypted database.
func (c *Codec) nextNonce() ([NonceSize]byte, error) {
	var n [NonceSize]byte
	if c.epoch == 0 {
		return n, errors.New("encrypted page sealed before the open epoch was made durable")
	}
	ctr := c.ctr.Add(1)
	if ctr == 0 {
		return n, errors.New("nonce counter exhausted for this epoch")
	}
	binary.LittleEndian.PutUint32(n[:], c.epoch)
	binary.LittleEndian.PutUint64(n[4:], ctr)
	return n, nil
}

// metaNonce is the nonce of a meta: (epoch, counter) once the session has
// an epoch, random with the epoch's top bit set before (see nonce reuse).
func (c *Codec) metaNonce() ([NonceSize]byte, error) {
	if c.epoch != 0 {
		return c.nextNonce()
	}
	var n [NonceSize]byte
	if _, err := rand.Read(n[:]); err != nil {
		return n, fmt.Errorf("meta nonce: %w", err)
	}
	n[3] |= 0x80
	return n, nil
}

// Seal seals a whole run whose header PutHeader wrote: plain, the xxhash64
// of buf[8:] into buf[:8]; encrypted, the body buf[HeaderSize:len-TrailerSize]
// is encrypted in place with the header bytes 8..32 as additional data, and
// the trailer (tag, nonce, zero) is written; buf[:8] gets the tag's first 8
// bytes (a fingerprint of the write, as the checksum is for plain runs).
// The run's contents must not use its last Overhead() bytes.
func (c *Codec) Seal(buf []byte) error {
	if !c.Encrypted() {
		binary.LittleEndian.PutUint64(buf, xxhash.Sum64(buf[8:]))
		return nil
	}
	if len(buf) < HeaderSize+TrailerSize {
		return fmt.Errorf("seal: run of %d bytes", len(buf))
	}
	n, err := c.nextNonce()
	if err != nil {
		return fmt.Errorf("page %d: %w", binary.LittleEndian.Uint64(buf[8:]), err)
	}
	c.sealAt(buf, HeaderSize, n)
	return nil
}

// sealAt encrypts buf[adEnd:len-TrailerSize] in place, authenticating
// buf[8:adEnd], and writes the trailer and the fingerprint.
func (c *Codec) sealAt(buf []byte, adEnd int, nonce [NonceSize]byte) {
	t := len(buf) - TrailerSize
	clear(buf[t:])
	copy(buf[t+TagSize:], nonce[:])
	c.aead.Seal(buf[adEnd:adEnd], nonce[:], buf[adEnd:t], buf[8:adEnd])
	copy(buf[:8], buf[t:t+8])
}

// openAt authenticates and decrypts in place what sealAt sealed, for page id.
func (c *Codec) openAt(buf []byte, id uint64, adEnd int) error {
	if len(buf) < adEnd+TrailerSize {
		return corrupt(id, "short read (%d bytes)", len(buf))
	}
	t := len(buf) - TrailerSize
	if binary.LittleEndian.Uint32(buf[len(buf)-4:]) != 0 {
		return corrupt(id, "reserved trailer bytes not zero")
	}
	if string(buf[:8]) != string(buf[t:t+8]) {
		return corrupt(id, "fingerprint does not match the tag")
	}
	var nonce [NonceSize]byte
	copy(nonce[:], buf[t+TagSize:])
	if _, err := c.aead.Open(buf[adEnd:adEnd], nonce[:], buf[adEnd:t+TagSize], buf[8:adEnd]); err != nil {
		return corrupt(id, "authentication failed (damaged, misplaced, or sealed with another key)")
	}
	return nil
}

// Open verifies a whole run read for page id, decrypting it in place under
// encryption: authentication (or checksum), id, type and run length. want
// is the expected type (0 accepts any) and txn the txn id the reference
// carries (0 skips that check). It returns the run without its trailer
// (header and plaintext body) and the header.
func (c *Codec) Open(buf []byte, id uint64, want Type, txn uint64, pageSize int) ([]byte, Header, error) {
	if len(buf) < HeaderSize+c.Overhead() {
		return nil, Header{}, corrupt(id, "short read (%d bytes)", len(buf))
	}
	if c.Encrypted() {
		if err := c.openAt(buf, id, HeaderSize); err != nil {
			return nil, Header{}, err
		}
	} else if sum := xxhash.Sum64(buf[8:]); sum != binary.LittleEndian.Uint64(buf) {
		return nil, Header{}, corrupt(id, "checksum mismatch")
	}
	h, err := checkHeader(buf, id, want, txn, pageSize)
	if err != nil {
		return nil, h, err
	}
	return buf[:len(buf)-c.Overhead()], h, nil
}

// checkHeader checks an authenticated header against what the reader expects.
func checkHeader(buf []byte, id uint64, want Type, txn uint64, pageSize int) (Header, error) {
	h := ReadHeader(buf)
	if h.ID != id {
		return h, corrupt(id, "header names page %d (misplaced write)", h.ID)
	}
	if want != 0 && h.Type != want {
		return h, corrupt(id, "is a %v page, expected %v", h.Type, want)
	}
	if (uint64(h.Overflow)+1)*uint64(pageSize) != uint64(len(buf)) { // no int wraps on 32-bit
		return h, corrupt(id, "run of %d pages, expected %d", h.Pages(), len(buf)/pageSize)
	}
	if txn != 0 && h.Txn != txn {
		return h, corrupt(id, "written by txn %d, reference expects txn %d (lost or stale write)", h.Txn, txn)
	}
	return h, nil
}

// CodecFor inspects the two meta pages of a file, read raw (nil for a slot
// that could not be read), and returns the codec to open the file with:
// plain when a meta verifies as a plain meta (ErrNotEncrypted if key is
// set); AES-GCM when a meta's plaintext says it is encrypted
// (ErrKeyRequired without a key, ErrWrongKey when the key fails the key
// check of every such meta). When neither meta is recognisable, it returns
// a codec for key, and decoding the metas reports the damage.
func CodecFor(raw [2][]byte, key []byte) (*Codec, error) {
	plain := PlainCodec()
	var enc []metaIdent
	for slot, buf := range raw {
		id, ok := peekIdent(buf)
		if !ok {
			continue
		}
		if id.flags&MetaEncrypted == 0 {
			if _, _, err := plain.Open(buf, uint64(slot), TypeMeta, 0, len(buf)); err == nil {
				if key != nil {
					return nil, ErrNotEncrypted
				}
				return plain, nil
			}
			continue
		}
		enc = append(enc, id)
	}
	if len(enc) == 0 {
		if key == nil {
			return plain, nil
		}
		return NewFileCodec(key)
	}
	if key == nil {
		return nil, ErrKeyRequired
	}
	if len(key) != 16 && len(key) != 32 {
		return nil, fmt.Errorf("%w: got %d bytes", ErrKeySize, len(key))
	}
	for _, id := range enc {
		if want := KeyCheck(key, id.salt); hmac.Equal(want[:], id.check[:]) {
			return NewCodec(key, id.salt)
		}
	}
	bits := 128
	if enc[0].flags&MetaAES256 != 0 {
		bits = 256
	}
	if bits != len(key)*8 {
		return nil, fmt.Errorf("%w: the database uses AES-%d, the key has %d bytes", ErrWrongKey, bits, len(key))
	}
	return nil, ErrWrongKey
}

// metaIdent is the plaintext identification of a meta.
type metaIdent struct {
	flags uint32
	salt  [SaltSize]byte
	check [KeyCheckSize]byte
}

// peekIdent reads a meta's plaintext fields without verifying them.
func peekIdent(buf []byte) (metaIdent, bool) {
	var id metaIdent
	if len(buf) < metaEncSecret+TrailerSize || string(buf[metaBody:metaBody+8]) != Magic {
		return id, false
	}
	b := buf[metaBody:]
	id.flags = binary.LittleEndian.Uint32(b[16:])
	copy(id.salt[:], b[24:])
	copy(id.check[:], b[24+SaltSize:])
	return id, true
}
