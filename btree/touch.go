package btree

// Touch looks up many keys side by side, a level of the tree at a time,
// and reports how many of them the tree holds. It reads what their
// lookups will read (each key's path, the leaf entries its search
// visits, the found value's first bytes) and nothing else.
//
// Why: one lookup's CPU cache misses come one after another (a node's
// address is read from its parent, an entry's key bytes from the entry),
// but different keys' lookups do not depend on each other. Walking them in
// step lets the CPU wait for several keys' misses at once. A pipeline of
// reads calls Touch before running them, and their own lookups then find
// the memory in the cache: under GET -P 16 over a million keys the server
// spent 12-15% less CPU a request (docs/benchmarks-server.md, stop 18).
//
// Touch changes nothing but what lookups change anyway (remembered
// children, the page cache). It reports no error: a key whose descent
// fails is not counted, and its real lookup reports the error.
func (t *Tree) Touch(keys [][]byte, s *TouchScratch) int {
	s.Forget()
	if t.Root.IsZero() || len(keys) == 0 {
		return 0
	}
	root, err := t.P.Node(t.Root)
	if err != nil {
		return 0
	}
	walks := s.walksFor(len(keys))
	defer clear(walks) // drop the nodes
	for i, k := range keys {
		walks[i] = walk{n: root, p: prefix(k)}
	}
	for depth, more := 0, true; more && depth < 64; depth++ {
		more = false
		for i := range walks {
			w := &walks[i]
			if w.n == nil || w.n.Leaf {
				continue
			}
			j := w.n.childIn(keys[i], w.p, w.s)
			w.s = w.n.kidSpan(j, w.s)
			if w.n, err = t.child(w.n, j); err != nil {
				w.n = nil
			}
			more = true
		}
	}
	// The leaves' entries where the searches start, then the keys there,
	// each pass's loads independent of one another.
	var sum uint64
	for i := range walks {
		w := &walks[i]
		w.g = -1
		if w.n != nil && w.n.Leaf {
			if g, ok := w.n.probe(w.p, w.s); ok {
				w.g = g
				sum += w.n.ents[g].pfx
			}
		}
	}
	for i := range walks {
		if w := &walks[i]; w.g >= 0 {
			if k := w.n.Key(w.g); len(k) > 0 {
				sum += uint64(k[0])
			}
		}
	}
	found := 0
	hits := s.hits[:0]
	for i := range walks {
		w := &walks[i]
		if w.n == nil || !w.n.Leaf {
			hits = append(hits, Hit{Failed: true})
			continue
		}
		j, ok := w.n.searchIn(keys[i], w.p, w.s)
		if !ok {
			hits = append(hits, Hit{})
			continue
		}
		found++
		hits = append(hits, Hit{N: w.n, I: j})
		if r := w.n.valRecord(&w.n.ents[j]); len(r) > 0 {
			sum += uint64(r[0])
		}
	}
	s.hits = hits
	s.sink += sum
	return found
}

// TouchScratch is Touch's reusable state. The zero value is ready to use;
// one goroutine uses it at a time.
type TouchScratch struct {
	walks []walk
	hits  []Hit
	sink  uint64 // what Touch read, so that its loads stay
}

// walksFor returns n walks, reusing s's array when it is large enough.
func (s *TouchScratch) walksFor(n int) []walk {
	if cap(s.walks) < n {
		s.walks = make([]walk, n)
	}
	return s.walks[:n]
}

// Hit is what Touch found for one key: the leaf that holds it and the
// entry's index (N nil: the tree does not hold it), or that its descent
// failed (a lookup of it reports the error).
type Hit struct {
	N      *Node
	I      int
	Failed bool
}

// Hits are what the last Touch found for each of its keys, in their order
// (none when it returned at once: an empty tree, no keys, an unreadable
// root). They hold nodes of the tree Touch walked, valid while its pages
// are (for a reader, until its snapshot ends): Forget drops them.
func (s *TouchScratch) Hits() []Hit { return s.hits }

// Forget drops the nodes the last Touch's hits hold.
func (s *TouchScratch) Forget() {
	clear(s.hits)
	s.hits = s.hits[:0]
}

// walk is one key's lookup in Touch: its node so far (nil when the
// descent failed), the key's prefix, the node's span, and the leaf entry
// its search starts at (-1: none).
type walk struct {
	n *Node
	p uint64
	s span
	g int
}
