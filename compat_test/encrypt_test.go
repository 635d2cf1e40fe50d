package compat

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// writeKeyFile writes hex (with a trailing newline, as openssl writes it)
// to a file of the given mode and returns its path.
func writeKeyFile(t *testing.T, hex string, mode os.FileMode) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "key")
	if err := os.WriteFile(p, []byte(hex+"\n"), mode); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(p, mode); err != nil { // past the umask
		t.Fatal(err)
	}
	return p
}

// mustFail runs digby-server with args (and env added to the environment),
// expects it to exit non-zero within a few seconds, and returns its output.
func mustFail(t *testing.T, env []string, args ...string) string {
	t.Helper()
	c, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	cmd := exec.CommandContext(c, binary, args...)
	cmd.Env = append(os.Environ(), env...)
	out, err := cmd.CombinedOutput()
	if err == nil || c.Err() != nil {
		t.Fatalf("digby-server %v: want a non-zero exit, got %v (timeout: %v)\n%s", args, err, c.Err(), out)
	}
	return string(out)
}

// TestEncryptionServer: digby-server with --encryption-key-file (mode 0600)
// keeps no plaintext on disk, reports the cipher in INFO, reopens with the
// key from DIGBY_ENCRYPTION_KEY, and refuses a 0644 key file, a wrong key,
// a missing key and a key for a plain database, saying which; check takes
// the same key sources.
func TestEncryptionServer(t *testing.T) {
	const hexKey = "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff"
	t.Setenv("DIGBY_ENCRYPTION_KEY", "") // empty counts as unset
	key := writeKeyFile(t, hexKey, 0o600)
	dir := t.TempDir()
	s := startDigbyIn(t, dir, "--encryption-key-file", key)
	c := client(t, s, 2)
	big := strings.Repeat("secret-big-value|", 2000)
	must(t, c.Set(ctx, "secret-key-1", "secret-value-1", 0).Err())
	must(t, c.Set(ctx, "secret-key-2", big, 0).Err())
	info, err := c.Info(ctx, "digby").Result()
	must(t, err)
	if !strings.Contains(info, "encryption:aes-256-gcm") {
		t.Fatalf("INFO digby lacks encryption:aes-256-gcm:\n%s", info)
	}
	c.Close()
	s.stop()
	raw, err := os.ReadFile(filepath.Join(dir, "digby.db"))
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(raw, []byte("secret-")) {
		t.Fatal("the data file holds plaintext")
	}

	out, err := exec.Command(binary, "check", "--encryption-key-file", key, dir).CombinedOutput()
	if err != nil || !strings.HasPrefix(string(out), "ok:") {
		t.Fatalf("check with the key: %v\n%s", err, out)
	}
	if out := mustFail(t, nil, "check", dir); !strings.Contains(out, "an encryption key is required") {
		t.Fatalf("check without the key:\n%s", out)
	}

	port := func() string { return strings.TrimPrefix(strings.TrimPrefix(s.addr, "127.0.0.1"), ":") }
	open := []string{"--port", port(), "--dir", dir}
	for _, tc := range []struct {
		name string
		env  []string
		args []string
		want string
	}{
		{"no key", nil, nil, "an encryption key is required"},
		{"wrong key", nil, []string{"--encryption-key-file", writeKeyFile(t, strings.Repeat("ab", 32), 0o600)}, "wrong encryption key"},
		{"0644 key file", nil, []string{"--encryption-key-file", writeKeyFile(t, hexKey, 0o644)}, "accessible by group or others"},
		{"not hex", []string{"DIGBY_ENCRYPTION_KEY=" + strings.Repeat("zz", 32)}, nil, "not hex"},
		{"file and env", []string{"DIGBY_ENCRYPTION_KEY=" + hexKey}, []string{"--encryption-key-file", key}, "use one"},
		{"key for a plain db", []string{"DIGBY_ENCRYPTION_KEY=" + hexKey}, []string{"--dir", t.TempDir() + "/plain"}, ""},
	} {
		args := append(append([]string{}, open...), tc.args...)
		if tc.want == "" {
			// A new database is created encrypted; make a plain one first.
			plainDir := tc.args[1]
			p := startDigbyIn(t, plainDir)
			p.stop()
			tc.want = "not encrypted"
		}
		if out := mustFail(t, tc.env, args...); !strings.Contains(out, tc.want) || strings.Contains(out, hexKey) {
			t.Fatalf("%s: want %q in:\n%s", tc.name, tc.want, out)
		}
	}

	// The key from the environment.
	t.Setenv("DIGBY_ENCRYPTION_KEY", hexKey)
	s = startDigbyIn(t, dir)
	c = client(t, s, 2)
	if v, err := c.Get(ctx, "secret-key-2").Result(); err != nil || v != big {
		t.Fatalf("GET after reopening with the key from the environment: %v (%d bytes)", err, len(v))
	}
	c.Close()
	s.stop()
}
