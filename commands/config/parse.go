package config

import (
	"bufio"
	"fmt"
	"os"
	"strings"
)

// Parse builds a configuration from command-line arguments as redis-server
// takes them: an optional config file path first, then "--name value" (or
// "--name=value"; a flag may take several words, up to the next "--"). Flags
// override the file. Unknown names are errors. When requirepass-file is set,
// the password is read from that file (its first line).
func Parse(args []string) (*Config, error) {
	c := Default()
	if len(args) > 0 && !strings.HasPrefix(args[0], "-") {
		if err := c.LoadFile(args[0]); err != nil {
			return nil, err
		}
		args = args[1:]
	}
	for len(args) > 0 {
		a := args[0]
		args = args[1:]
		if !strings.HasPrefix(a, "--") || len(a) == 2 {
			return nil, fmt.Errorf("unexpected argument %q: options are written --name value", a)
		}
		name, value, hasEq := strings.Cut(a[2:], "=")
		if !hasEq {
			var words []string
			for len(args) > 0 && !strings.HasPrefix(args[0], "--") {
				words = append(words, args[0])
				args = args[1:]
			}
			value = strings.Join(words, " ")
		}
		if err := c.Set(name, value); err != nil {
			return nil, fmt.Errorf("option --%s: %w", name, err)
		}
	}
	if err := c.loadPassword(); err != nil {
		return nil, err
	}
	return c, nil
}

func (c *Config) loadPassword() error {
	f := c.Get("requirepass-file")
	if f == "" {
		return nil
	}
	b, err := os.ReadFile(f)
	if err != nil {
		return fmt.Errorf("requirepass-file: %w", err)
	}
	pw, _, _ := strings.Cut(string(b), "\n")
	pw = strings.TrimRight(pw, "\r")
	if pw == "" {
		return fmt.Errorf("requirepass-file %s: the first line is empty", f)
	}
	return c.Set("requirepass", pw)
}

// LoadFile applies a Redis-style config file: one "name value…" per line,
// '#' comments, values optionally quoted.
func (c *Config) LoadFile(path string) error {
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("config file: %w", err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	line := 0
	for sc.Scan() {
		line++
		text := strings.TrimSpace(sc.Text())
		if text == "" || text[0] == '#' {
			continue
		}
		words, err := SplitArgs(text)
		if err != nil {
			return fmt.Errorf("%s:%d: %w", path, line, err)
		}
		if len(words) == 0 {
			continue
		}
		if err := c.Set(words[0], strings.Join(words[1:], " ")); err != nil {
			return fmt.Errorf("%s:%d: %s: %w", path, line, words[0], err)
		}
	}
	if err := sc.Err(); err != nil {
		return fmt.Errorf("config file %s: %w", path, err)
	}
	return nil
}

// SplitArgs splits a config line into words, honouring "double" and 'single'
// quotes and backslash escapes inside double quotes, as Redis's sdssplitargs.
func SplitArgs(s string) ([]string, error) {
	var out []string
	i := 0
	for {
		for i < len(s) && (s[i] == ' ' || s[i] == '\t') {
			i++
		}
		if i >= len(s) {
			return out, nil
		}
		var w strings.Builder
		switch s[i] {
		case '"', '\'':
			q := s[i]
			i++
			closed := false
			for i < len(s) {
				ch := s[i]
				if ch == '\\' && q == '"' && i+1 < len(s) {
					i++
					switch s[i] {
					case 'n':
						w.WriteByte('\n')
					case 'r':
						w.WriteByte('\r')
					case 't':
						w.WriteByte('\t')
					default:
						w.WriteByte(s[i])
					}
					i++
					continue
				}
				if ch == q {
					closed = true
					i++
					break
				}
				w.WriteByte(ch)
				i++
			}
			if !closed || (i < len(s) && s[i] != ' ' && s[i] != '\t') {
				return nil, fmt.Errorf("unbalanced quotes")
			}
		default:
			for i < len(s) && s[i] != ' ' && s[i] != '\t' {
				w.WriteByte(s[i])
				i++
			}
		}
		out = append(out, w.String())
	}
}
