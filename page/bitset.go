package page

import "math/bits"

// bitset is a growable set of page ids; a set bit means "free".
type bitset []uint64

func (b *bitset) grow(n uint64) {
	words := int((n + 63) / 64)
	if words > len(*b) {
		*b = append(*b, make([]uint64, words-len(*b))...)
	}
}

func (b bitset) has(i uint64) bool {
	w := i / 64
	return w < uint64(len(b)) && b[w]&(1<<(i%64)) != 0
}

func (b *bitset) set(i uint64) {
	b.grow(i + 1)
	(*b)[i/64] |= 1 << (i % 64)
}

func (b bitset) clear(i uint64) {
	if w := i / 64; w < uint64(len(b)) {
		b[w] &^= 1 << (i % 64)
	}
}

// clearFrom clears every bit at or above i.
func (b bitset) clearFrom(i uint64) {
	w := i / 64
	if w >= uint64(len(b)) {
		return
	}
	b[w] &= (1 << (i % 64)) - 1
	for j := w + 1; j < uint64(len(b)); j++ {
		b[j] = 0
	}
}

// next returns the lowest set bit at or above i, or false.
func (b bitset) next(i uint64) (uint64, bool) {
	w := i / 64
	if w >= uint64(len(b)) {
		return 0, false
	}
	word := b[w] &^ ((1 << (i % 64)) - 1)
	for {
		if word != 0 {
			return w*64 + uint64(bits.TrailingZeros64(word)), true
		}
		w++
		if w >= uint64(len(b)) {
			return 0, false
		}
		word = b[w]
	}
}

// nextClear returns the lowest clear bit at or above i (bits past the end are clear).
func (b bitset) nextClear(i uint64) uint64 {
	for {
		w := i / 64
		if w >= uint64(len(b)) {
			return i
		}
		word := ^b[w] &^ ((1 << (i % 64)) - 1)
		if word != 0 {
			return w*64 + uint64(bits.TrailingZeros64(word))
		}
		i = (w + 1) * 64
	}
}

// run finds the lowest run of n set bits starting at or above from, below limit.
func (b bitset) run(from uint64, n int, limit uint64) (uint64, bool) {
	for {
		start, ok := b.next(from)
		if !ok || start >= limit {
			return 0, false
		}
		end := b.nextClear(start)
		if end > limit {
			end = limit
		}
		if end-start >= uint64(n) {
			return start, true
		}
		from = end
	}
}

// highestClearBelow returns 1 + the highest clear bit below n (0 if all set).
func (b bitset) highestClearBelow(n uint64) uint64 {
	for i := n; i > 0; {
		w := (i - 1) / 64
		var word uint64
		if w < uint64(len(b)) {
			word = b[w]
		}
		// bits of this word below i
		valid := uint64(1<<((i-1)%64+1)) - 1
		if (i-1)%64 == 63 {
			valid = ^uint64(0)
		}
		if z := ^word & valid; z != 0 {
			return w*64 + uint64(63-bits.LeadingZeros64(z)) + 1
		}
		i = w * 64
	}
	return 0
}

func (b bitset) count() uint64 {
	var n int
	for _, w := range b {
		n += bits.OnesCount64(w)
	}
	return uint64(n)
}
