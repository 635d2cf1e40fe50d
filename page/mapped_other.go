//go:build !linux

package page

import "os"

// MapReads returns f itself: reads use pread where mapping is not built.
func MapReads(f *os.File) (Backend, error) { return f, nil }
