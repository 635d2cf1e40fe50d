package store

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/digby-db/digby/btree"
	"github.com/digby-db/digby/page"
)

// Durability says when a write is acknowledged relative to its flush.
type Durability int

const (
	// Everysec acknowledges on logical commit and flushes at least once a
	// second: a crash loses at most about a second of writes.
	Everysec Durability = iota
	// Always acknowledges only after the flush that holds the write.
	Always
	// No flushes when dirty memory passes its cap, and at close.
	No
)

func (d Durability) String() string {
	switch d {
	case Always:
		return "always"
	case No:
		return "no"
	}
	return "everysec"
}

// ParseDurability parses "always", "everysec" or "no".
func ParseDurability(s string) (Durability, error) {
	switch strings.ToLower(s) {
	case "always":
		return Always, nil
	case "everysec":
		return Everysec, nil
	case "no":
		return No, nil
	}
	return 0, fmt.Errorf("durability %q: want always, everysec or no", s)
}

// Options configure Open. The zero value is usable.
type Options struct {
	PageSize  int   // bytes, power of two 4096..65536; only used at creation; 0 = 4096
	CacheSize int64 // page cache bound in bytes; 0 = 256 MiB
	// DirtyCap bounds committed-unflushed pages before a forced flush (0 =
	// 256 MiB): past it the writer waits for the flush in flight and starts
	// the next. A flush in flight holds its own pages and their encoded
	// copy besides, so tree memory beyond the cache peaks near 3x DirtyCap.
	// Every write to a page between two flushes shares that page's write:
	// under random writes to a large tree a cap reached in less than a
	// FlushInterval flushes pages more often and writes more of them per
	// write (1.5 million keys under SET -P 16: a 64 MiB cap, the default
	// until stop 28, halved the server's throughput against 128 or 256
	// MiB; docs/benchmarks-server.md, stop 28). A lower cap bounds memory
	// at that price.
	DirtyCap      int64
	Durability    Durability    // default Everysec
	FlushInterval time.Duration // Everysec period; 0 = 1s
	// EncryptionKey, if set, seals every page with AES-GCM: 16 bytes for
	// AES-128, 32 for AES-256. A new database is created encrypted with
	// it; an existing one must have been created with the same key
	// (ErrWrongKey, ErrKeyRequired and ErrNotEncrypted otherwise).
	EncryptionKey []byte
	// NoWarmCache turns off cache warming: by default, after open, a
	// background reader loads tree pages into the page cache (upper
	// levels first, until the cache is 90% full) so that reads after a restart
	// do not each pay a disk read.
	NoWarmCache bool
	// NoBatchReads has long scans read their pages one at a time through
	// the file's mapping instead of in batches of readAheadDepth pages a
	// system call (io_uring on Linux; without it they do so anyway).
	NoBatchReads bool
	// FileSlack is the share of the file, in percent, that may be kept
	// free so that each flush's pages land close together on disk: a
	// flush's one sync costs by how spread its pages are, several times
	// more for pages scattered over the file than for the same pages
	// within a few 256 KiB windows (docs/format.md, "Where pages go").
	// The file grows for it only while less than this share of it is free
	// or freed. 0 = by the durability mode, following SetDurability:
	// AlwaysFileSlack under Always, where every write waits for a sync,
	// DefaultFileSlack otherwise, where flushes run behind the writes;
	// negative = none: pages take the lowest free ids, the file stays
	// smallest and syncs cost most. At most MaxFileSlack.
	FileSlack int
	// CommitLog turns on the commit log (store/commitlog.go): in Always
	// mode a batch is acknowledged once its redo records are appended to
	// a log file and synced, and the tree is flushed once a FlushInterval
	// as in Everysec, instead of flushing every page the batch changed
	// before acknowledging it. Open then replays the records past the
	// newest meta: about a FlushInterval of writes (a log file past 64
	// MiB starts a flush early, so a file holds little more than that).
	// Off, open replays nothing and restarts instantly. Open replays a log
	// left behind whatever this option says.
	CommitLog bool
	// NoCompression stores every value as given. By default a value of
	// 64 bytes to 16 KiB is stored lz4-compressed in its leaf when that
	// saves an eighth of it and fits (store/compress.go).
	NoCompression bool
	// NoInPlace has every change copy its node. By
	// default a batch's transaction changes in place the nodes that no
	// reader and no flush can reach (store/inplace.go); readers arriving
	// meanwhile wait for its commit.
	NoInPlace bool
	// OpenFile, if set, opens the data file and the commit log's files
	// (tests use it to inject faults).
	OpenFile func(path string) (page.Backend, error)

	arrays *arrayCounts // counts flush page arrays (tests)
	// slackAuto: FileSlack was 0, so it follows the durability mode
	// (withDefaults, SetDurability).
	slackAuto bool
}

func (o Options) withDefaults() Options {
	if o.PageSize == 0 {
		o.PageSize = 4096
	}
	if o.CacheSize == 0 {
		o.CacheSize = 256 << 20
	}
	if o.DirtyCap == 0 {
		o.DirtyCap = 256 << 20
	}
	if o.FlushInterval == 0 {
		o.FlushInterval = time.Second
	}
	if o.FileSlack == 0 {
		o.slackAuto = true
		o.FileSlack = slackFor(o.Durability)
	}
	return o
}

// DefaultFileSlack and AlwaysFileSlack are Options.FileSlack's defaults
// under Everysec or No, and under Always. Under Always every write waits
// for a flush, which costs by how spread its pages are: the server under
// appendfsync always did SET -P 16 from 50 clients at 58-78k requests/s
// with 50 against 41-55k with 15, for a file about a third larger
// (docs/format.md, "Where pages go"). Under Everysec the same runs showed
// no difference, and the file stays smaller.
const (
	DefaultFileSlack = 15
	AlwaysFileSlack  = 50
)

// slackFor is the file slack Options.FileSlack 0 stands for under d.
func slackFor(d Durability) int {
	if d == Always {
		return AlwaysFileSlack
	}
	return DefaultFileSlack
}

// MaxFileSlack is the largest Options.FileSlack: a file kept more than 90%
// free would be over ten times its live pages.
const MaxFileSlack = 90

// TypeString is the type tag of a plain string value.
const TypeString uint8 = 1

// MaxValueSize is the largest value, 4 GiB, a checked limit: a longer one
// gets ErrValueTooLarge. Lengths are 64-bit in the format; the limit keeps
// a value's chunk table one run of at most about 1.6 MiB.
const MaxValueSize = 4 << 30

// Sentinel errors callers test with errors.Is.
var (
	ErrKeyTooLarge   = btree.ErrKeyTooLarge
	ErrValueTooLarge = errors.New("value too large")
	ErrLocked        = page.ErrLocked
	ErrClosed        = errors.New("database closed")
	ErrFailed        = errors.New("store failed after an I/O error; writes refused until reopen")
	ErrReadOnly      = errors.New("write in a read-only transaction")
	ErrCorrupt       = page.ErrCorrupt
	// ErrWrongKey: the database is encrypted under another key.
	ErrWrongKey = page.ErrWrongKey
	// ErrKeyRequired: the database is encrypted and no key was given.
	ErrKeyRequired = page.ErrKeyRequired
	// ErrNotEncrypted: a key was given for a database that is not encrypted.
	ErrNotEncrypted = page.ErrNotEncrypted
	// ErrKeySize: the key is neither 16 nor 32 bytes long.
	ErrKeySize = page.ErrKeySize
	// ErrViewInWrite: View was called from inside a write function (against
	// its contract) while that function's batch changes nodes in place, so
	// it would wait for its own commit. Read through the function's Tx.
	ErrViewInWrite = errors.New("View inside a write function would wait for its own commit; read through the write function's Tx")
)
