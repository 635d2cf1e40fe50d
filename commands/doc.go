// Package commands implements digby-server's Redis command set on top of the
// store: the command table, per-connection pipelines that send writes through
// the store's single writer (group commit) and reads to snapshots, MULTI/EXEC
// and WATCH, lazy and active expiry, SCAN with a hash-ordered key space, and
// the server commands tools probe with.
package commands
