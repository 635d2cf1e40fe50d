//go:build !linux

package store

// mapPages maps nothing here: page arrays live in the Go heap.
func mapPages(n int) ([]byte, bool) { return nil, false }

func unmapPages(b []byte) {}
