package commands

import (
	"context"
	"runtime"
	"strconv"
	"strings"
	"testing"
)

// TestInfoEventLoops: INFO digby says how many event loops serve the
// connections: the count asked for, one a P for auto, none for 0.
func TestInfoEventLoops(t *testing.T) {
	want := map[string]string{"0": "0", "1": "1", "3": "3", "auto": strconv.Itoa(runtime.GOMAXPROCS(0))}
	if runtime.GOOS != "linux" { // no epoll: a goroutine a connection
		want = map[string]string{"0": "0", "1": "0", "3": "0", "auto": "0"}
	}
	for v, w := range want {
		_, c := startServer(t, "event-loops", v)
		info, err := c.Info(context.Background(), "digby").Result()
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(info, "event_loops:"+w+"\r\n") {
			t.Fatalf("event-loops %s: INFO digby lacks event_loops:%s:\n%s", v, w, info)
		}
	}
}
