//go:build linux

package store

import "syscall"

// hugePage is the size mappings are rounded up to.
const hugePage = 2 << 20

// mapPages maps n bytes (rounded up to whole huge pages) of anonymous
// memory and asks for huge pages; false where the mapping fails.
func mapPages(n int) ([]byte, bool) {
	n = (n + hugePage - 1) &^ (hugePage - 1)
	b, err := syscall.Mmap(-1, 0, n, syscall.PROT_READ|syscall.PROT_WRITE, syscall.MAP_ANON|syscall.MAP_PRIVATE)
	if err != nil {
		return nil, false
	}
	_ = syscall.Madvise(b, syscall.MADV_HUGEPAGE) // a hint; where refused, 4 KiB pages serve
	return b, true
}

// unmapPages unmaps a mapping mapPages made.
func unmapPages(b []byte) { _ = syscall.Munmap(b) }
