package commands

// cmdLCS is LCS key1 key2 [LEN] [IDX] [MINMATCHLEN n] [WITHMATCHLEN], with
// Redis 7.0's dynamic programming and its way of emitting match ranges.
func cmdLCS(x *Ctx) error {
	var a, b []byte
	for i, k := range x.args[1:3] {
		t, ok, err := x.lookup(x.db, k)
		if err != nil {
			return err
		}
		if ok && t.Type != typeString {
			return replyError("ERR The specified keys must contain string values")
		}
		if i == 0 {
			a = append([]byte{}, t.Value...)
		} else {
			b = append([]byte{}, t.Value...)
		}
	}
	var getLen, getIdx, withLen bool
	var minLen int64
	for i := 3; i < len(x.args); i++ {
		switch {
		case eqFold(x.args[i], "idx"):
			getIdx = true
		case eqFold(x.args[i], "len"):
			getLen = true
		case eqFold(x.args[i], "withmatchlen"):
			withLen = true
		case eqFold(x.args[i], "minmatchlen") && i+1 < len(x.args):
			n, err := x.intArg(i + 1)
			if err != nil {
				return err
			}
			if n < 0 {
				n = 0
			}
			minLen = n
			i++
		default:
			return errSyntax
		}
	}
	if getLen && getIdx {
		return replyError("ERR If you want both the length and indexes, please just use IDX.")
	}
	cells := int64(len(a)+1) * int64(len(b)+1)
	if cells*4 > x.e.cfg.Size("proto-max-bulk-len") {
		return replyError("ERR Insufficient memory, transient memory for LCS exceeds proto-max-bulk-len")
	}
	alen, blen := len(a), len(b)
	dp := make([]uint32, cells)
	at := func(i, j int) uint32 { return dp[j+i*(blen+1)] }
	for i := 1; i <= alen; i++ {
		for j := 1; j <= blen; j++ {
			v := at(i-1, j)
			if a[i-1] == b[j-1] {
				v = at(i-1, j-1) + 1
			} else if l2 := at(i, j-1); l2 > v {
				v = l2
			}
			dp[j+i*(blen+1)] = v
		}
	}
	idx := at(alen, blen)
	if getLen {
		x.w.Int(int64(idx))
		return nil
	}
	result := make([]byte, idx)
	type match struct{ as, ae, bs, be, n int }
	var matches []match
	as, ae, bs, be := alen, 0, 0, 0
	i, j := alen, blen
	for i > 0 && j > 0 {
		emit := false
		if a[i-1] == b[j-1] {
			result[idx-1] = a[i-1]
			if as == alen {
				as, ae, bs, be = i-1, i-1, j-1, j-1
			} else if as == i && bs == j {
				as--
				bs--
			} else {
				emit = true
			}
			if as == 0 || bs == 0 {
				emit = true
			}
			idx--
			i--
			j--
		} else {
			if at(i-1, j) > at(i, j-1) {
				i--
			} else {
				j--
			}
			if as != alen {
				emit = true
			}
		}
		n := ae - as + 1
		if emit {
			if minLen == 0 || int64(n) >= minLen {
				matches = append(matches, match{as, ae, bs, be, n})
			}
			as = alen
		}
	}
	if !getIdx {
		x.w.Bulk(result)
		return nil
	}
	x.w.Map(2)
	x.w.BulkString("matches")
	x.w.Array(len(matches))
	for _, m := range matches {
		if withLen {
			x.w.Array(3)
		} else {
			x.w.Array(2)
		}
		x.w.Array(2)
		x.w.Int(int64(m.as))
		x.w.Int(int64(m.ae))
		x.w.Array(2)
		x.w.Int(int64(m.bs))
		x.w.Int(int64(m.be))
		if withLen {
			x.w.Int(int64(m.n))
		}
	}
	x.w.BulkString("len")
	x.w.Int(int64(at(alen, blen)))
	return nil
}
