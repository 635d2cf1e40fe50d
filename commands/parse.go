package commands

import (
	"math"
	"math/big"
	"strconv"
	"strings"
)

// parseInt parses a signed 64-bit integer as strictly as Redis's string2ll:
// no sign '+', no leading zeros, no spaces, at most 20 characters.
func parseInt(b []byte) (int64, bool) {
	if len(b) == 0 || len(b) > 20 {
		return 0, false
	}
	if len(b) == 1 && b[0] == '0' {
		return 0, true
	}
	neg := false
	i := 0
	if b[0] == '-' {
		neg = true
		i++
		if len(b) == 1 {
			return 0, false
		}
	}
	if b[i] < '1' || b[i] > '9' {
		return 0, false
	}
	var v uint64
	for ; i < len(b); i++ {
		c := b[i]
		if c < '0' || c > '9' {
			return 0, false
		}
		if v > math.MaxUint64/10 {
			return 0, false
		}
		v *= 10
		if v > math.MaxUint64-uint64(c-'0') {
			return 0, false
		}
		v += uint64(c - '0')
	}
	if neg {
		if v > 1<<63 {
			return 0, false
		}
		return -int64(v), true
	}
	if v > math.MaxInt64 {
		return 0, false
	}
	return int64(v), true
}

// intArg parses argument i as an integer or returns Redis's error.
func (x *Ctx) intArg(i int) (int64, error) {
	n, ok := parseInt(x.args[i])
	if !ok {
		return 0, errNotInt
	}
	return n, nil
}

// longDoublePrec is the mantissa of the x87 long double Redis computes
// INCRBYFLOAT with; big.Float at this precision reproduces its results.
const longDoublePrec = 64

// parseLongDouble parses a float as Redis's string2ld: no spaces, no NaN.
func parseLongDouble(b []byte) (*big.Float, bool) {
	s := string(b)
	if s == "" || strings.TrimSpace(s) != s || len(s) > 5*1024 {
		return nil, false
	}
	l := strings.ToLower(strings.TrimLeft(s, "+-"))
	if l == "inf" || l == "infinity" {
		return new(big.Float).SetInf(s[0] == '-'), true
	}
	if strings.Contains(l, "nan") || strings.Contains(l, "_") {
		return nil, false
	}
	f, _, err := big.ParseFloat(s, 0, longDoublePrec, big.ToNearestEven)
	if err != nil {
		// hexadecimal floats and other forms strtold takes
		g, err := strconv.ParseFloat(s, 64)
		if err != nil || math.IsNaN(g) {
			return nil, false
		}
		return new(big.Float).SetPrec(longDoublePrec).SetFloat64(g), true
	}
	return f, true
}

// formatLongDouble formats as Redis's "human friendly" long double: %.17Lf
// with trailing zeros (and a trailing point) removed.
func formatLongDouble(f *big.Float) string {
	s := f.Text('f', 17)
	if strings.Contains(s, ".") {
		s = strings.TrimRight(s, "0")
		s = strings.TrimSuffix(s, ".")
	}
	if s == "-0" {
		s = "0"
	}
	return s
}

// parseFloat parses a double argument (Redis's string2d rules).
func parseFloat(b []byte) (float64, bool) {
	s := string(b)
	if s == "" || strings.TrimSpace(s) != s {
		return 0, false
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil || math.IsNaN(f) {
		return 0, false
	}
	return f, true
}
