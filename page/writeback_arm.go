//go:build linux && arm

package page

import "os"

// startWriteback does nothing on 32-bit ARM, whose syscall package has no
// sync_file_range (the kernel's is sync_file_range2 there): the pages are
// written to the device by the next sync, as where the call is missing.
func startWriteback(f *os.File, off, n int64) error { return nil }
