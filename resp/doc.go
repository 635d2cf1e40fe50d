// Package resp holds the wire side of digby-server: a RESP2/RESP3 reply
// encoder, a guard that enforces Redis's protocol limits on the incoming byte
// stream before anything is buffered, and a redcon-based listener that keeps
// per-connection state and client limits.
package resp
