package bench

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/digby-db/digby/store"
	bolt "go.etcd.io/bbolt"
)

// kv is one key and value to put.
type kv struct{ k, v []byte }

// engine is what a workload needs from a database. Each write method is
// one write transaction, durable when the engine was opened durable.
type engine interface {
	Name() string
	Put(batch []kv) error
	Delete(keys [][]byte) error
	// Get runs one read transaction; fn sees the value inside it.
	Get(key []byte, fn func(v []byte)) (bool, error)
	// Scan reads the whole table in key order in one read transaction.
	Scan(fn func(k, v []byte)) error
	// Flush makes everything committed durable.
	Flush() error
	FileSize() (int64, error)
	// Written is the bytes written to the data file so far (see doc.go).
	Written() uint64
	Close() error
}

// Engine names.
const (
	digbyName    = "digby"
	digbyAESName = "digby-aes" // digby with AES-256-GCM encryption at rest
	bboltName    = "bbolt"
)

// mode is the durability an engine is opened with.
type mode int

const (
	// durable: every write transaction is on disk when it returns
	// (digby Always; bbolt's default, fsync per commit).
	durable mode = iota
	// relaxed: commits are not synced one by one; Flush syncs
	// (digby Everysec, its default; bbolt NoSync).
	relaxed
	// durableLog: durable as above, digby through its commit log
	// (Always with Options.CommitLog: a commit is durable once its redo
	// records are synced in the log; the tree is flushed once a second).
	// bbolt has no such mode: it runs as durable.
	durableLog
)

func openEngine(name, dir string, m mode) (engine, error) {
	switch name {
	case digbyName:
		return openDigby(dir, m, nil)
	case digbyAESName:
		return openDigby(dir, m, benchKey)
	case bboltName:
		return openBbolt(dir, m)
	}
	return nil, fmt.Errorf("unknown engine %q", name)
}

// benchKey is the AES-256 key of the digby-aes engine.
var benchKey = bytes.Repeat([]byte{0x42}, 32)

// digbyEngine uses table 0 of a digby store with default options except
// the durability and, for digby-aes, the encryption key.
type digbyEngine struct {
	db   *store.DB
	name string
}

func openDigby(dir string, m mode, key []byte) (*digbyEngine, error) {
	o := &store.Options{Durability: store.Always, EncryptionKey: key}
	if m == relaxed {
		o.Durability = store.Everysec
	}
	o.CommitLog = m == durableLog
	o.CacheSize = int64(envInt("DIGBY_BENCH_CACHE_MB", 0)) << 20 // 0: digby's default
	db, err := store.Open(dir, o)
	if err != nil {
		return nil, err
	}
	name := digbyName
	if key != nil {
		name = digbyAESName
	}
	return &digbyEngine{db: db, name: name}, nil
}

func (e *digbyEngine) Name() string { return e.name }

func (e *digbyEngine) Put(batch []kv) error {
	return e.db.Update(func(tx *store.Tx) error {
		t := tx.Table(0)
		for _, p := range batch {
			if _, err := t.Put(p.k, p.v, store.TypeString, 0); err != nil {
				return err
			}
		}
		return nil
	})
}

func (e *digbyEngine) Delete(keys [][]byte) error {
	return e.db.Update(func(tx *store.Tx) error {
		t := tx.Table(0)
		for _, k := range keys {
			ok, err := t.Delete(k)
			if err != nil {
				return err
			}
			if !ok {
				return fmt.Errorf("delete %x: not found", k)
			}
		}
		return nil
	})
}

func (e *digbyEngine) Get(key []byte, fn func([]byte)) (found bool, err error) {
	err = e.db.View(func(tx *store.Tx) error {
		t, ok, err := tx.Table(0).Get(key)
		if ok {
			found = true
			fn(t.Value)
		}
		return err
	})
	return found, err
}

// Scan uses ScanCursor: like bbolt's cursor, it hands out the file's
// bytes (in the mapping, or in its read-ahead window once the scan is
// long), valid until the cursor moves (fn copies what it keeps).
func (e *digbyEngine) Scan(fn func(k, v []byte)) error {
	return e.db.View(func(tx *store.Tx) error {
		c := tx.Table(0).ScanCursor()
		for ok := c.First(); ok; ok = c.Next() {
			fn(c.KeyValue())
		}
		return c.Err()
	})
}

func (e *digbyEngine) Flush() error { return e.db.Flush() }

func (e *digbyEngine) FileSize() (int64, error) {
	fi, err := os.Stat(store.DataPath(e.db.Dir()))
	if err != nil {
		return 0, err
	}
	return fi.Size(), nil
}

// Written counts the bytes written to the data file and to the commit log.
func (e *digbyEngine) Written() uint64 {
	st := e.db.Stats()
	return st.BytesWritten + st.LogBytes
}

func (e *digbyEngine) Close() error { return e.db.Close() }

// bboltEngine uses one bucket of a bbolt file with default options (in
// relaxed mode, NoSync).
type bboltEngine struct {
	db   *bolt.DB
	path string
}

var bucket = []byte("t")

func openBbolt(dir string, m mode) (*bboltEngine, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	path := filepath.Join(dir, "bolt.db")
	db, err := bolt.Open(path, 0o600, nil)
	if err != nil {
		return nil, err
	}
	db.NoSync = m == relaxed
	if err := db.Update(func(tx *bolt.Tx) error {
		_, err := tx.CreateBucketIfNotExists(bucket)
		return err
	}); err != nil {
		db.Close()
		return nil, err
	}
	return &bboltEngine{db: db, path: path}, nil
}

func (e *bboltEngine) Name() string { return bboltName }

func (e *bboltEngine) Put(batch []kv) error {
	return e.db.Update(func(tx *bolt.Tx) error {
		bk := tx.Bucket(bucket)
		for _, p := range batch {
			if err := bk.Put(p.k, p.v); err != nil {
				return err
			}
		}
		return nil
	})
}

func (e *bboltEngine) Delete(keys [][]byte) error {
	return e.db.Update(func(tx *bolt.Tx) error {
		bk := tx.Bucket(bucket)
		for _, k := range keys {
			if err := bk.Delete(k); err != nil {
				return err
			}
		}
		return nil
	})
}

func (e *bboltEngine) Get(key []byte, fn func([]byte)) (found bool, err error) {
	err = e.db.View(func(tx *bolt.Tx) error {
		if v := tx.Bucket(bucket).Get(key); v != nil {
			found = true
			fn(v)
		}
		return nil
	})
	return found, err
}

func (e *bboltEngine) Scan(fn func(k, v []byte)) error {
	return e.db.View(func(tx *bolt.Tx) error {
		c := tx.Bucket(bucket).Cursor()
		for k, v := c.First(); k != nil; k, v = c.Next() {
			fn(k, v)
		}
		return nil
	})
}

func (e *bboltEngine) Flush() error { return e.db.Sync() }

func (e *bboltEngine) FileSize() (int64, error) {
	fi, err := os.Stat(e.path)
	if err != nil {
		return 0, err
	}
	return fi.Size(), nil
}

func (e *bboltEngine) Written() uint64 {
	c, err := procIO()
	if err != nil {
		return 0
	}
	return c.wchar
}

func (e *bboltEngine) Close() error { return e.db.Close() }

// ioCounters are the process's I/O counters from /proc/self/io.
type ioCounters struct {
	wchar      uint64 // bytes passed to write(2) and friends
	writeBytes uint64 // bytes the process caused to be sent to storage
}

func procIO() (ioCounters, error) {
	f, err := os.Open("/proc/self/io")
	if err != nil {
		return ioCounters{}, err
	}
	defer f.Close()
	var c ioCounters
	seen := 0
	s := bufio.NewScanner(f)
	for s.Scan() {
		name, val, ok := strings.Cut(s.Text(), ":")
		if !ok {
			continue
		}
		n, err := strconv.ParseUint(strings.TrimSpace(val), 10, 64)
		if err != nil {
			continue
		}
		switch name {
		case "wchar":
			c.wchar = n
			seen++
		case "write_bytes":
			c.writeBytes = n
			seen++
		}
	}
	if seen < 2 {
		return c, errors.New("/proc/self/io: no wchar/write_bytes")
	}
	return c, s.Err()
}

// dump reads an engine's whole table into a flat, comparable form.
func dump(e engine) ([]kv, error) {
	var out []kv
	err := e.Scan(func(k, v []byte) {
		out = append(out, kv{bytes.Clone(k), bytes.Clone(v)})
	})
	return out, err
}
