package store

// This file is the contract the server codes against while the engine lands.
// Every function here is replaced by the real implementation.

import (
	"errors"
	"time"
)

var errNotYet = errors.New("store: not implemented yet")

// Durability says when a write is acknowledged relative to its flush.
type Durability int

const (
	// Everysec acknowledges on logical commit and flushes at least once a second.
	Everysec Durability = iota
	// Always acknowledges only after the flush that holds the write.
	Always
	// No flushes when dirty memory passes its cap, and at close.
	No
)

// Options configure Open. The zero value is usable.
type Options struct {
	PageSize      int           // bytes, power of two 4096..65536; only used at creation; 0 = 4096
	CacheSize     int64         // page cache bound in bytes; 0 = 64 MiB
	DirtyCap      int64         // dirty bytes before a forced flush; 0 = 64 MiB
	Durability    Durability    // default Everysec
	FlushInterval time.Duration // Everysec period; 0 = 1s
}

// Tuple is one stored entry. Key and Value are valid only inside the transaction that returned them.
type Tuple struct {
	Key      []byte
	Value    []byte
	Type     uint8
	Version  uint64
	ExpireAt int64 // unix ms; 0 = no expiry
}

// Expired reports whether the tuple has an expiry at or before now (unix ms).
func (t Tuple) Expired(now int64) bool { return t.ExpireAt != 0 && t.ExpireAt <= now }

type DB struct{}
type Tx struct{}
type Table struct{}
type Cursor struct{}
type Pending struct{}

type Stats struct {
	PageSize        int
	FileSize        int64
	CacheSize       int64
	CacheBytes      int64
	CacheHits       uint64
	CacheMisses     uint64
	FreePages       uint64
	OldestReaderAge time.Duration
	LastFlush       time.Time
	TxID            uint64
	Failed          error
}

type CheckReport struct {
	Pages, Reachable, Free, Pending, PendingDrop uint64
}

func Open(dir string, opts *Options) (*DB, error)    { return nil, errNotYet }
func (db *DB) Close() error                          { return errNotYet }
func (db *DB) View(fn func(*Tx) error) error         { return errNotYet }
func (db *DB) Update(fn func(*Tx) error) error       { return errNotYet }
func (db *DB) Submit(fn func(*Tx) error) *Pending    { return nil }
func (p *Pending) Wait() error                       { return errNotYet }
func (db *DB) Flush() error                          { return errNotYet }
func (db *DB) Check() (CheckReport, error)           { return CheckReport{}, errNotYet }
func (db *DB) Backup(path string) error              { return errNotYet }
func (db *DB) Stats() Stats                          { return Stats{} }
func (db *DB) Failed() error                         { return nil }
func (tx *Tx) Writable() bool                        { return false }
func (tx *Tx) Table(n uint32) *Table                 { return nil }
func (tx *Tx) SwapTables(a, b uint32) error          { return errNotYet }
func (tx *Tx) ClearTable(n uint32) error             { return errNotYet }
func (tx *Tx) Tables() []uint32                      { return nil }
func (t *Table) Get(key []byte) (Tuple, bool, error) { return Tuple{}, false, errNotYet }
func (t *Table) Put(key, value []byte, typ uint8, expireAt int64) (Tuple, error) {
	return Tuple{}, errNotYet
}
func (t *Table) Delete(key []byte) (bool, error)                    { return false, errNotYet }
func (t *Table) SetExpire(key []byte, expireAt int64) (bool, error) { return false, errNotYet }
func (t *Table) Count() uint64                                      { return 0 }
func (t *Table) Expires() uint64                                    { return 0 }
func (t *Table) ExpireDue(now int64, limit int) ([][]byte, error)   { return nil, errNotYet }
func (t *Table) Cursor() *Cursor                                    { return nil }
func (c *Cursor) First() bool                                       { return false }
func (c *Cursor) Last() bool                                        { return false }
func (c *Cursor) Seek(key []byte) bool                              { return false }
func (c *Cursor) Next() bool                                        { return false }
func (c *Cursor) Prev() bool                                        { return false }
func (c *Cursor) Tuple() Tuple                                      { return Tuple{} }
func (c *Cursor) Err() error                                        { return nil }

// TypeString is the type tag of a plain string value.
const TypeString uint8 = 1

// MaxKeySize is the longest key the engine stores (longer keys come with overflow keys).
const MaxKeySize = 224

// MaxValueSize is the largest value, a checked limit of the format.
const MaxValueSize = 1<<32 - 1

var (
	ErrKeyTooLarge   = errors.New("store: key too large")
	ErrValueTooLarge = errors.New("store: value too large")
	ErrLocked        = errors.New("store: database is locked by another process")
	ErrClosed        = errors.New("store: database closed")
	ErrFailed        = errors.New("store: failed after an I/O error")
	ErrReadOnly      = errors.New("store: write in a read-only transaction")
)
