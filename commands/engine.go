package commands

import (
	"fmt"
	"sync/atomic"
	"time"

	"github.com/digby-db/digby/commands/config"
	"github.com/digby-db/digby/resp"
	"github.com/digby-db/digby/store"
)

// Engine executes commands against a store. It implements resp.Handler.
type Engine struct {
	db        *store.DB
	cfg       *config.Config
	tab       *table
	watches   *watchRegistry
	databases int
	dir       string
	started   time.Time
	log       func(format string, args ...any)

	clients  func() []*resp.Client
	connStat func() (accepted, rejected int64)
	loops    func() int
	shutdown func()
	// cacheSize is EngineOptions.CacheSize (may be nil).
	cacheSize func(bytes int64)

	lastSave atomic.Int64 // unix seconds of the last successful SAVE/BGSAVE
	saving   atomic.Bool
	stats    stats
}

// stats are INFO's counters.
type stats struct {
	commands atomic.Int64
	hits     atomic.Int64
	misses   atomic.Int64
	expired  atomic.Int64
	started  atomic.Int64 // unix ms when counters were last reset
}

// EngineOptions wire an Engine to the rest of the server.
type EngineOptions struct {
	// Log receives lifecycle and error lines.
	Log func(format string, args ...any)
	// Clients lists live connections (CLIENT LIST/KILL, INFO clients).
	Clients func() []*resp.Client
	// ConnStats returns connections accepted and rejected.
	ConnStats func() (accepted, rejected int64)
	// EventLoops returns how many event loops serve connections (0: a
	// goroutine each), for INFO.
	EventLoops func() int
	// Shutdown is called by the SHUTDOWN command.
	Shutdown func()
	// CacheSize, if set, is called with the new bound after CONFIG SET
	// cache-size changed the page cache's (the server moves its Go memory
	// limit with it).
	CacheSize func(bytes int64)
}

// NewEngine creates an engine for db configured by cfg.
func NewEngine(db *store.DB, cfg *config.Config, opts EngineOptions) (*Engine, error) {
	tab, err := newTable(handlers())
	if err != nil {
		return nil, err
	}
	e := &Engine{
		db:        db,
		cfg:       cfg,
		tab:       tab,
		watches:   newWatchRegistry(),
		databases: int(cfg.Int("databases")),
		dir:       cfg.Get("dir"),
		started:   time.Now(),
		log:       opts.Log,
		clients:   opts.Clients,
		connStat:  opts.ConnStats,
		loops:     opts.EventLoops,
		shutdown:  opts.Shutdown,
		cacheSize: opts.CacheSize,
	}
	if e.log == nil {
		e.log = func(string, ...any) {}
	}
	if e.clients == nil {
		e.clients = func() []*resp.Client { return nil }
	}
	if e.connStat == nil {
		e.connStat = func() (int64, int64) { return 0, 0 }
	}
	if e.shutdown == nil {
		e.shutdown = func() {}
	}
	if e.loops == nil {
		e.loops = func() int { return 0 }
	}
	if e.databases <= 0 {
		return nil, fmt.Errorf("databases must be positive, got %d", e.databases)
	}
	e.lastSave.Store(e.started.Unix())
	e.stats.started.Store(e.started.UnixMilli())
	return e, nil
}

// Closed implements resp.Handler: it drops the connection's watches.
func (e *Engine) Closed(c *resp.Client) {
	if s, ok := c.Session.(*session); ok {
		e.watches.unwatch(s.watch)
	}
}

func nowMs() int64 { return time.Now().UnixMilli() }
