// Command digby-server is a Redis-protocol server whose data lives in digby's
// on-disk copy-on-write B+ tree store. It starts as redis-server does:
//
//	digby-server [config-file] [--port 6379] [--dir ./data] [--appendfsync everysec] ...
package main

import (
	"fmt"
	"os"
	"os/signal"
	"runtime/debug"
	"strings"
	"syscall"

	"github.com/digby-db/digby/commands"
	"github.com/digby-db/digby/commands/config"
	"github.com/digby-db/digby/store"
)

const usage = `Usage: digby-server [/path/to/digby.conf] [options]
       digby-server check [--encryption-key-file FILE] DIR
                                    verify a database directory (stop the server first)
       digby-server --version
       digby-server --help

Options (also accepted as "name value" lines in the config file):
  --port N                     TCP port (default 6379)
  --bind ADDR                  listen address (default 127.0.0.1)
  --dir DIR                    data directory, created on first run (default ./data)
  --appendfsync MODE           always | everysec | no (default everysec)
  --databases N                number of tables for SELECT (default 16)
  --page-size SIZE             page size of a new database, 4096..65536 (default 4096)
  --cache-size SIZE            page cache bound, e.g. 256mb (default 256mb)
  --dirty-cap SIZE             committed changes held in memory before a flush is
                               forced (default 256mb)
  --file-slack PERCENT|auto    share of the data file that may be kept free so that
                               flushes write close together, 0..90 (default auto:
                               50 under appendfsync always, 15 otherwise)
  --commit-log yes|no          with appendfsync always, acknowledge writes once they
                               are appended to a commit log and synced; the tree is
                               flushed once a second and open replays the log
                               (default no: no log, instant restart)
  --in-place yes|no            change in place the tree pages written since the last
                               flush that no reader holds (default yes; no: copy every
                               page a write changes, and reads never wait for a write)
  --compression yes|no         store a value of 64 bytes to 16 KiB lz4-compressed in
                               its leaf when that saves an eighth of it (default yes)
  --maxclients N               connection cap (default 10000)
  --requirepass-file FILE      require AUTH with the password on the file's first line
  --proto-max-bulk-len SIZE    longest accepted bulk string (default 512mb)
  --client-query-buffer-limit SIZE
                               most bytes of one incomplete request a connection may
                               hold; past it the connection is closed (default 1gb)
  --timeout SECONDS            close connections idle that long (default 0: never)
  --event-loops N|auto         serve connections from N epoll event loops (Linux),
                               auto: one a core; 0: a goroutine a connection
                               (default auto)
  --encryption-key-file FILE   encrypt the database (AES-GCM) with the key in FILE:
                               32 or 64 hex characters (AES-128/256), mode 0600,
                               e.g. made by: openssl rand -hex 32 > FILE
                               (or set DIGBY_ENCRYPTION_KEY to the same form)

Examples:
  digby-server
  digby-server --port 7777 --dir /var/lib/digby --appendfsync always
  digby-server /etc/digby.conf --loglevel notice
`

func main() {
	os.Exit(run(os.Args[1:]))
}

func run(args []string) int {
	if len(args) == 1 {
		switch args[0] {
		case "-v", "--version":
			fmt.Printf("digby-server v=%s redis-protocol=%s\n", commands.Version, commands.RedisVersion)
			return 0
		case "-h", "--help":
			fmt.Print(usage)
			return 0
		}
	}
	if len(args) > 0 && args[0] == "check" {
		return check(args[1:])
	}
	logf := commands.NewLogger(os.Stderr)
	cfg, err := config.Parse(args)
	if err != nil {
		fmt.Fprintf(os.Stderr, "digby-server: %v\n\n%s", err, usage)
		return 2
	}
	// Catch signals before listening: a client may connect and a
	// supervisor send SIGTERM the moment the port is open.
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGTERM, syscall.SIGINT)
	startProfiler(logf)
	dirtyCap := cfg.Size("dirty-cap")
	setMemoryLimit(cfg.Size("cache-size"), dirtyCap)
	srv, err := commands.Start(cfg, logf, commands.Hooks{CacheSize: func(n int64) { setMemoryLimit(n, dirtyCap) }})
	if err != nil {
		logf("# Fatal: %v", err)
		return 1
	}
	select {
	case s := <-sig:
		logf("# Received %s, scheduling shutdown...", s)
	case <-srv.ShutdownRequested():
	}
	if err := srv.Close(); err != nil {
		return 1
	}
	return 0
}

// check verifies every page of the database in a directory and prints what
// it found. args: [--encryption-key-file FILE] DIR (or the key in
// DIGBY_ENCRYPTION_KEY).
func check(args []string) int {
	var keyFile string
	if len(args) == 3 && args[0] == "--encryption-key-file" {
		keyFile, args = args[1], args[2:]
	} else if len(args) == 2 && strings.HasPrefix(args[0], "--encryption-key-file=") {
		keyFile, args = strings.TrimPrefix(args[0], "--encryption-key-file="), args[1:]
	}
	if len(args) != 1 || strings.HasPrefix(args[0], "-") {
		fmt.Fprintf(os.Stderr, "digby-server check: want [--encryption-key-file FILE] DIR\n\n%s", usage)
		return 2
	}
	dir := args[0]
	if _, err := os.Stat(store.DataPath(dir)); err != nil {
		fmt.Fprintf(os.Stderr, "digby-server check: %v\n", err)
		return 1
	}
	key, err := config.LoadKey(keyFile, os.Getenv)
	if err != nil {
		fmt.Fprintf(os.Stderr, "digby-server check: %v\n", err)
		return 1
	}
	db, err := store.Open(dir, &store.Options{Durability: store.Always, EncryptionKey: key})
	if err != nil {
		fmt.Fprintf(os.Stderr, "digby-server check: %v\n", err)
		return 1
	}
	defer db.Close()
	if r := db.Recovered(); r != "" {
		fmt.Printf("recovered: %s\n", r)
	}
	r, err := db.Check()
	if err != nil {
		fmt.Fprintf(os.Stderr, "digby-server check: FAILED: %v\n", err)
		return 1
	}
	fmt.Printf("ok: %d pages (%d reachable, %d of them pending drop; %d free; %d pending), %d tables, %d keys\n",
		r.Pages, r.Reachable, r.PendingDrop, r.Free, r.Pending, r.Tables, r.Tuples)
	return 0
}

// memoryHeadroom is what the server may use beyond the page cache and the
// engine's dirty pages: a flush in flight, the connections' buffers and
// the Go runtime.
const memoryHeadroom = 320 << 20

// setMemoryLimit gives the Go runtime a soft memory limit of the page cache
// plus the dirty cap plus memoryHeadroom, so that garbage is collected
// before the heap doubles past them (with GOGC alone the heap may grow to
// twice what is live). GOMEMLIMIT, when set, takes precedence.
func setMemoryLimit(cache, dirtyCap int64) {
	if os.Getenv("GOMEMLIMIT") != "" {
		return
	}
	debug.SetMemoryLimit(cache + dirtyCap + memoryHeadroom)
}
