//go:build !linux

package page

import "os"

func fdatasync(f *os.File) error { return f.Sync() }
