package config

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestLoadKey(t *testing.T) {
	dir := t.TempDir()
	hex32 := strings.Repeat("0f", 32)
	write := func(name, body string, mode os.FileMode) string {
		p := filepath.Join(dir, name)
		os.WriteFile(p, []byte(body), mode)
		os.Chmod(p, mode)
		return p
	}
	noEnv := func(string) string { return "" }
	env := func(v string) func(string) string {
		return func(k string) string {
			if k == KeyEnv {
				return v
			}
			return ""
		}
	}
	good := write("good", hex32+"\n", 0o600)
	conf := write("digby.conf", "encryption-key-file "+good+"\n", 0o644)
	c, err := Parse([]string{conf})
	if err != nil {
		t.Fatal(err)
	}
	if key, err := c.EncryptionKey(noEnv); err != nil || len(key) != 32 || key[0] != 0x0f {
		t.Fatalf("key from the config file's key file: %x, %v", key, err)
	}
	for _, tc := range []struct {
		name, file string
		getenv     func(string) string
		size       int
		want       string
	}{
		{"aes-128, no newline", write("k16", strings.Repeat("a1", 16), 0o400), noEnv, 16, ""},
		{"env", "", env(strings.Repeat("B2", 16) + "\n"), 16, ""},
		{"none", "", noEnv, 0, ""},
		{"group readable", write("g", hex32, 0o640), noEnv, 0, "accessible by group or others"},
		{"other writable", write("o", hex32, 0o602), noEnv, 0, "accessible by group or others"},
		{"two newlines", write("nn", hex32+"\n\n", 0o600), noEnv, 0, "found 65 characters"},
		{"short", write("s", "abcd", 0o600), noEnv, 0, "32 or 64 hex characters"},
		{"not hex", "", env(strings.Repeat("xy", 32)), 0, "not hex"},
		{"both", good, env(hex32), 0, "use one"},
		{"missing file", filepath.Join(dir, "nope"), noEnv, 0, "no such file"},
		{"directory", dir, noEnv, 0, "not a regular file"},
		{"long file", write("l", hex32+hex32, 0o600), noEnv, 0, "found 66 characters"},
	} {
		key, err := LoadKey(tc.file, tc.getenv)
		if tc.want != "" {
			if err == nil || !strings.Contains(err.Error(), tc.want) || strings.Contains(err.Error(), hex32) {
				t.Fatalf("%s: %v, want %q", tc.name, err, tc.want)
			}
			if strings.Contains(tc.want, "group") && !errors.Is(err, ErrKeyFilePerm) {
				t.Fatalf("%s: %v is not ErrKeyFilePerm", tc.name, err)
			}
			continue
		}
		if err != nil || len(key) != tc.size {
			t.Fatalf("%s: %d-byte key, %v", tc.name, len(key), err)
		}
	}
}
