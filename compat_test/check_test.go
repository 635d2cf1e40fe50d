package compat

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestCheckCommand: `digby-server check DIR` verifies a stopped server's
// data and fails, naming the page, once a page is damaged.
func TestCheckCommand(t *testing.T) {
	dir := t.TempDir()
	s := startDigbyIn(t, dir)
	c := client(t, s, 2)
	for i := 0; i < 2000; i++ {
		must(t, c.Set(ctx, fmt.Sprintf("key:%d", i), strings.Repeat("v", i%300), 0).Err())
	}
	c.Close()
	s.stop()

	out, err := exec.Command(binary, "check", dir).CombinedOutput()
	if err != nil || !strings.HasPrefix(string(out), "ok:") || !strings.Contains(string(out), "2000 keys") {
		t.Fatalf("check of a sound database: %v\n%s", err, out)
	}

	// Damage a byte in the middle of the last data page.
	path := filepath.Join(dir, "digby.db")
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	st, _ := f.Stat()
	buf := make([]byte, 1)
	off := st.Size() - 4096 + 2000
	f.ReadAt(buf, off)
	buf[0] ^= 0xff
	f.WriteAt(buf, off)
	f.Close()
	out, err = exec.Command(binary, "check", dir).CombinedOutput()
	if err == nil || !strings.Contains(string(out), "page ") {
		t.Fatalf("check of a damaged database: err %v\n%s", err, out)
	}
}
