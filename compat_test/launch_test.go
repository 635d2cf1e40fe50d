package compat

import (
	"net"
	"strconv"
	"strings"
	"testing"
)

// TestLaunchPortTaken: a server whose port another listener holds is
// reported as having lost it (launch then starts one on another port),
// not taken for ready because that other listener answers.
func TestLaunchPortTaken(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	go func() { // the other listener answers, as another test's server would
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			c.Close()
		}
	}()
	port := l.Addr().(*net.TCPAddr).Port
	s, taken := launchOn(t, binary, func(port int) []string {
		return []string{"--port", strconv.Itoa(port), "--dir", t.TempDir()}
	}, port)
	if !taken {
		t.Fatalf("launchOn on a held port: not reported taken\n%s", s.log.String())
	}
	if !strings.Contains(s.log.String(), "in use") {
		t.Fatalf("log does not say the port is in use:\n%s", s.log.String())
	}
	if s := startDigby(t); s.port == port {
		t.Fatalf("launch started on the held port %d", port)
	}
}
