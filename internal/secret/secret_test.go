package secret_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"log/slog"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/wabot/wabot/internal/secret"
)

func TestStringNeverPrints(t *testing.T) {
	t.Parallel()
	const value = "sk-live-1234567890"
	s := secret.New(value)
	require.Equal(t, value, s.Reveal())
	require.True(t, s.IsSet())

	var buf bytes.Buffer
	logger := slog.New(slog.NewJSONHandler(&buf, nil))
	logger.Info("config", slog.Any("key", s))
	j, err := json.Marshal(struct{ Key secret.String }{s})
	require.NoError(t, err)
	for _, out := range []string{fmt.Sprint(s), fmt.Sprintf("%v %+v %#v %s", s, s, s, s), buf.String(), string(j)} {
		require.NotContains(t, out, value)
		require.Contains(t, out, "********")
	}
}

func TestStringUnset(t *testing.T) {
	t.Parallel()
	var s secret.String
	require.False(t, s.IsSet())
	require.Empty(t, s.String())
	require.NoError(t, s.UnmarshalText([]byte("x")))
	require.Equal(t, "x", s.Reveal())
}
