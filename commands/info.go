package commands

import (
	"fmt"
	"os"
	"runtime"
	"strings"
	"time"

	"github.com/digby-db/digby/store"
)

// infoSections lists INFO's sections in output order; "default" and "all" include them all.
var infoSections = []string{"server", "clients", "memory", "persistence", "stats", "replication", "cpu", "keyspace", "digby"}

func cmdInfo(x *Ctx) error {
	want := map[string]bool{}
	for _, a := range x.args[1:] {
		s := lowerName(a)
		if s == "default" || s == "all" || s == "everything" {
			for _, n := range infoSections {
				want[n] = true
			}
			continue
		}
		want[s] = true
	}
	if len(want) == 0 {
		for _, n := range infoSections {
			want[n] = true
		}
	}
	// Stats asks the writer, so inside EXEC (which runs in the writer) only
	// the figures that need no round trip are shown.
	st := store.Stats{Failed: x.e.db.Failed()}
	if !x.exec {
		st = x.e.db.Stats()
	}
	var b strings.Builder
	for _, sec := range infoSections {
		if !want[sec] {
			continue
		}
		if b.Len() > 0 {
			b.WriteString("\r\n")
		}
		var tx *store.Tx
		if x.exec {
			tx = x.tx // the writer's transaction: a View would wait for its commit
		}
		if err := x.e.infoSection(&b, sec, st, tx); err != nil {
			return err
		}
	}
	x.w.Verbatim(b.String())
	return nil
}

func line(b *strings.Builder, k string, v any) { fmt.Fprintf(b, "%s:%v\r\n", k, v) }

// infoSection writes section sec; inside EXEC, tx is the writer's
// transaction, which the keyspace figures are read from (as of the
// commands queued before INFO, as Redis shows them).
func (e *Engine) infoSection(b *strings.Builder, sec string, st store.Stats, tx *store.Tx) error {
	now := time.Now()
	switch sec {
	case "server":
		b.WriteString("# Server\r\n")
		line(b, "redis_version", RedisVersion)
		line(b, "redis_mode", "standalone")
		line(b, "os", runtime.GOOS+" "+runtime.GOARCH)
		line(b, "arch_bits", 64)
		line(b, "go_version", runtime.Version())
		line(b, "process_id", os.Getpid())
		line(b, "tcp_port", e.cfg.Get("port"))
		line(b, "server_time_usec", now.UnixMicro())
		line(b, "uptime_in_seconds", int64(now.Sub(e.started)/time.Second))
		line(b, "uptime_in_days", int64(now.Sub(e.started)/(24*time.Hour)))
		line(b, "hz", e.cfg.Get("hz"))
		line(b, "executable", executable())
		line(b, "config_file", "")
	case "clients":
		b.WriteString("# Clients\r\n")
		line(b, "connected_clients", len(e.clients()))
		line(b, "maxclients", e.cfg.Get("maxclients"))
		line(b, "blocked_clients", 0)
		line(b, "tracking_clients", 0)
		line(b, "watching_clients", e.watches.watching())
	case "memory":
		var m runtime.MemStats
		runtime.ReadMemStats(&m)
		b.WriteString("# Memory\r\n")
		line(b, "used_memory", m.HeapAlloc)
		line(b, "used_memory_human", human(int64(m.HeapAlloc)))
		line(b, "used_memory_rss", m.Sys)
		line(b, "used_memory_peak", m.HeapSys)
		line(b, "maxmemory", e.cfg.Size("maxmemory"))
		line(b, "maxmemory_policy", e.cfg.Get("maxmemory-policy"))
		line(b, "mem_allocator", "go")
	case "persistence":
		b.WriteString("# Persistence\r\n")
		line(b, "loading", 0)
		line(b, "rdb_changes_since_last_save", 0)
		line(b, "rdb_bgsave_in_progress", boolInt(e.saving.Load()))
		line(b, "rdb_last_save_time", e.lastSave.Load())
		line(b, "aof_enabled", 0)
		line(b, "appendfsync", e.cfg.Get("appendfsync"))
		line(b, "store_failed", boolInt(st.Failed != nil))
		if st.Failed != nil {
			line(b, "store_failed_cause", strings.ReplaceAll(st.Failed.Error(), "\n", " "))
		}
	case "stats":
		acc, rej := e.connStat()
		b.WriteString("# Stats\r\n")
		line(b, "total_connections_received", acc)
		line(b, "total_commands_processed", e.stats.commands.Load())
		line(b, "rejected_connections", rej)
		line(b, "expired_keys", e.stats.expired.Load())
		line(b, "evicted_keys", 0)
		line(b, "keyspace_hits", e.stats.hits.Load())
		line(b, "keyspace_misses", e.stats.misses.Load())
	case "replication":
		b.WriteString("# Replication\r\n")
		line(b, "role", "master")
		line(b, "connected_slaves", 0)
	case "cpu":
		b.WriteString("# CPU\r\n")
		line(b, "used_cpu_sys", "0.000000")
		line(b, "used_cpu_user", "0.000000")
	case "keyspace":
		b.WriteString("# Keyspace\r\n")
		keyspace := func(tx *store.Tx) error {
			tables, err := tx.Tables()
			if err != nil {
				return err
			}
			for _, n := range tables {
				t := tx.Table(n)
				if t.Count() == 0 {
					continue
				}
				fmt.Fprintf(b, "db%d:keys=%d,expires=%d,avg_ttl=0\r\n", n, t.Count(), t.Expires())
			}
			return nil
		}
		if tx != nil {
			return keyspace(tx)
		}
		return e.db.View(keyspace)
	case "digby":
		b.WriteString("# Digby\r\n")
		line(b, "page_size", st.PageSize)
		line(b, "encryption", st.Encryption)
		line(b, "file_size", st.FileSize)
		line(b, "file_slack", st.FileSlack)
		line(b, "cache_size", st.CacheSize)
		line(b, "cache_bytes", st.CacheBytes)
		line(b, "cache_hits", st.CacheHits)
		line(b, "cache_misses", st.CacheMisses)
		line(b, "free_pages", st.FreePages)
		line(b, "pending_pages", st.PendingPages)
		line(b, "dirty_bytes", st.DirtyBytes)
		line(b, "dirty_cap", st.DirtyCap)
		line(b, "readers", st.Readers)
		line(b, "flushes", st.Flushes)
		line(b, "syncs", st.Syncs)
		line(b, "bytes_written", st.BytesWritten)
		line(b, "commit_log", boolInt(st.CommitLog))
		line(b, "log_blocks", st.LogBlocks)
		line(b, "log_bytes", st.LogBytes)
		line(b, "log_syncs", st.LogSyncs)
		line(b, "overflow_runs_read", st.OverflowReads)
		line(b, "overflow_runs_written", st.OverflowWrites)
		line(b, "scan_populates", st.ScanPopulates)
		line(b, "scan_batches", st.ScanBatches)
		line(b, "prefetched_leaves", st.PrefetchedLeaves)
		line(b, "inplace_nodes", st.InPlaceNodes)
		line(b, "oldest_reader_age_ms", st.OldestReaderAge.Milliseconds())
		last := int64(0)
		if !st.LastFlush.IsZero() {
			last = st.LastFlush.Unix()
		}
		line(b, "last_flush_time", last)
		line(b, "txid", st.TxID)
		line(b, "databases", e.databases)
		line(b, "event_loops", e.loops())
	}
	return nil
}

func boolInt(v bool) int {
	if v {
		return 1
	}
	return 0
}

func executable() string {
	p, err := os.Executable()
	if err != nil {
		return ""
	}
	return p
}

func human(n int64) string {
	switch {
	case n >= 1<<30:
		return fmt.Sprintf("%.2fG", float64(n)/(1<<30))
	case n >= 1<<20:
		return fmt.Sprintf("%.2fM", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.2fK", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%dB", n)
}
