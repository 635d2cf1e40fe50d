package store

import (
	"math/rand/v2"
	"os"
	"sync"
	"syscall"
	"time"
)

// lossyBackend simulates power loss: writes stay volatile until Sync; at
// the chosen write the process "loses power": a random subset of the
// unsynced writes reaches the file, some of them torn at a 512-byte
// sector boundary, in any order, and the process is killed.
type lossyBackend struct {
	*os.File
	mu      sync.Mutex
	pending []lossyWrite
	left    int
	rng     *rand.Rand
}

type lossyWrite struct {
	off  int64
	data []byte
}

func newLossyBackend(f *os.File, killAt int, seed uint64) *lossyBackend {
	return &lossyBackend{File: f, left: killAt, rng: rand.New(rand.NewPCG(seed, 3))}
}

func (b *lossyBackend) WriteAt(p []byte, off int64) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.pending = append(b.pending, lossyWrite{off, append([]byte(nil), p...)})
	if b.left--; b.left == 0 {
		b.powerLoss()
	}
	return len(p), nil
}

func (b *lossyBackend) powerLoss() {
	b.spill(b.rng)
	syscall.Kill(os.Getpid(), syscall.SIGKILL)
	time.Sleep(time.Hour)
}

// spill is what reaches the disk of b's unsynced writes when power is
// lost: each, in random order, whole, torn at a sector boundary, or not
// at all.
func (b *lossyBackend) spill(rng *rand.Rand) {
	rng.Shuffle(len(b.pending), func(i, j int) { b.pending[i], b.pending[j] = b.pending[j], b.pending[i] })
	for _, w := range b.pending {
		switch rng.IntN(3) {
		case 0: // lost
		case 1:
			b.File.WriteAt(w.data, w.off)
		case 2: // torn at a sector boundary
			cut := rng.IntN(len(w.data)/512+1) * 512
			b.File.WriteAt(w.data[:min(cut, len(w.data))], w.off)
		}
	}
	b.File.Sync()
}

func (b *lossyBackend) ReadAt(p []byte, off int64) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	n, err := b.File.ReadAt(p, off)
	end := off + int64(len(p))
	for _, w := range b.pending {
		wend := w.off + int64(len(w.data))
		if wend <= off || w.off >= end {
			continue
		}
		lo, hi := max(off, w.off), min(end, wend)
		copy(p[lo-off:hi-off], w.data[lo-w.off:hi-w.off])
		if int(hi-off) > n {
			n, err = int(hi-off), nil
		}
	}
	return n, err
}

func (b *lossyBackend) flushPending() error {
	for _, w := range b.pending {
		if _, err := b.File.WriteAt(w.data, w.off); err != nil {
			return err
		}
	}
	b.pending = b.pending[:0]
	return nil
}

func (b *lossyBackend) Sync() error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if err := b.flushPending(); err != nil {
		return err
	}
	return b.File.Sync()
}

func (b *lossyBackend) Truncate(size int64) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if err := b.flushPending(); err != nil {
		return err
	}
	return b.File.Truncate(size)
}

func (b *lossyBackend) Stat() (os.FileInfo, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if err := b.flushPending(); err != nil {
		return nil, err
	}
	return b.File.Stat()
}
