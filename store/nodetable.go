package store

import "github.com/digby-db/digby/btree"

// nodeTable is the unflushed set (DB.unflushed): committed nodes by page
// id. The writer looks a node up there at every level of every descent
// and prefetch, and under random writes the set holds most of the tree
// (a flush rewrites every leaf written since the last), hundreds of
// thousands of nodes: in a Go map each look-up missed the CPU cache on
// the map's control word and again on its slot (12% of the server's CPU
// under SET -P 16 on a tree with 1 KiB values, docs/benchmarks-server.md,
// stop 30). Page ids are dense, so the table is a slice of chunks indexed
// by id: a look-up reads one pointer from a short top-level slice and one
// from the chunk.
//
// Invariants: chunks[c], when not nil, holds the nodes of ids
// c*nodeChunkLen to (c+1)*nodeChunkLen-1, n of them (n > 0: a chunk left
// empty is dropped, so memory follows the ids in use, a chunk of 2 KiB for
// at most nodeChunkLen nodes); size is the count over all chunks. The
// top-level slice is not shrunk: one pointer for every nodeChunkLen ids up
// to the highest set, 8 MB for a 1 TB file of 4 KiB pages. It has no
// lock of its own: DB.umu guards it as it guarded the map (the writer's
// role alone changes it and may read it without the lock).
type nodeTable struct {
	chunks []*nodeChunk
	size   int
}

// nodeChunkLen is how many ids a chunk of a nodeTable covers.
const nodeChunkLen = 256

// nodeChunk is one chunk of a nodeTable.
type nodeChunk struct {
	nodes [nodeChunkLen]*btree.Node
	n     int
}

// get returns the node of page id, if the table holds one.
func (t *nodeTable) get(id uint64) (*btree.Node, bool) {
	c := id / nodeChunkLen
	if c >= uint64(len(t.chunks)) {
		return nil, false
	}
	ch := t.chunks[c]
	if ch == nil {
		return nil, false
	}
	n := ch.nodes[id%nodeChunkLen]
	return n, n != nil
}

// set makes n (not nil) the node of page id.
func (t *nodeTable) set(id uint64, n *btree.Node) {
	c := id / nodeChunkLen
	if c >= uint64(len(t.chunks)) {
		t.chunks = append(t.chunks, make([]*nodeChunk, c+1-uint64(len(t.chunks)))...)
	}
	ch := t.chunks[c]
	if ch == nil {
		ch = &nodeChunk{}
		t.chunks[c] = ch
	}
	p := &ch.nodes[id%nodeChunkLen]
	if *p == nil {
		ch.n++
		t.size++
	}
	*p = n
}

// del removes the node of page id, if any.
func (t *nodeTable) del(id uint64) {
	c := id / nodeChunkLen
	if c >= uint64(len(t.chunks)) {
		return
	}
	ch := t.chunks[c]
	if ch == nil || ch.nodes[id%nodeChunkLen] == nil {
		return
	}
	ch.nodes[id%nodeChunkLen] = nil
	ch.n--
	t.size--
	if ch.n == 0 {
		t.chunks[c] = nil
	}
}

// len is how many nodes the table holds.
func (t *nodeTable) len() int { return t.size }
