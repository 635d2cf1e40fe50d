//go:build !linux

package page

import "os"

func fdatasync(f *os.File) error { return f.Sync() }

// startWriteback does nothing where sync_file_range is not available: the
// pages are written to the device by the next sync.
func startWriteback(f *os.File, off, n int64) error { return nil }
