package resp

// splitArgs splits an inline request line into arguments as Redis's
// sdssplitargs does: blanks separate arguments; "double quotes" take the
// escapes \n \r \t \b \a \xHH and \<any>; 'single quotes' take \'; a closing
// quote must be followed by a blank or the end. line holds no NUL byte (the
// Reader never completes such a line, as Redis does not). It
// appends to out and reports false for unbalanced quotes. Arguments without
// quotes are slices of line; quoted ones are new.
func splitArgs(line []byte, out [][]byte) ([][]byte, bool) {
	p := 0
	for {
		for p < len(line) && isBlank(line[p]) {
			p++
		}
		if p == len(line) {
			return out, true
		}
		start := p
		var cur []byte // the argument once a quote made it differ from line
		quoted := false
		tokEnd := 0 // where an unquoted argument ends
		var q byte  // the open quote, if any
		for done := false; !done; {
			if q != 0 {
				if p >= len(line) {
					return nil, false
				}
				c := line[p]
				switch {
				case q == '"' && c == '\\' && p+3 < len(line) && line[p+1] == 'x' && isHex(line[p+2]) && isHex(line[p+3]):
					cur = append(cur, hexVal(line[p+2])<<4|hexVal(line[p+3]))
					p += 4
				case q == '"' && c == '\\' && p+1 < len(line):
					p++
					switch c = line[p]; c {
					case 'n':
						c = '\n'
					case 'r':
						c = '\r'
					case 't':
						c = '\t'
					case 'b':
						c = '\b'
					case 'a':
						c = '\a'
					}
					cur = append(cur, c)
					p++
				case q == '\'' && c == '\\' && p+1 < len(line) && line[p+1] == '\'':
					cur = append(cur, '\'')
					p += 2
				case c == q:
					if !closes(line, p) {
						return nil, false
					}
					done = true
					p++
				default:
					cur = append(cur, c)
					p++
				}
				continue
			}
			if p >= len(line) {
				done, tokEnd = true, p
				break
			}
			switch c := line[p]; c {
			case ' ', '\n', '\r', '\t':
				done, tokEnd = true, p
			case '"', '\'':
				if !quoted {
					quoted = true
					cur = append([]byte(nil), line[start:p]...)
				}
				q = c
			default:
				if quoted {
					cur = append(cur, c)
				}
			}
			p++
		}
		if quoted {
			if cur == nil {
				cur = []byte{}
			}
			out = append(out, cur)
		} else {
			out = append(out, line[start:tokEnd:tokEnd])
		}
	}
}

// closes reports whether the quote at p may close an argument: it must be
// followed by a blank or the end of the line.
func closes(line []byte, p int) bool { return p+1 == len(line) || isBlank(line[p+1]) }

// isBlank is C's isspace.
func isBlank(c byte) bool {
	return c == ' ' || c == '\t' || c == '\n' || c == '\v' || c == '\f' || c == '\r'
}

func isHex(c byte) bool {
	return ('0' <= c && c <= '9') || ('a' <= c && c <= 'f') || ('A' <= c && c <= 'F')
}

func hexVal(c byte) byte {
	switch {
	case c <= '9':
		return c - '0'
	case c <= 'F':
		return c - 'A' + 10
	default:
		return c - 'a' + 10
	}
}
