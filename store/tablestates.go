package store

// tableStates holds the states of the tables a write transaction changed,
// by table number; a table is never removed (an emptied table is the zero
// state). A write touches one table or two, and every command's savepoint
// copies the set, so it is a slice searched in order rather than a map:
// a map assignment and a map copy per command cost the writer several
// percent under small writes. Past tableStatesIndexed entries (FLUSHALL
// over many databases, relocation across tables) an index map keeps
// look-ups O(1); it is rebuilt when first needed after a copy.
//
// The zero value is empty and ready.
type tableStates struct {
	ents []tableEnt
	idx  map[uint32]int // ents' positions, or nil when not built
}

// tableEnt is table n's state in a tableStates.
type tableEnt struct {
	n uint32
	s tableState
}

// tableStatesIndexed is how many entries a tableStates searches in order
// before it indexes them.
const tableStatesIndexed = 8

// find is the position of table n in ents, or -1.
func (ts *tableStates) find(n uint32) int {
	if len(ts.ents) <= tableStatesIndexed {
		for i := range ts.ents {
			if ts.ents[i].n == n {
				return i
			}
		}
		return -1
	}
	if ts.idx == nil {
		ts.idx = make(map[uint32]int, len(ts.ents))
		for i, e := range ts.ents {
			ts.idx[e.n] = i
		}
	}
	if i, ok := ts.idx[n]; ok {
		return i
	}
	return -1
}

// get returns table n's state and whether the set holds it.
func (ts *tableStates) get(n uint32) (tableState, bool) {
	if i := ts.find(n); i >= 0 {
		return ts.ents[i].s, true
	}
	return tableState{}, false
}

// set records s as table n's state.
func (ts *tableStates) set(n uint32, s tableState) {
	if i := ts.find(n); i >= 0 {
		ts.ents[i].s = s
		return
	}
	ts.ents = append(ts.ents, tableEnt{n, s})
	if ts.idx != nil {
		ts.idx[n] = len(ts.ents) - 1
	}
}

// copyFrom makes ts hold what o holds, reusing ts's memory.
func (ts *tableStates) copyFrom(o *tableStates) {
	ts.ents = append(ts.ents[:0], o.ents...)
	ts.idx = nil
}

// reset empties ts, keeping its memory unless it grew past keep entries.
// The entries hold no pointers, so nothing is cleared: a savepoint resets
// its copy at every command.
func (ts *tableStates) reset(keep int) {
	ts.ents = ts.ents[:0]
	if cap(ts.ents) > keep {
		ts.ents = nil
	}
	ts.idx = nil
}
