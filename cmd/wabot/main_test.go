package main

import (
	"bytes"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// Start-up with a bad configuration fails before connecting to anything,
// with one message that names every bad variable.
func TestBadConfigurationFailsStartUp(t *testing.T) {
	t.Setenv("OPENAI_MAX_TOKENS", "many")
	t.Setenv("LOG_LEVEL", "loud")
	t.Setenv("REDIS_URL", "http://not-redis")
	t.Setenv("TEMPORAL_WORKER_CONCURRENCY", "0")
	for _, cmd := range []string{"worker", "gateway", "migrate"} {
		var out, errb bytes.Buffer
		err := realMain(t.Context(), []string{cmd}, &out, &errb)
		require.Error(t, err, cmd)
		msg := err.Error()
		require.Equal(t, 1, strings.Count(msg, "invalid configuration"), msg)
		for _, name := range []string{"OPENAI_MAX_TOKENS", "LOG_LEVEL", "REDIS_URL", "TEMPORAL_WORKER_CONCURRENCY"} {
			require.Contains(t, msg, name, cmd)
		}
	}
}

func TestConfigPrintsMaskedSecrets(t *testing.T) {
	t.Setenv("OPENAI_API_KEY", "sk-live-0123456789")
	var out, errb bytes.Buffer
	require.NoError(t, realMain(t.Context(), []string{"config"}, &out, &errb))
	require.NotContains(t, out.String(), "sk-live-0123456789")
	require.Contains(t, out.String(), `"TaskQueue": "wabot-ai"`)
}

func TestUnknownCommand(t *testing.T) {
	var out, errb bytes.Buffer
	err := realMain(t.Context(), []string{"frobnicate"}, &out, &errb)
	require.ErrorIs(t, err, errUsage)
	require.Contains(t, errb.String(), "usage: wabot")
}
