//go:build amd64 || arm64

package btree

// prefetch asks the CPU to start loading the cache line holding addr. It
// reads nothing the program sees and cannot fault: addr is only a hint.
func prefetch(addr uintptr)
