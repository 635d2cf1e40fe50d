package resp

import (
	"os"
	"runtime"
	"testing"
	"time"
)

func countFDs() int {
	ents, _ := os.ReadDir("/proc/self/fd")
	return len(ents)
}

// TestCloseRacingServe: Close right after go Serve() stops every loop
// (they start in Listen). A review found Serve starting its loops after
// Close had stopped "all" of them, which then ran forever, each with two
// descriptors.
func TestCloseRacingServe(t *testing.T) {
	if testLoops() == 0 {
		t.Skip("event loops off (DIGBY_RESP_LOOPS=0)")
	}
	g0, f0 := runtime.NumGoroutine(), countFDs()
	for i := 0; i < 200; i++ {
		l, err := Listen("127.0.0.1:0", echoHandler{}, Options{EventLoops: testLoops()})
		if err != nil {
			t.Fatal(err)
		}
		served := make(chan struct{})
		go func() { l.Serve(); close(served) }()
		l.Close()
		<-served
	}
	time.Sleep(200 * time.Millisecond)
	g1, f1 := runtime.NumGoroutine(), countFDs()
	t.Logf("goroutines %d -> %d, descriptors %d -> %d", g0, g1, f0, f1)
	if g1 > g0+10 || f1 > f0+10 {
		t.Fatalf("leaked: goroutines %d -> %d, descriptors %d -> %d", g0, g1, f0, f1)
	}
}
