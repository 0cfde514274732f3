// Package secret holds values that must never be printed: API keys, database
// passwords, encryption keys. A String prints as a mask in logs, fmt and JSON;
// only Reveal returns the value.
package secret

import (
	"encoding/json"
	"log/slog"
)

// mask is what every secret prints as when it is set.
const mask = "********"

// String is a secret string. Its zero value is an unset secret.
type String struct {
	value string
}

// New wraps s as a secret.
func New(s string) String { return String{value: s} }

// UnmarshalText lets caarlos0/env (and encoding.TextUnmarshaler users) parse it.
func (s *String) UnmarshalText(b []byte) error {
	s.value = string(b)
	return nil
}

// Reveal returns the secret value. Call it only where the value is used.
func (s String) Reveal() string { return s.value }

// IsSet reports whether the secret has a non-empty value.
func (s String) IsSet() bool { return s.value != "" }

// String masks the value.
func (s String) String() string {
	if s.value == "" {
		return ""
	}
	return mask
}

// GoString masks the value for %#v.
func (s String) GoString() string { return "secret.String(" + s.String() + ")" }

// MarshalJSON masks the value.
func (s String) MarshalJSON() ([]byte, error) { return json.Marshal(s.String()) }

// MarshalText masks the value.
func (s String) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

// LogValue masks the value in slog.
func (s String) LogValue() slog.Value { return slog.StringValue(s.String()) }
