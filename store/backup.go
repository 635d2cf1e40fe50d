package store

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/digby-db/digby/btree"
	"github.com/digby-db/digby/page"
)

// backupBatch and backupBytes bound the tuples copied per transaction of
// a backup (a batch holds its values in memory; large values end a batch
// early).
const (
	backupBatch = 10000
	backupBytes = 64 << 20
)

// Backup writes a compacted, verified copy of the database, as of one read
// snapshot, to the file path (a data file: put it in a directory as
// digby.db to open it). It writes to a temporary file next to path, checks
// it, and renames it into place, so path is either the old file or a
// complete new one. Writers are not blocked while it runs. The copy of an
// encrypted database is encrypted with the same key (under a new salt, so
// a new page key); its pages never reach the disk in plaintext.
func (db *DB) Backup(path string) error {
	tmpDir, err := os.MkdirTemp(filepath.Dir(path), ".backup-*")
	if err != nil {
		return fmt.Errorf("backup: %w", err)
	}
	defer os.RemoveAll(tmpDir)
	// A small cache and dirty cap: the copy is written once, in order, and
	// flushes as it goes rather than holding the default cap's worth.
	dst, err := Open(tmpDir, &Options{PageSize: db.ps, Durability: No, CacheSize: 8 << 20, DirtyCap: 64 << 20, EncryptionKey: db.opts.EncryptionKey})
	if err != nil {
		return fmt.Errorf("backup: %w", err)
	}
	copyErr := db.View(func(src *Tx) error {
		tables, err := src.Tables()
		if err != nil {
			return err
		}
		for _, n := range tables {
			if err := copyTable(src.Table(n), dst); err != nil {
				return fmt.Errorf("table %d: %w", n, err)
			}
		}
		return nil
	})
	if copyErr == nil {
		_, copyErr = dst.Check()
	}
	if err := dst.Close(); copyErr == nil {
		copyErr = err
	}
	if copyErr != nil {
		return fmt.Errorf("backup: %w", copyErr)
	}
	f, err := os.Open(filepath.Join(tmpDir, page.DataFile))
	if err == nil {
		err = f.Sync()
		f.Close()
	}
	if err == nil {
		err = os.Rename(filepath.Join(tmpDir, page.DataFile), path)
	}
	if err == nil {
		if d, derr := os.Open(filepath.Dir(path)); derr == nil {
			d.Sync()
			d.Close()
		}
	}
	if err != nil {
		return fmt.Errorf("backup: %w", err)
	}
	return nil
}

// copyTable copies every tuple, with its type, version and expiry, in key
// order, in batches so the copy's dirty memory stays bounded.
func copyTable(src *Table, dst *DB) error {
	c := src.Cursor()
	ok := c.First()
	for ok {
		type item struct {
			key []byte
			v   btree.Value
		}
		var batch []item
		bytes := 0
		for ; ok && len(batch) < backupBatch && bytes < backupBytes; ok = c.Next() {
			t := c.Tuple()
			batch = append(batch, item{t.Key, btree.Value{Type: t.Type, Version: t.Version, ExpireAt: t.ExpireAt, Data: t.Value}})
			bytes += len(t.Key) + len(t.Value)
		}
		if err := c.Err(); err != nil {
			return err
		}
		err := dst.Update(func(tx *Tx) error {
			t := tx.Table(src.n)
			for i := range batch {
				if err := t.put(batch[i].key, &batch[i].v); err != nil {
					return err
				}
			}
			for i := range batch {
				if v := batch[i].v.Version; v >= tx.nextVersion {
					tx.nextVersion = v + 1
				}
			}
			return nil
		})
		if err != nil {
			return err
		}
	}
	return c.Err()
}
