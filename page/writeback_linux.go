//go:build linux && !arm

package page

import (
	"os"
	"syscall"
)

// startWriteback asks the kernel to start writing f's dirty pages in
// [off, off+n) to the device and returns without waiting for them
// (sync_file_range with SYNC_FILE_RANGE_WRITE). It makes nothing durable.
func startWriteback(f *os.File, off, n int64) error {
	return syscall.SyncFileRange(int(f.Fd()), off, n, syncFileRangeWrite)
}

// syncFileRangeWrite is SYNC_FILE_RANGE_WRITE (linux/fs.h).
const syncFileRangeWrite = 2
