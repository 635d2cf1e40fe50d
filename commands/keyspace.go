package commands

import (
	"bytes"
	"encoding/binary"
	"fmt"

	"github.com/cespare/xxhash/v2"
	"github.com/digby-db/digby/store"
)

// Every table is keyed by xxhash64(key) big-endian followed by the key, so
// that a table's order is hash order and SCAN's cursor can be the hash of the
// next key (DESIGN §5).
const hashLen = 8

// MaxKeyLen is the longest Redis key digby stores: the engine's limit less
// the hash prefix. (The bulk length limit, proto-max-bulk-len, usually
// refuses a key first.)
const MaxKeyLen = store.MaxKeySize - hashLen

// storedKey is the table key for a Redis key.
func storedKey(key []byte) []byte {
	return appendStoredKey(make([]byte, 0, hashLen+len(key)), key)
}

// stored is key's table key: the one submit made for the command's first
// key, or for the next of the keys after it it hinted (a multi-key write
// asks for them in order), when key is that key (the writer then neither
// hashes it again nor allocates), else a new one. Nothing the store is
// given keeps it past the transaction (Table.Put copies keys into the
// tree), so the slot that holds it may be reused once the command is
// answered.
func (x *Ctx) stored(key []byte) []byte {
	if sk := x.sk; isStoredKey(sk, key) {
		return sk
	}
	if x.next < len(x.more) {
		if sk := x.more[x.next]; isStoredKey(sk, key) {
			x.next++
			return sk
		}
	}
	return storedKey(key)
}

// isStoredKey reports whether sk is key's table key (its hash prefix is
// key's whenever the rest is key: both come from appendStoredKey).
func isStoredKey(sk, key []byte) bool {
	return len(sk) == hashLen+len(key) && bytes.Equal(sk[hashLen:], key)
}

// appendStoredKey appends key's table key to dst.
func appendStoredKey(dst, key []byte) []byte {
	return append(binary.BigEndian.AppendUint64(dst, xxhash.Sum64(key)), key...)
}

// splitKeys appends to keys the table keys laid end to end in buf, each
// ending at its entry of ends (as appendStoredKey appended them), capped
// so that appending to one cannot overwrite the next.
func splitKeys(keys [][]byte, buf []byte, ends []int) [][]byte {
	start := 0
	for _, end := range ends {
		keys = append(keys, buf[start:end:end])
		start = end
	}
	return keys
}

// userKey is the Redis key of a table key.
func userKey(sk []byte) []byte {
	if len(sk) < hashLen {
		return nil
	}
	return sk[hashLen:]
}

// keyHash is the hash prefix of a table key.
func keyHash(sk []byte) uint64 {
	if len(sk) < hashLen {
		return 0
	}
	return binary.BigEndian.Uint64(sk)
}

func (x *Ctx) table(db int) *store.Table { return x.tx.Table(uint32(db)) }

// lookup returns the live tuple of key: an expired tuple is absent.
func (x *Ctx) lookup(db int, key []byte) (store.Tuple, bool, error) {
	return x.live(db, key, (*store.Table).Get)
}

// live reads key with get and hides an expired tuple.
func (x *Ctx) live(db int, key []byte, get func(*store.Table, []byte) (store.Tuple, bool, error)) (store.Tuple, bool, error) {
	if uint64(len(key)) > MaxKeyLen {
		return store.Tuple{}, false, nil
	}
	t, ok, err := get(x.table(db), x.stored(key))
	if err != nil {
		return store.Tuple{}, false, fmt.Errorf("read key: %w", err)
	}
	if !ok || t.Expired(x.now) {
		return store.Tuple{}, false, nil
	}
	return t, true, nil
}

// lookupMeta is lookup without the value: t.Value is nil, t.Len its length
// (no overflow is read).
func (x *Ctx) lookupMeta(db int, key []byte) (store.Tuple, bool, error) {
	return x.live(db, key, (*store.Table).GetMeta)
}

// lookupStringMeta is lookupMeta that answers WRONGTYPE for other types.
func (x *Ctx) lookupStringMeta(db int, key []byte) (store.Tuple, bool, error) {
	t, ok, err := x.lookupMeta(db, key)
	if err == nil && ok && t.Type != store.TypeString {
		err = errWrongType
	}
	return t, ok, err
}

// readRange returns bytes [off, off+n) of key's value (clipped at its end),
// reading only the chunks of a large value that the range covers. The
// bytes are the store's, valid until the transaction ends.
func (x *Ctx) readRange(db int, key []byte, off, n uint64) ([]byte, error) {
	t, _, err := x.table(db).GetRange(x.stored(key), off, n)
	if err != nil {
		return nil, fmt.Errorf("read key: %w", err)
	}
	return t.Value, nil
}

// writeRange overwrites (or, with atEnd, appends to) the live string value
// of key in place, touching only the chunks it covers; it returns the new
// length.
func (x *Ctx) writeRange(db int, key []byte, off uint64, atEnd bool, data []byte) (uint64, error) {
	tb := x.table(db)
	var t store.Tuple
	var err error
	if atEnd {
		t, _, err = tb.Append(x.stored(key), data)
	} else {
		t, _, err = tb.WriteRange(x.stored(key), off, data)
	}
	if err != nil {
		return 0, fmt.Errorf("write key: %w", err)
	}
	x.e.watches.touch(db, key)
	return t.Len, nil
}

// getString returns a copy of key's string value; WRONGTYPE for other types.
func (x *Ctx) getString(db int, key []byte) ([]byte, store.Tuple, bool, error) {
	t, ok, err := x.lookupString(db, key)
	if err != nil || !ok {
		return nil, t, false, err
	}
	return append([]byte{}, t.Value...), t, true, nil
}

// lookupString is getString without the copy: t.Value is the store's, valid
// only until the transaction changes the key or ends.
func (x *Ctx) lookupString(db int, key []byte) (store.Tuple, bool, error) {
	t, ok, err := x.lookup(db, key)
	if err != nil || !ok {
		x.e.stats.misses.Add(1)
		return t, false, err
	}
	if t.Type != store.TypeString {
		return t, false, errWrongType
	}
	x.e.stats.hits.Add(1)
	return t, true, nil
}

// put stores a string value with an expiry (unix ms, 0 = none).
func (x *Ctx) put(db int, key, value []byte, expireAt int64) error {
	if uint64(len(key)) > MaxKeyLen {
		return errKeyLong
	}
	if _, err := x.table(db).Put(x.stored(key), value, store.TypeString, expireAt); err != nil {
		return fmt.Errorf("write key: %w", err)
	}
	x.e.watches.touch(db, key)
	return nil
}

// del deletes key and reports whether a live key was deleted.
func (x *Ctx) del(db int, key []byte) (bool, error) {
	if uint64(len(key)) > MaxKeyLen {
		return false, nil
	}
	sk := x.stored(key)
	t, ok, err := x.table(db).GetMeta(sk)
	if err != nil {
		return false, fmt.Errorf("read key: %w", err)
	}
	if !ok {
		return false, nil
	}
	live := !t.Expired(x.now)
	if _, err := x.table(db).Delete(sk); err != nil {
		return false, fmt.Errorf("delete key: %w", err)
	}
	x.e.watches.touch(db, key)
	return live, nil
}

// setExpire changes a live key's expiry.
func (x *Ctx) setExpire(db int, key []byte, expireAt int64) error {
	if _, err := x.table(db).SetExpire(x.stored(key), expireAt); err != nil {
		return fmt.Errorf("set expiry: %w", err)
	}
	x.e.watches.touch(db, key)
	return nil
}

// checkDB validates a table index for this server.
func (x *Ctx) checkDB(n int64) error {
	if n < 0 || n >= int64(x.e.databases) {
		return errDBRange
	}
	return nil
}

// tuple and typeString are short names for the store's.
type tuple = store.Tuple

const typeString = store.TypeString

// storeTx is a short name for the store's transaction.
type storeTx = *store.Tx
