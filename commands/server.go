package commands

import (
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"runtime"
	"sync"
	"time"

	"github.com/digby-db/digby/commands/config"
	"github.com/digby-db/digby/resp"
	"github.com/digby-db/digby/store"
)

// Server is a running digby-server: the store, the command engine, the
// listener and the active-expiry loop.
type Server struct {
	cfg  *config.Config
	db   *store.DB
	eng  *Engine
	ln   *resp.Listener
	logf func(format string, args ...any)

	stop     chan struct{}
	loopDone chan struct{}
	serveErr chan error
	shutdown chan struct{}
	once     sync.Once
	closed   sync.Once
}

// Hooks connect the server to its process.
type Hooks struct {
	// CacheSize, if set, is called with the page cache's new bound after
	// CONFIG SET cache-size.
	CacheSize func(bytes int64)
}

// Start opens the data directory (creating it on first run), binds the
// listen address and serves until Close. logf receives lifecycle lines.
func Start(cfg *config.Config, logf func(format string, args ...any), hooks Hooks) (*Server, error) {
	if logf == nil {
		logf = func(string, ...any) {}
	}
	dur, err := store.ParseDurability(cfg.Get("appendfsync"))
	if err != nil {
		return nil, fmt.Errorf("appendfsync: %w", err)
	}
	dir := cfg.Get("dir")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("data directory: %w", err)
	}
	key, err := cfg.EncryptionKey(os.Getenv)
	if err != nil {
		return nil, err
	}
	slack := 0 // auto: the store's, by the durability mode
	if n, auto := cfg.IntOrAuto("file-slack"); !auto {
		if slack = int(n); slack == 0 {
			slack = -1 // no slack: lowest-first placement
		}
	}
	db, err := store.Open(dir, &store.Options{
		PageSize:      int(cfg.Size("page-size")),
		CacheSize:     cfg.Size("cache-size"),
		DirtyCap:      cfg.Size("dirty-cap"),
		Durability:    dur,
		EncryptionKey: key,
		FileSlack:     slack,
		CommitLog:     cfg.Get("commit-log") == "yes",
		NoInPlace:     cfg.Get("in-place") == "no",
		NoCompression: cfg.Get("compression") == "no",
	})
	if err != nil {
		return nil, fmt.Errorf("open database in %s: %w", dir, err)
	}
	if r := db.Recovered(); r != "" {
		logf("# WARNING: %s", r)
	}
	s := &Server{
		cfg: cfg, db: db, logf: logf,
		stop: make(chan struct{}), loopDone: make(chan struct{}), serveErr: make(chan error, 1),
		shutdown: make(chan struct{}),
	}
	var ln *resp.Listener
	eng, err := NewEngine(db, cfg, EngineOptions{
		Log:        logf,
		Clients:    func() []*resp.Client { return ln.Clients() },
		ConnStats:  func() (int64, int64) { return ln.Stats() },
		EventLoops: func() int { return ln.EventLoops() },
		Shutdown:   func() { s.once.Do(func() { close(s.shutdown) }) },
		CacheSize:  hooks.CacheSize,
	})
	if err != nil {
		db.Close()
		return nil, err
	}
	ln, err = resp.Listen(cfg.Addr(), eng, resp.Options{
		MaxClients:  func() int { return int(cfg.Int("maxclients")) },
		MaxBulk:     cfg.MaxBulkLen,
		MaxQuery:    cfg.MaxQueryLen,
		IdleTimeout: cfg.IdleTimeout,
		PasswordSet: cfg.PasswordSet,
		Log:         logf,
		EventLoops:  eventLoops(cfg),
	})
	if err != nil {
		db.Close()
		return nil, err
	}
	s.eng, s.ln = eng, ln
	go func() { s.serveErr <- ln.Serve() }()
	go s.expiryLoop()
	serving := "a goroutine a connection"
	if n := ln.EventLoops(); n > 0 {
		serving = fmt.Sprintf("%d event loops", n)
	}
	logf("* digby %s (Redis %s protocol), data in %s, appendfsync %s, page size %d, %s", Version, RedisVersion, dir, dur, db.PageSize(), serving)
	logf("* Ready to accept connections tcp on %s", ln.Addr())
	return s, nil
}

// Version is digby-server's version.
const Version = "0.1.0"

// Addr is the address the server listens on.
func (s *Server) Addr() net.Addr { return s.ln.Addr() }

// ShutdownRequested is closed when a client sends SHUTDOWN.
func (s *Server) ShutdownRequested() <-chan struct{} { return s.shutdown }

// Engine is the command engine (for tests and fuzzing).
func (s *Server) Engine() *Engine { return s.eng }

// expiryLoop runs active expiry hz times a second while keys with an expiry
// exist (a step that finds a full batch runs again at once, within a bound),
// and reports once, loudly, when the store has failed.
func (s *Server) expiryLoop() {
	defer close(s.loopDone)
	hz := s.cfg.Int("hz")
	if hz <= 0 {
		hz = 10
	}
	tick := time.NewTicker(time.Second / time.Duration(hz))
	defer tick.Stop()
	reported := false
	for {
		select {
		case <-s.stop:
			return
		case <-tick.C:
		}
		if err := s.db.Failed(); err != nil {
			if !reported {
				reported = true
				s.logf("# MISCONF: the store has FAILED and refuses all writes until the server is restarted: %v", err)
				s.logf("# With appendfsync everysec or no, writes acknowledged since the last flush may be LOST. Reads go on.")
			}
			continue
		}
		// Idle (no empty commits) while no key has an expiry; the count
		// takes no snapshot, which would pause the writer's changes in
		// place ten times a second (store.DB.HasExpiring).
		if !s.db.HasExpiring() {
			continue
		}
		deadline := time.Now().Add(25 * time.Millisecond)
		for {
			more, err := s.eng.ExpireCycle()
			if err != nil {
				if !errors.Is(err, store.ErrClosed) {
					s.logf("# active expiry: %v", err)
				}
				break
			}
			if !more || time.Now().After(deadline) {
				break
			}
		}
	}
}

// eventLoops is how many event loops the event-loops parameter asks for:
// "auto" is one a P (GOMAXPROCS), and 0 a goroutine a connection.
func eventLoops(cfg *config.Config) int {
	n, auto := cfg.IntOrAuto("event-loops") // checked by the config
	if auto {
		return runtime.GOMAXPROCS(0)
	}
	return int(n)
}

// Close stops serving, flushes and closes the database.
func (s *Server) Close() error {
	var err error
	s.closed.Do(func() {
		close(s.stop)
		<-s.loopDone
		if lerr := s.ln.Close(); lerr != nil {
			s.logf("# closing listener: %v", lerr)
		}
		<-s.serveErr
		err = s.db.Close()
		if err != nil {
			s.logf("# closing the database: %v", err)
			return
		}
		s.logf("* DB flushed on disk, bye")
	})
	return err
}

// NewLogger returns a log function writing Redis-style lines to w:
// "pid:M 02 Jan 2006 15:04:05.000 * message".
func NewLogger(w io.Writer) func(format string, args ...any) {
	var mu sync.Mutex
	pid := os.Getpid()
	return func(format string, args ...any) {
		msg := fmt.Sprintf(format, args...)
		mu.Lock()
		defer mu.Unlock()
		fmt.Fprintf(w, "%d:M %s %s\n", pid, time.Now().Format("02 Jan 2006 15:04:05.000"), msg)
	}
}
