package commands

import (
	"github.com/digby-db/digby/resp"
	"math"
	"math/big"
	"strconv"
	"strings"
)

// parseInt parses a signed 64-bit integer as strictly as Redis's string2ll.
func parseInt(b []byte) (int64, bool) { return resp.ParseInt(b) }

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
