//go:build !amd64 && !arm64

package btree

// prefetch does nothing where digby has no prefetch instruction for the
// architecture (prefetch_asm.go).
func prefetch(addr uintptr) {}
