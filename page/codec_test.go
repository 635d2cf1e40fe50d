package page

import (
	"bytes"
	"encoding/binary"
	"errors"
	"testing"
)

// testCodecs returns a plain, an AES-128 and an AES-256 codec (with an
// epoch), by Cipher name.
func testCodecs(t testing.TB) map[string]*Codec {
	t.Helper()
	out := map[string]*Codec{"plain": PlainCodec()}
	for _, n := range []int{16, 32} {
		c, err := NewFileCodec(bytes.Repeat([]byte{byte(n)}, n))
		if err != nil {
			t.Fatal(err)
		}
		if c, err = c.ForEpoch(7); err != nil {
			t.Fatal(err)
		}
		out[c.Cipher()] = c
	}
	return out
}

// sealedRun makes a run of pages pages at id, sealed with c, whose body is
// a recognisable pattern; it returns the run and the body.
func sealedRun(t *testing.T, c *Codec, id uint64, pages int) ([]byte, []byte) {
	t.Helper()
	buf := make([]byte, pages*fuzzPS)
	PutHeader(buf, Header{ID: id, Txn: 9, Type: TypeOverflow, Overflow: uint32(pages - 1)})
	body := buf[HeaderSize : len(buf)-c.Overhead()]
	for i := range body {
		body[i] = byte(i*7 + 1)
	}
	want := bytes.Clone(body)
	if err := c.Seal(buf); err != nil {
		t.Fatal(err)
	}
	return buf, want
}

// TestCodecRoundTrip: a sealed run opens to its contents at its own id and
// txn; under encryption the body on disk is not the plaintext.
func TestCodecRoundTrip(t *testing.T) {
	for name, c := range testCodecs(t) {
		for _, pages := range []int{1, 3} {
			buf, want := sealedRun(t, c, 5, pages)
			if c.Encrypted() && bytes.Contains(buf, want[:64]) {
				t.Fatalf("%s: plaintext on disk", name)
			}
			got, h, err := c.Open(bytes.Clone(buf), 5, TypeOverflow, 9, fuzzPS)
			if err != nil {
				t.Fatalf("%s: %v", name, err)
			}
			if h.ID != 5 || h.Txn != 9 || h.Pages() != pages || !bytes.Equal(got[HeaderSize:], want) {
				t.Fatalf("%s: opened %+v, body equal %v", name, h, bytes.Equal(got[HeaderSize:], want))
			}
			for _, tc := range []struct {
				id, txn uint64
				typ     Type
			}{{6, 9, TypeOverflow}, {5, 8, TypeOverflow}, {5, 9, TypeLeaf}} {
				_, _, err := c.Open(bytes.Clone(buf), tc.id, tc.typ, tc.txn, fuzzPS)
				var ce *CorruptError
				if !errors.As(err, &ce) || ce.ID != tc.id {
					t.Fatalf("%s: read as %+v: %v", name, tc, err)
				}
			}
		}
	}
}

// TestCodecTamper: changing any byte of a sealed run (header, body, tag,
// nonce, reserved bytes) fails as corruption of that page.
func TestCodecTamper(t *testing.T) {
	for name, c := range testCodecs(t) {
		buf, _ := sealedRun(t, c, 12, 2)
		for off := range buf {
			b := bytes.Clone(buf)
			b[off] ^= 0x10
			_, _, err := c.Open(b, 12, 0, 0, fuzzPS)
			var ce *CorruptError
			if !errors.As(err, &ce) || ce.ID != 12 {
				t.Fatalf("%s: byte %d changed: %v", name, off, err)
			}
		}
	}
}

// TestCodecKeys: another key, or the same key under another salt (another
// file), does not open a run.
func TestCodecKeys(t *testing.T) {
	key := bytes.Repeat([]byte{1}, 32)
	a, _ := NewFileCodec(key)
	b, _ := NewFileCodec(key)
	other, _ := NewCodec(bytes.Repeat([]byte{2}, 32), a.salt)
	a, _ = a.ForEpoch(1)
	buf, _ := sealedRun(t, a, 3, 1)
	for name, c := range map[string]*Codec{"other salt": b, "other key": other, "plain": PlainCodec()} {
		if _, _, err := c.Open(bytes.Clone(buf), 3, 0, 0, fuzzPS); !errors.Is(err, ErrCorrupt) {
			t.Fatalf("%s opened the run: %v", name, err)
		}
	}
	if _, err := NewCodec(make([]byte, 24), a.salt); !errors.Is(err, ErrKeySize) {
		t.Fatalf("24-byte key: %v", err)
	}
}

// TestCodecNonces: data pages are not sealed before an epoch; after it,
// every seal takes (epoch, next counter); metas sealed before it take a
// random nonce with the epoch field's top bit set.
func TestCodecNonces(t *testing.T) {
	c, err := NewFileCodec(make([]byte, 16))
	if err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, fuzzPS)
	PutHeader(buf, Header{ID: 4, Txn: 1, Type: TypeLeaf})
	if err := c.Seal(buf); err == nil {
		t.Fatal("sealed a data page without an epoch")
	}
	m := &Meta{Slot: 1, Version: FormatVersion, PageSize: fuzzPS, HWM: 2, Txn: 3}
	seen := map[[NonceSize]byte]bool{}
	nonce := func(b []byte) [NonceSize]byte {
		var n [NonceSize]byte
		copy(n[:], b[len(b)-TrailerSize+TagSize:])
		if seen[n] {
			t.Fatalf("nonce %x repeated", n)
		}
		seen[n] = true
		return n
	}
	for i := 0; i < 100; i++ {
		if err := c.EncodeMeta(m, buf); err != nil {
			t.Fatal(err)
		}
		if n := nonce(buf); n[3]&0x80 == 0 {
			t.Fatalf("meta nonce %x before the epoch lacks the top bit", n)
		}
	}
	e, err := c.ForEpoch(MaxEpoch)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.ForEpoch(MaxEpoch + 1); err == nil {
		t.Fatal("epoch past MaxEpoch accepted")
	}
	for i := uint64(1); i <= 100; i++ {
		if i%2 == 0 {
			PutHeader(buf, Header{ID: 4, Txn: 1, Type: TypeLeaf})
			err = e.Seal(buf)
		} else {
			err = e.EncodeMeta(m, buf)
		}
		if err != nil {
			t.Fatal(err)
		}
		n := nonce(buf)
		if binary.LittleEndian.Uint32(n[:]) != MaxEpoch || binary.LittleEndian.Uint64(n[4:]) != i {
			t.Fatalf("seal %d: nonce %x, want (epoch %d, counter %d)", i, n, MaxEpoch, i)
		}
	}
}

// TestCodecMeta: an encrypted meta round-trips; its identifying fields stay
// readable; CodecFor tells a wrong, missing or unexpected key apart.
func TestCodecMeta(t *testing.T) {
	key := bytes.Repeat([]byte{3}, 32)
	c, _ := NewFileCodec(key)
	m := &Meta{Slot: 0, Version: FormatVersion, PageSize: fuzzPS, Txn: 44, Catalog: Ref{ID: 7, Txn: 40, Pages: 1},
		Freedir: Ref{ID: 9, Txn: 42, Pages: 1}, HWM: 100, NextVersion: 1234, Epoch: 3}
	var raw [2][]byte
	for slot := range raw {
		raw[slot] = make([]byte, fuzzPS)
		m.Slot = uint64(slot)
		if err := c.EncodeMeta(m, raw[slot]); err != nil {
			t.Fatal(err)
		}
	}
	if ps, ok := PeekPageSize(raw[0]); !ok || ps != fuzzPS {
		t.Fatalf("page size not readable: %d %v", ps, ok)
	}
	got, err := CodecFor(raw, key)
	if err != nil {
		t.Fatal(err)
	}
	d, err := got.DecodeMeta(bytes.Clone(raw[1]), 1, fuzzPS)
	if err != nil {
		t.Fatal(err)
	}
	want := *m
	want.Flags |= MetaEncrypted | MetaAES256
	if *d != want {
		t.Fatalf("decoded %+v, want %+v", d, want)
	}
	if _, err := got.DecodeMeta(bytes.Clone(raw[1]), 0, fuzzPS); !errors.Is(err, ErrCorrupt) {
		t.Fatalf("meta 1 read as meta 0: %v", err)
	}
	for off := range raw[0] {
		b := bytes.Clone(raw[0])
		b[off] ^= 0x01
		if _, err := got.DecodeMeta(b, 0, fuzzPS); !errors.Is(err, ErrCorrupt) {
			t.Fatalf("meta byte %d changed: %v", off, err)
		}
	}
	for name, tc := range map[string]struct {
		key  []byte
		want error
	}{
		"wrong":   {bytes.Repeat([]byte{4}, 32), ErrWrongKey},
		"aes128":  {bytes.Repeat([]byte{3}, 16), ErrWrongKey},
		"missing": {nil, ErrKeyRequired},
		"size":    {make([]byte, 20), ErrKeySize},
	} {
		if _, err := CodecFor(raw, tc.key); !errors.Is(err, tc.want) {
			t.Fatalf("%s key: %v, want %v", name, err, tc.want)
		}
	}
	// One damaged meta: the other still tells the key apart.
	damaged := [2][]byte{make([]byte, fuzzPS), raw[1]}
	if _, err := CodecFor(damaged, bytes.Repeat([]byte{4}, 32)); !errors.Is(err, ErrWrongKey) {
		t.Fatalf("wrong key, one meta damaged: %v", err)
	}
	plain := [2][]byte{seedMeta(0), seedMeta(1)}
	if _, err := CodecFor(plain, key); !errors.Is(err, ErrNotEncrypted) {
		t.Fatalf("key for a plain file: %v", err)
	}
	if c, err := CodecFor(plain, nil); err != nil || c.Encrypted() {
		t.Fatalf("plain file: %v", err)
	}
}

// BenchmarkCodec: sealing and opening one 4 KiB page (bytes/s is page bytes).
func BenchmarkCodec(b *testing.B) {
	for _, name := range []string{"plain", "aes-128-gcm", "aes-256-gcm"} {
		c := testCodecs(b)[name]
		buf := make([]byte, fuzzPS)
		b.Run(name+"/seal", func(b *testing.B) {
			b.SetBytes(fuzzPS)
			for i := 0; i < b.N; i++ {
				PutHeader(buf, Header{ID: 3, Txn: 1, Type: TypeLeaf})
				if err := c.Seal(buf); err != nil {
					b.Fatal(err)
				}
			}
		})
		PutHeader(buf, Header{ID: 3, Txn: 1, Type: TypeLeaf})
		if err := c.Seal(buf); err != nil {
			b.Fatal(err)
		}
		sealed := bytes.Clone(buf)
		b.Run(name+"/open", func(b *testing.B) {
			b.SetBytes(fuzzPS)
			for i := 0; i < b.N; i++ {
				copy(buf, sealed)
				if _, _, err := c.Open(buf, 3, 0, 1, fuzzPS); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// FuzzCodecOpen: opening arbitrary bytes as an encrypted run or meta, or
// choosing the codec from them, never panics; failures are corruption.
func FuzzCodecOpen(f *testing.F) {
	c, err := NewCodec(bytes.Repeat([]byte{9}, 16), [SaltSize]byte{1})
	if err != nil {
		f.Fatal(err)
	}
	if c, err = c.ForEpoch(1); err != nil {
		f.Fatal(err)
	}
	buf := make([]byte, fuzzPS)
	PutHeader(buf, Header{ID: 2, Txn: 1, Type: TypeLeaf})
	if err := c.Seal(buf); err != nil {
		f.Fatal(err)
	}
	f.Add(bytes.Clone(buf), uint8(2))
	if err := c.EncodeMeta(&Meta{Slot: 1, Version: FormatVersion, PageSize: fuzzPS, HWM: 2}, buf); err != nil {
		f.Fatal(err)
	}
	f.Add(bytes.Clone(buf), uint8(1))
	f.Add([]byte{}, uint8(0))
	f.Fuzz(func(t *testing.T, data []byte, id uint8) {
		pages := max(1, min(4, (len(data)+fuzzPS-1)/fuzzPS))
		run := make([]byte, pages*fuzzPS)
		copy(run, data)
		if _, _, err := c.Open(bytes.Clone(run), uint64(id), 0, 0, fuzzPS); err != nil && !errors.Is(err, ErrCorrupt) {
			t.Fatalf("run error is not corruption: %v", err)
		}
		if _, err := c.DecodeMeta(run[:fuzzPS], uint64(id&1), fuzzPS); err != nil && !errors.Is(err, ErrCorrupt) && !errors.Is(err, ErrNewerFormat) {
			t.Fatalf("meta error is not corruption: %v", err)
		}
		_, _ = CodecFor([2][]byte{run[:fuzzPS], nil}, bytes.Repeat([]byte{9}, 16))
	})
}
