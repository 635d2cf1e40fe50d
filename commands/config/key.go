package config

import (
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
)

// KeyEnv is the environment variable that may hold the encryption key, in
// the same form as the key file.
const KeyEnv = "DIGBY_ENCRYPTION_KEY"

// ErrKeyFilePerm is returned for a key file that group or others may read,
// write or run: as ssh does with private keys, digby refuses it.
var ErrKeyFilePerm = errors.New("encryption key file is accessible by group or others")

// EncryptionKey returns the database encryption key: from the file named by
// encryption-key-file, else from the environment variable DIGBY_ENCRYPTION_KEY
// (getenv reads it), else nil (no encryption). Setting both is an error.
// The key is 32 or 64 hex characters (AES-128 or AES-256), one trailing
// newline ignored. Errors never quote the key.
func (c *Config) EncryptionKey(getenv func(string) string) ([]byte, error) {
	return LoadKey(c.Get("encryption-key-file"), getenv)
}

// LoadKey reads the encryption key from file (when not empty) or from the
// environment variable KeyEnv, as Config.EncryptionKey describes.
func LoadKey(file string, getenv func(string) string) ([]byte, error) {
	env := getenv(KeyEnv)
	switch {
	case file != "" && env != "":
		return nil, fmt.Errorf("both encryption-key-file and %s are set: use one", KeyEnv)
	case env != "":
		key, err := parseKey(env)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", KeyEnv, err)
		}
		return key, nil
	case file == "":
		return nil, nil
	}
	f, err := os.Open(file)
	if err != nil {
		return nil, fmt.Errorf("encryption-key-file: %w", err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("encryption-key-file: %w", err)
	}
	if m := st.Mode(); !m.IsRegular() {
		return nil, fmt.Errorf("encryption-key-file %s: not a regular file", file)
	} else if m.Perm()&0o077 != 0 {
		return nil, fmt.Errorf("encryption-key-file %s: %w (mode %04o; chmod 600 it)", file, ErrKeyFilePerm, m.Perm())
	}
	// A key is at most 64 hex characters and a newline: read one more, so
	// that a longer file is reported with its length capped, not cut.
	b, err := io.ReadAll(io.LimitReader(f, 66))
	if err != nil {
		return nil, fmt.Errorf("encryption-key-file %s: %w", file, err)
	}
	key, err := parseKey(string(b))
	clear(b)
	if err != nil {
		return nil, fmt.Errorf("encryption-key-file %s: %w", file, err)
	}
	return key, nil
}

// parseKey decodes 32 or 64 hex characters, one trailing newline allowed.
func parseKey(s string) ([]byte, error) {
	s = strings.TrimSuffix(s, "\n")
	if len(s) != 32 && len(s) != 64 {
		return nil, fmt.Errorf("the key must be 32 or 64 hex characters (AES-128 or AES-256), found %d characters", len(s))
	}
	key, err := hex.DecodeString(s)
	if err != nil {
		return nil, errors.New("the key must be 32 or 64 hex characters (AES-128 or AES-256): not hex")
	}
	return key, nil
}
