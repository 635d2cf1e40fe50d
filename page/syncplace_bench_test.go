package page

import (
	"fmt"
	"math/rand/v2"
	"os"
	"slices"
	"testing"
)

// BenchmarkSyncPlacement measures what dense allocation (dense.go) is for:
// the cost of writing n pages in place into an existing file and syncing,
// by how the pages are placed. Each op writes n 4 KiB pages (one pwrite
// each, ascending) over blocks already written once, then fdatasyncs.
//
//	go test ./page -run '^$' -bench SyncPlacement -benchtime 200x
//
// Placements: contiguous; inside a window of 2n and 4n pages (a group half
// or a quarter free); scattered over the whole 200 MB file.
func BenchmarkSyncPlacement(b *testing.B) {
	const ps = 4096
	const filePages = 50000
	path := b.TempDir() + "/sync"
	f, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	// Write every block once: overwriting allocated blocks is the steady
	// state of a database file (writes into holes also allocate).
	chunk := make([]byte, 1<<20)
	for off := int64(0); off < filePages*ps; off += int64(len(chunk)) {
		if _, err := f.WriteAt(chunk, off); err != nil {
			b.Fatal(err)
		}
	}
	if err := fdatasync(f); err != nil {
		b.Fatal(err)
	}
	buf := make([]byte, ps)
	rng := rand.New(rand.NewPCG(1, 2))
	for _, n := range []int{44, 1000} {
		for _, span := range []int{n, 2 * n, 4 * n, filePages} {
			name := fmt.Sprintf("pages=%d/window=%d", n, span)
			if span == filePages {
				name = fmt.Sprintf("pages=%d/scattered", n)
			}
			b.Run(name, func(b *testing.B) {
				ids := make([]int, n)
				for i := 0; i < b.N; i++ {
					base := rng.IntN(filePages - span + 1)
					for j, p := range rng.Perm(span)[:n] {
						ids[j] = base + p
					}
					slices.Sort(ids)
					for _, id := range ids {
						if _, err := f.WriteAt(buf, int64(id)*ps); err != nil {
							b.Fatal(err)
						}
					}
					if err := fdatasync(f); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}
