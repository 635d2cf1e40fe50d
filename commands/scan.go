package commands

import (
	"encoding/binary"
	"math/rand/v2"
	"strconv"

	"github.com/digby-db/digby/commands/glob"
)

// cmdScan is SCAN cursor [MATCH p] [COUNT n] [TYPE t]. Tables are ordered by
// key hash, so the cursor is the hash of the next key to return: stateless,
// every key present for the whole iteration is returned, and keys sharing a
// hash are never split across replies.
func cmdScan(x *Ctx) error {
	cursor, err := strconv.ParseUint(x.arg(1), 10, 64)
	if err != nil {
		return replyError("ERR invalid cursor")
	}
	var pattern []byte
	var typ string
	count := int64(10)
	for i := 2; i < len(x.args); i += 2 {
		if i+1 >= len(x.args) {
			return errSyntax
		}
		switch {
		case eqFold(x.args[i], "match"):
			pattern = x.args[i+1]
			if string(pattern) == "*" {
				pattern = nil
			}
		case eqFold(x.args[i], "count"):
			n, err := x.intArg(i + 1)
			if err != nil {
				return err
			}
			if n < 1 {
				return errSyntax
			}
			count = n
		case eqFold(x.args[i], "type"):
			typ = lowerName(x.args[i+1])
		default:
			return errSyntax
		}
	}
	cur := x.table(x.db).Cursor()
	var ok bool
	if cursor == 0 {
		ok = cur.First()
	} else {
		var seek [hashLen]byte
		binary.BigEndian.PutUint64(seek[:], cursor)
		ok = cur.Seek(seek[:])
	}
	var keys [][]byte
	var visited int64
	var last uint64
	next := uint64(0)
	for ; ok; ok = cur.Next() {
		t := cur.Meta()
		h := keyHash(t.Key)
		if visited >= count && h != last {
			next = h
			break
		}
		visited++
		last = h
		if t.Expired(x.now) {
			continue
		}
		k := userKey(t.Key)
		if pattern != nil && !glob.Match(pattern, k, false) {
			continue
		}
		if typ != "" && typ != typeName(t, true) {
			continue
		}
		keys = append(keys, append([]byte{}, k...))
	}
	if err := cur.Err(); err != nil {
		return err
	}
	x.w.Array(2)
	x.w.BulkString(strconv.FormatUint(next, 10))
	x.w.Array(len(keys))
	for _, k := range keys {
		x.w.Bulk(k)
	}
	return nil
}

func cmdKeys(x *Ctx) error {
	pattern := x.args[1]
	all := string(pattern) == "*"
	// One pass over the whole table: ScanCursor reads the pages in place
	// in the file's mapping without caching them (KEYS on a large table
	// would otherwise evict the working set); keys are copied below.
	cur := x.table(x.db).ScanCursor()
	var keys [][]byte
	for ok := cur.First(); ok; ok = cur.Next() {
		t := cur.Meta()
		if t.Expired(x.now) {
			continue
		}
		k := userKey(t.Key)
		if all || glob.Match(pattern, k, false) {
			keys = append(keys, append([]byte{}, k...))
		}
	}
	if err := cur.Err(); err != nil {
		return err
	}
	x.w.Array(len(keys))
	for _, k := range keys {
		x.w.Bulk(k)
	}
	return nil
}

// randomTries bounds the random probes RANDOMKEY makes before it walks the table.
const randomTries = 16

func cmdRandomKey(x *Ctx) error {
	cur := x.table(x.db).Cursor()
	for i := 0; i < randomTries; i++ {
		var seek [hashLen]byte
		binary.BigEndian.PutUint64(seek[:], rand.Uint64())
		ok := cur.Seek(seek[:])
		if !ok {
			ok = cur.First()
		}
		if !ok {
			break
		}
		if t := cur.Meta(); !t.Expired(x.now) {
			x.w.Bulk(userKey(t.Key))
			return nil
		}
	}
	for ok := cur.First(); ok; ok = cur.Next() {
		if t := cur.Meta(); !t.Expired(x.now) {
			x.w.Bulk(userKey(t.Key))
			return nil
		}
	}
	if err := cur.Err(); err != nil {
		return err
	}
	x.w.Null()
	return nil
}
