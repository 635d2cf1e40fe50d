package main

import (
	"net/http"
	"net/http/pprof"
	"os"
)

// startProfiler serves Go's runtime profiles (net/http/pprof) on the address
// in DIGBY_PPROF (e.g. 127.0.0.1:6060), for diagnosing a running server.
// Unset, nothing listens. It is an environment variable, not a flag, because
// it is a developer's tool, not part of the redis-server-like interface.
func startProfiler(logf func(string, ...any)) {
	addr := os.Getenv("DIGBY_PPROF")
	if addr == "" {
		return
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	go func() {
		if err := http.ListenAndServe(addr, mux); err != nil {
			logf("# pprof listener on %s: %v", addr, err)
		}
	}()
	logf("* pprof listening on %s", addr)
}
