package logging_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"log/slog"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/wabot/wabot/internal/logging"
	"github.com/wabot/wabot/internal/secret"
)

func setup(t *testing.T, messageText bool) (*slog.Logger, *bytes.Buffer) {
	t.Helper()
	var buf bytes.Buffer
	return logging.New(&buf, logging.Config{Format: "json", Level: slog.LevelDebug, MessageText: messageText, HashKey: secret.New("k")}), &buf
}

func TestRedactsPersonalData(t *testing.T) {
	t.Parallel()
	logger, buf := setup(t, false)
	h := logging.NewHasher(secret.New("k"))

	logger.Info("inbound message",
		slog.String("chat", "4915112345678@s.whatsapp.net"),
		slog.String("text", "my secret plans"),
		slog.Group("req", slog.String("sender", "+49 151 12345678")),
		slog.Any("error", errors.New("send to 4915112345678:12@s.whatsapp.net failed, key sk-abcdef123456")),
	)
	logger.Info("whatsmeow said Handling message from 4915112345678@s.whatsapp.net in 120363012345@g.us")
	logging.Whatsmeow(logger, "Client").Infof("Sending message to %s", "4915112345678@s.whatsapp.net")

	out := buf.String()
	for _, leak := range []string{"4915112345678", "12345678", "my secret plans", "sk-abcdef", "120363012345"} {
		require.NotContains(t, out, leak)
	}
	require.Contains(t, out, "id:"+h.Hash("4915112345678@s.whatsapp.net"))
	require.Contains(t, out, `"text":"[redacted len=15]"`)

	lines := strings.Split(strings.TrimSpace(out), "\n")
	require.Len(t, lines, 3)
	for _, l := range lines {
		require.True(t, json.Valid([]byte(l)), l)
	}
}

func TestMessageTextWhenEnabled(t *testing.T) {
	t.Parallel()
	logger, buf := setup(t, true)
	logger.Info("inbound message", slog.String("text", "hello there"))
	require.Contains(t, buf.String(), "hello there")
}

func TestHashIsStableAcrossFormats(t *testing.T) {
	t.Parallel()
	h := logging.NewHasher(secret.New("k"))
	want := h.Hash("15550100@s.whatsapp.net")
	for _, id := range []string{"+1 555-0100", "15550100", "15550100:7@s.whatsapp.net"} {
		require.Equal(t, want, h.Hash(id), id)
	}
	require.NotEqual(t, want, h.Hash("15550101@s.whatsapp.net"))
	require.NotEqual(t, want, logging.NewHasher(secret.New("other")).Hash("15550100"))
	require.Len(t, want, 16)
}

func TestValidateFormat(t *testing.T) {
	t.Parallel()
	require.Empty(t, logging.Config{Format: "json"}.Validate())
	errs := logging.Config{Format: "xml"}.Validate()
	require.Len(t, errs, 1)
	require.Contains(t, errs[0].Error(), "LOG_FORMAT")
}
