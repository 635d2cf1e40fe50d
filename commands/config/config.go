// Package config holds digby-server's configuration: defaults, parsing of
// command-line flags and Redis-style config files, and the parameter table
// that CONFIG GET / CONFIG SET read and change at run time.
package config

import (
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/digby-db/digby/commands/glob"
)

// Config is the server configuration. Fields that CONFIG SET may change at run
// time are read through methods that take the lock.
type Config struct {
	mu   sync.RWMutex
	vals map[string]string

	// Parameters consulted on every request, kept decoded.
	passSet  atomic.Bool  // requirepass is not empty
	maxBulk  atomic.Int64 // proto-max-bulk-len in bytes
	maxQuery atomic.Int64 // client-query-buffer-limit in bytes
	idle     atomic.Int64 // timeout in seconds
}

// param describes one configuration parameter.
type param struct {
	def     string
	mutable bool                 // CONFIG SET may change it at run time
	check   func(v string) error // validates (and may reject) a value
	alias   string               // canonical name when this is an alias
	noList  bool                 // hidden from CONFIG GET * (aliases, secrets kept out)
	size    bool                 // a size ("512mb"): CONFIG GET reports it in bytes
	// choices, if set, are the words the value must be one of, matched in
	// any case and kept as listed (lower-case, as Redis reports them).
	choices []string
}

func isInt(v string) error {
	if _, err := strconv.ParseInt(v, 10, 64); err != nil {
		return fmt.Errorf("argument couldn't be parsed into an integer")
	}
	return nil
}

func isSize(v string) error {
	if _, err := ParseSize(v); err != nil {
		return err
	}
	return nil
}

func isPositiveSize(v string) error {
	n, err := ParseSize(v)
	if err == nil && n <= 0 {
		err = fmt.Errorf("argument must be a positive size")
	}
	return err
}

// minSize accepts sizes of at least lo bytes.
func minSize(lo int64) func(string) error {
	return func(v string) error {
		n, err := ParseSize(v)
		if err == nil && n < lo {
			err = fmt.Errorf("argument must be between %d and %d inclusive", lo, int64(math.MaxInt64))
		}
		return err
	}
}

// choose returns the word of choices that v names, in any case.
func choose(choices []string, v string) (string, error) {
	for _, o := range choices {
		if strings.EqualFold(o, v) {
			return o, nil
		}
	}
	return "", fmt.Errorf("argument(s) must be one of the following: %s", strings.Join(choices, ", "))
}

// autoOr accepts "auto" besides what check accepts.
func autoOr(check func(string) error) func(string) error {
	return func(v string) error {
		if isAuto(v) {
			return nil
		}
		return check(v)
	}
}

// isAuto reports whether v is the word "auto" (in any case).
func isAuto(v string) bool { return strings.EqualFold(v, "auto") }

func rangeInt(lo, hi int64) func(string) error {
	return func(v string) error {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			return fmt.Errorf("argument couldn't be parsed into an integer")
		}
		if n < lo || n > hi {
			return fmt.Errorf("argument must be between %d and %d inclusive", lo, hi)
		}
		return nil
	}
}

func pageSize(v string) error {
	n, err := ParseSize(v)
	if err != nil {
		return err
	}
	if n < 4096 || n > 65536 || n&(n-1) != 0 {
		return fmt.Errorf("page-size must be a power of two from 4096 to 65536")
	}
	return nil
}

// params lists every parameter. Tool-facing ones (save, appendonly, maxmemory …)
// are accepted and reported so that stock tools see what they expect.
var params = map[string]param{
	"port":                        {def: "6379", check: rangeInt(0, 65535)},
	"bind":                        {def: "127.0.0.1"},
	"dir":                         {def: "./data"},
	"appendfsync":                 {def: "everysec", mutable: true, choices: []string{"always", "everysec", "no"}},
	"databases":                   {def: "16", check: rangeInt(1, 1<<20)},
	"page-size":                   {size: true, def: "4096", check: pageSize},
	"cache-size":                  {size: true, def: "256mb", mutable: true, check: isPositiveSize},
	"dirty-cap":                   {size: true, def: "256mb", check: minSize(1 << 20)},
	"file-slack":                  {def: "auto", check: autoOr(rangeInt(0, 90))},
	"commit-log":                  {def: "no", choices: []string{"yes", "no"}},
	"in-place":                    {def: "yes", choices: []string{"yes", "no"}},
	"compression":                 {def: "yes", choices: []string{"yes", "no"}},
	"event-loops":                 {def: "auto", check: autoOr(rangeInt(0, 64))},
	"maxclients":                  {def: "10000", mutable: true, check: rangeInt(1, 1<<30)},
	"requirepass-file":            {def: ""},
	"encryption-key-file":         {def: ""},
	"requirepass":                 {def: "", mutable: true, noList: true},
	"proto-max-bulk-len":          {size: true, def: "512mb", mutable: true, check: isSize},
	"client-query-buffer-limit":   {size: true, def: "1gb", mutable: true, check: minSize(1 << 20)},
	"save":                        {def: "", mutable: true},
	"appendonly":                  {def: "no", mutable: true, choices: []string{"yes", "no"}},
	"maxmemory":                   {size: true, def: "0", mutable: true, check: isSize},
	"maxmemory-policy":            {def: "noeviction", mutable: true},
	"timeout":                     {def: "0", mutable: true, check: rangeInt(0, 1<<31-1)},
	"tcp-keepalive":               {def: "300", mutable: true, check: isInt},
	"loglevel":                    {def: "notice", mutable: true, choices: []string{"debug", "verbose", "notice", "warning", "nothing"}},
	"logfile":                     {def: ""},
	"hz":                          {def: "10", mutable: true, check: rangeInt(1, 500)},
	"daemonize":                   {def: "no", choices: []string{"yes", "no"}},
	"protected-mode":              {def: "yes", mutable: true, choices: []string{"yes", "no"}},
	"cluster-enabled":             {def: "no", choices: []string{"yes", "no"}},
	"notify-keyspace-events":      {def: "", mutable: true},
	"slowlog-log-slower-than":     {def: "10000", mutable: true, check: isInt},
	"slowlog-max-len":             {def: "128", mutable: true, check: isInt},
	"lua-time-limit":              {def: "5000", mutable: true, check: isInt},
	"busy-reply-threshold":        {def: "5000", mutable: true, check: isInt},
	"stop-writes-on-bgsave-error": {def: "yes", mutable: true, choices: []string{"yes", "no"}},
	"dbfilename":                  {def: "dump.digby", mutable: true},
}

// Names returns every listed parameter name, sorted.
func Names() []string {
	out := make([]string, 0, len(params))
	for n, p := range params {
		if !p.noList {
			out = append(out, n)
		}
	}
	sort.Strings(out)
	return out
}

// Default returns a configuration with every parameter at its default.
func Default() *Config {
	c := &Config{vals: make(map[string]string, len(params))}
	for n, p := range params {
		c.vals[n] = p.def
	}
	c.cache("requirepass", c.vals["requirepass"])
	c.cache("proto-max-bulk-len", c.vals["proto-max-bulk-len"])
	c.cache("client-query-buffer-limit", c.vals["client-query-buffer-limit"])
	c.cache("timeout", c.vals["timeout"])
	return c
}

// Known reports whether name is a parameter.
func Known(name string) bool {
	_, ok := params[strings.ToLower(name)]
	return ok
}

// Set validates and sets a parameter at start-up (any parameter may be set).
func (c *Config) Set(name, value string) error {
	return c.set(strings.ToLower(name), value, false)
}

// SetRuntime validates and sets a parameter for CONFIG SET: immutable
// parameters are refused.
func (c *Config) SetRuntime(name, value string) error {
	return c.set(strings.ToLower(name), value, true)
}

// ErrImmutable is returned by SetRuntime for a parameter fixed at start-up.
var ErrImmutable = fmt.Errorf("can't set immutable config")

// UnknownError is returned for a parameter name that does not exist.
type UnknownError struct{ Name string }

func (e *UnknownError) Error() string { return fmt.Sprintf("unknown parameter %q", e.Name) }

func (c *Config) set(name, value string, runtime bool) error {
	p, ok := params[name]
	if !ok {
		return &UnknownError{Name: name}
	}
	if runtime && !p.mutable {
		return ErrImmutable
	}
	if p.check != nil {
		if err := p.check(value); err != nil {
			return err
		}
	}
	if p.choices != nil {
		var err error
		if value, err = choose(p.choices, value); err != nil {
			return err
		}
	}
	c.mu.Lock()
	c.vals[name] = value
	c.cache(name, value)
	c.mu.Unlock()
	return nil
}

// cache keeps the decoded copy of a per-request parameter.
func (c *Config) cache(name, value string) {
	switch name {
	case "requirepass":
		c.passSet.Store(value != "")
	case "proto-max-bulk-len":
		n, _ := ParseSize(value)
		c.maxBulk.Store(n)
	case "client-query-buffer-limit":
		n, _ := ParseSize(value)
		c.maxQuery.Store(n)
	case "timeout":
		n, _ := strconv.ParseInt(value, 10, 64)
		c.idle.Store(n)
	}
}

// PasswordSet reports whether requirepass is set, without taking the lock
// (it is consulted for every request).
func (c *Config) PasswordSet() bool { return c.passSet.Load() }

// MaxBulkLen is proto-max-bulk-len in bytes, without taking the lock.
func (c *Config) MaxBulkLen() int64 { return c.maxBulk.Load() }

// MaxQueryLen is client-query-buffer-limit in bytes, without taking the lock.
func (c *Config) MaxQueryLen() int64 { return c.maxQuery.Load() }

// IdleTimeout is timeout (0: never), without taking the lock.
func (c *Config) IdleTimeout() time.Duration { return time.Duration(c.idle.Load()) * time.Second }

// Get returns a parameter's value as set ("" for an unknown name).
func (c *Config) Get(name string) string {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return c.vals[strings.ToLower(name)]
}

// Match returns name/value pairs of the listed parameters matching a glob
// pattern, for CONFIG GET, in name order.
func (c *Config) Match(pattern string) [][2]string {
	var out [][2]string
	for _, n := range Names() {
		if glob.MatchString(pattern, n, true) {
			out = append(out, [2]string{n, c.Report(n)})
		}
	}
	if len(out) == 0 && !strings.ContainsAny(pattern, "*?[") {
		// a parameter kept out of the listing still answers by exact name
		if p, ok := params[strings.ToLower(pattern)]; ok && p.noList {
			n := strings.ToLower(pattern)
			out = append(out, [2]string{n, c.Report(n)})
		}
	}
	return out
}

// Report returns the value as CONFIG GET shows it: sizes in bytes.
func (c *Config) Report(name string) string {
	v := c.Get(name)
	if params[name].size {
		if n, err := ParseSize(v); err == nil {
			return strconv.FormatInt(n, 10)
		}
	}
	return v
}

// Int returns an integer parameter (0 when unset or invalid).
func (c *Config) Int(name string) int64 {
	n, _ := strconv.ParseInt(c.Get(name), 10, 64)
	return n
}

// IntOrAuto returns an integer parameter that also takes "auto" (autoOr),
// and whether it is "auto" (the number is then 0).
func (c *Config) IntOrAuto(name string) (n int64, auto bool) {
	if v := c.Get(name); isAuto(v) {
		return 0, true
	}
	return c.Int(name), false
}

// Size returns a size parameter in bytes (0 when unset or invalid).
func (c *Config) Size(name string) int64 {
	n, _ := ParseSize(c.Get(name))
	return n
}

// Addr is the listen address from bind and port.
func (c *Config) Addr() string {
	bind := strings.Fields(c.Get("bind"))
	host := "127.0.0.1"
	if len(bind) > 0 {
		host = bind[0]
	}
	if strings.Contains(host, ":") && !strings.HasPrefix(host, "[") {
		host = "[" + host + "]"
	}
	return host + ":" + c.Get("port")
}
