package store

// emptied returns m emptied for reuse, or a new map when m held more than
// keep entries. A Go map never shrinks: ranging over it or clearing it
// costs the most it ever held, not what it holds now. A map reused for
// every savepoint or flush that once took a huge one (an EXEC of
// thousands of writes, a bulk load's flush) would otherwise make every
// later one pay that size.
func emptied[K comparable, V any](m map[K]V, keep int) map[K]V {
	if m == nil || len(m) > keep {
		return make(map[K]V)
	}
	clear(m)
	return m
}

// kept returns s emptied for reuse (its elements cleared, so that it
// keeps nothing alive), or nil when it grew past keep elements: a slice
// reused for every savepoint or transaction should not hold the array of
// one huge one for good.
func kept[T any](s []T, keep int) []T {
	clear(s)
	if cap(s) > keep {
		return nil
	}
	return s[:0]
}
