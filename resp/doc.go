// Package resp holds the wire side of digby-server: a RESP2/RESP3 reply
// encoder, a request reader that parses each byte once, in place, applying
// Redis's protocol limits at each header before a body is buffered, and a
// listener that serves each connection in its own goroutine (one read, one
// pipeline, one write), keeping per-connection state and client limits.
package resp
