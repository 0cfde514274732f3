// Package logging builds the bot's one slog handler: tint on a terminal, JSON
// otherwise, behind a redaction layer that hashes phone numbers and JIDs, drops
// message text unless explicitly enabled and masks API keys. Temporal's and
// whatsmeow's loggers are adapted onto the same handler.
package logging

import (
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"time"

	"github.com/lmittmann/tint"
	"golang.org/x/term"

	"github.com/wabot/wabot/internal/secret"
)

// Config is the logging part of every binary's configuration.
type Config struct {
	Format string     `env:"LOG_FORMAT" envDefault:"auto"` // auto | json | text
	Level  slog.Level `env:"LOG_LEVEL" envDefault:"info"`
	// MessageText lets message text into logs. Off by default; for debugging only.
	MessageText bool `env:"LOG_MESSAGE_TEXT" envDefault:"false"`
	// HashKey keys the HMAC that turns phone numbers and JIDs into stable hashes.
	// Set the same value on every process so hashes match across them.
	HashKey secret.String `env:"LOG_HASH_KEY"`
}

// Validate names every bad field.
func (c Config) Validate() []error {
	switch c.Format {
	case "auto", "json", "text":
		return nil
	default:
		return []error{fmt.Errorf("LOG_FORMAT: %q is not one of auto, json, text", c.Format)}
	}
}

// New returns a logger writing to w with the redaction layer on top. With
// Format "auto", a terminal gets tint's coloured text and anything else JSON.
func New(w io.Writer, cfg Config) *slog.Logger {
	return slog.New(NewRedactor(newBase(w, cfg), NewHasher(cfg.HashKey), cfg.MessageText))
}

func newBase(w io.Writer, cfg Config) slog.Handler {
	format := cfg.Format
	if format == "auto" || format == "" {
		format = "json"
		if f, ok := w.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
			format = "text"
		}
	}
	if format == "text" {
		_, noColor := os.LookupEnv("NO_COLOR")
		return tint.NewTextHandler(w, &tint.Options{Level: cfg.Level, TimeFormat: time.TimeOnly, NoColor: noColor})
	}
	return slog.NewJSONHandler(w, &slog.HandlerOptions{Level: cfg.Level})
}

// Discard is a logger that writes nothing, for tests and tools.
func Discard() *slog.Logger { return slog.New(slog.DiscardHandler) }

// trimMessage keeps at most n runes of s.
func trimMessage(s string, n int) string {
	if len(s) <= n {
		return s
	}
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return strings.TrimSpace(string(r[:n])) + "…"
}
