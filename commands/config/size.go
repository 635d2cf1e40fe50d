package config

import (
	"fmt"
	"strconv"
	"strings"
)

// ParseSize parses a Redis memory size: a plain byte count or a number with a
// unit k/kb, m/mb, g/gb (k = 1000, kb = 1024 …), case-insensitive.
func ParseSize(s string) (int64, error) {
	l := strings.ToLower(strings.TrimSpace(s))
	mult := int64(1)
	for _, u := range []struct {
		suffix string
		mult   int64
	}{{"kb", 1 << 10}, {"mb", 1 << 20}, {"gb", 1 << 30}, {"k", 1000}, {"m", 1000 * 1000}, {"g", 1000 * 1000 * 1000}, {"b", 1}} {
		if strings.HasSuffix(l, u.suffix) {
			l = strings.TrimSuffix(l, u.suffix)
			mult = u.mult
			break
		}
	}
	n, err := strconv.ParseInt(l, 10, 64)
	if err != nil || n < 0 {
		return 0, fmt.Errorf("argument must be a memory value")
	}
	if n > (1<<63-1)/mult {
		return 0, fmt.Errorf("argument must be a memory value")
	}
	return n * mult, nil
}
