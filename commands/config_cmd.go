package commands

import (
	"errors"
	"strings"

	"github.com/digby-db/digby/commands/config"
	"github.com/digby-db/digby/store"
)

func cmdConfigGet(x *Ctx) error {
	seen := map[string]bool{}
	var pairs [][2]string
	for _, p := range x.args[2:] {
		for _, kv := range x.e.cfg.Match(string(p)) {
			if !seen[kv[0]] {
				seen[kv[0]] = true
				pairs = append(pairs, kv)
			}
		}
	}
	x.w.Map(len(pairs))
	for _, kv := range pairs {
		x.w.BulkString(kv[0])
		x.w.BulkString(kv[1])
	}
	return nil
}

func cmdConfigSet(x *Ctx) error {
	if len(x.args)%2 != 0 {
		return errArity("config|set")
	}
	seen := map[string]bool{}
	for i := 2; i < len(x.args); i += 2 {
		name := lowerName(x.args[i])
		if !config.Known(name) {
			return replyError("ERR Unknown option or number of arguments for CONFIG SET - '" + x.arg(i) + "'")
		}
		if seen[name] {
			return replyError("ERR CONFIG SET failed (possibly related to argument '" + x.arg(i) + "') - duplicate parameter")
		}
		seen[name] = true
	}
	// validate everything first so that a failing CONFIG SET changes nothing
	probe := config.Default()
	for i := 2; i < len(x.args); i += 2 {
		if err := probe.SetRuntime(x.arg(i), x.arg(i+1)); err != nil {
			return configSetError(x.arg(i), err)
		}
	}
	for i := 2; i < len(x.args); i += 2 {
		// The store takes a storage parameter first: the parameter then
		// never names a setting the store is not in.
		if err := x.applyToStore(lowerName(x.args[i]), x.arg(i+1)); err != nil {
			return configSetError(x.arg(i), err)
		}
		if err := x.e.cfg.SetRuntime(x.arg(i), x.arg(i+1)); err != nil {
			return configSetError(x.arg(i), err)
		}
	}
	x.w.OK()
	return nil
}

// applyToStore hands a validated storage parameter to the store (others
// live in the configuration only).
func (x *Ctx) applyToStore(name, value string) error {
	switch name {
	case "appendfsync":
		d, err := store.ParseDurability(strings.ToLower(value))
		if err != nil {
			return err
		}
		return x.e.db.SetDurability(d)
	case "cache-size":
		n, err := config.ParseSize(value)
		if err == nil {
			err = x.e.db.SetCacheSize(n)
		}
		if err == nil && x.e.cacheSize != nil {
			x.e.cacheSize(n)
		}
		return err
	}
	return nil
}

func configSetError(name string, err error) error {
	msg := err.Error()
	if errors.Is(err, config.ErrImmutable) {
		msg = "can't set immutable config"
	}
	return replyError("ERR CONFIG SET failed (possibly related to argument '" + name + "') - " + msg)
}

func cmdConfigResetStat(x *Ctx) error {
	x.e.stats.commands.Store(0)
	x.e.stats.hits.Store(0)
	x.e.stats.misses.Store(0)
	x.e.stats.expired.Store(0)
	x.e.stats.started.Store(nowMs())
	x.e.db.ResetStats()
	x.w.OK()
	return nil
}

func cmdConfigHelp(x *Ctx) error {
	return x.help("CONFIG", []string{
		"GET <pattern>",
		"    Return parameters matching the glob-like <pattern> and their values.",
		"SET <directive> <value>",
		"    Set the configuration <directive> to <value>.",
		"RESETSTAT",
		"    Reset statistics reported by the INFO command.",
		"REWRITE",
		"    Rewrite the configuration file.",
	})
}
