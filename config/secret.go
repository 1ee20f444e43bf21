package config

import (
	"bytes"
	"fmt"
	"os"
)

// Secret is a secret read from the file a *_FILE variable names, so it can be
// mounted from a Kubernetes Secret. Its value never prints: String and
// GoString return "[redacted]". The zero Secret is "not configured".
type Secret struct {
	path  string
	value []byte
}

// Decode implements envconfig.Decoder: it reads the file at path. A trailing
// newline (as editors and `kubectl create secret --from-file` leave) is
// trimmed; an empty or unreadable file is an error.
func (s *Secret) Decode(path string) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("reading secret file: %w", err)
	}
	b = bytes.TrimRight(b, "\r\n")
	if len(b) == 0 {
		return fmt.Errorf("secret file %s is empty", path)
	}
	*s = Secret{path: path, value: b}
	return nil
}

// Set reports whether the secret was configured.
func (s Secret) Set() bool { return len(s.value) > 0 }

// Value returns the secret bytes. Do not log them.
func (s Secret) Value() []byte { return s.value }

// Path returns the file the secret was read from.
func (s Secret) Path() string { return s.path }

// String implements fmt.Stringer without revealing the value.
func (s Secret) String() string { return "[redacted]" }

// GoString implements fmt.GoStringer without revealing the value.
func (s Secret) GoString() string { return "config.Secret([redacted])" }

// NewSecret holds a secret given in code (local runs and tests), not read from a file.
func NewSecret(value []byte) Secret { return Secret{path: "(in memory)", value: value} }
