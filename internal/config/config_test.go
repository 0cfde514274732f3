package config_test

import (
	"bytes"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/wabot/wabot/internal/config"
)

func TestDefaultsAreValid(t *testing.T) {
	t.Parallel()
	cfg, err := config.Load(nil)
	require.NoError(t, err)
	require.Equal(t, "127.0.0.1:7233", cfg.Temporal.Address)
	require.Equal(t, "wabot-ai", cfg.Temporal.TaskQueue)
	require.Equal(t, 10*time.Minute, cfg.Gateway.ChatIdleTimeout)
	require.False(t, cfg.WhatsApp.Enabled)
}

func TestEveryBadVariableIsNamedAtOnce(t *testing.T) {
	t.Parallel()
	_, err := config.Load([]string{
		"OPENAI_MAX_TOKENS=lots",
		"LOG_FORMAT=xml",
		"DATABASE_URL=mysql://root:hunter2@db/wabot",
		"GATEWAY_CHAT_IDLE_TIMEOUT=soon",
		"WHATSAPP_ENABLED=maybe",
		"TEMPORAL_ADDRESS=no-port",
		"TEMPORAL_TASK_QUEUE=bad queue",
		"TEMPORAL_GRPC_COMPRESSION=zstd",
		"TEMPORAL_POLLERS=-2",
		"TEMPORAL_STICKY_CACHE_SIZE=-5",
	})
	require.Error(t, err)
	var cfgErr *config.Error
	require.True(t, errors.As(err, &cfgErr))
	msg := err.Error()
	for _, name := range []string{"OPENAI_MAX_TOKENS", "LOG_FORMAT", "DATABASE_URL", "GATEWAY_CHAT_IDLE_TIMEOUT",
		"WHATSAPP_ENABLED", "TEMPORAL_ADDRESS", "TEMPORAL_TASK_QUEUE", "TEMPORAL_GRPC_COMPRESSION",
		"TEMPORAL_POLLERS", "TEMPORAL_STICKY_CACHE_SIZE"} {
		require.Contains(t, msg, name)
	}
	require.NotContains(t, msg, "hunter2", "a bad URL's password must not be echoed")
	require.Equal(t, 1, strings.Count(msg, "invalid configuration"))
}

func TestPrintMasksSecrets(t *testing.T) {
	t.Parallel()
	cfg, err := config.Load([]string{
		"OPENAI_API_KEY=sk-test-abcdef123456",
		"DATABASE_URL=postgres://wabot:hunter2@127.0.0.1:5432/wabot",
		"TEMPORAL_API_KEY=tk-secret",
	})
	require.NoError(t, err)
	var buf bytes.Buffer
	require.NoError(t, cfg.Print(&buf))
	out := buf.String()
	for _, s := range []string{"sk-test-abcdef123456", "hunter2", "tk-secret"} {
		require.NotContains(t, out, s)
	}
	require.Contains(t, out, "********")
	require.Contains(t, out, "127.0.0.1:7233")
}

func TestVariablesListsEveryKey(t *testing.T) {
	t.Parallel()
	vars, err := config.Variables()
	require.NoError(t, err)
	keys := map[string]string{}
	for _, v := range vars {
		keys[v.Key] = v.DefaultValue
	}
	for _, k := range []string{"DATABASE_URL", "REDIS_URL", "TEMPORAL_ADDRESS", "OPENAI_API_KEY", "OPENAI_MODEL",
		"BOT_MEMORY_TOKENS", "WHATSAPP_ENABLED", "LOG_HASH_KEY", "ADMIN_ADDR"} {
		require.Contains(t, keys, k)
	}
	require.Equal(t, "wabot-ai", keys["TEMPORAL_TASK_QUEUE"])
}

func TestGovernanceVariables(t *testing.T) {
	t.Parallel()
	cfg, err := config.Load([]string{"BOT_OWNERS=+49 151 1234 5678,4915100000002", "RATE_GLOBAL_PER_MINUTE=30"})
	require.NoError(t, err)
	require.Len(t, cfg.Gov.Owners, 2)
	require.Equal(t, 30, cfg.Gov.GlobalPerMinute)
	require.Equal(t, 15*time.Minute, cfg.Gov.SessionTTL)
	require.Equal(t, "everyone", cfg.Gov.Answer)

	_, err = config.Load([]string{"BOT_OWNERS=alice", "BOT_ANSWER=friends", "ADMIN_SESSION_TTL=1s",
		"RATE_USER_PER_MINUTE=-1", "BOT_DENYLIST=12"})
	require.Error(t, err)
	for _, name := range []string{"BOT_OWNERS", "BOT_ANSWER", "ADMIN_SESSION_TTL", "RATE_USER_PER_MINUTE", "BOT_DENYLIST"} {
		require.Contains(t, err.Error(), name)
	}
	require.NotContains(t, err.Error(), "alice", "numbers are not echoed")
}

func TestComplianceVariables(t *testing.T) {
	t.Parallel()
	key := "k1:d2Fib3QtcmVwbGF5LXRlc3Qta2V5LTMyLWJ5dGVzISE="
	cfg, err := config.Load([]string{"WABOT_PAYLOAD_KEYS=" + key, "WABOT_CODEC_TOKEN=0123456789abcdefgh", "RETENTION_SWEEP_INTERVAL=15m"})
	require.NoError(t, err)
	require.Equal(t, 15*time.Minute, cfg.Compliance.SweepInterval)
	require.Equal(t, 365, cfg.Compliance.MaxDays)
	var out bytes.Buffer
	require.NoError(t, cfg.Print(&out))
	require.NotContains(t, out.String(), "d2Fib3Qt", "the payload key is masked")

	_, err = config.Load([]string{"WABOT_PAYLOAD_KEYS=k1:short", "RETENTION_SWEEP_INTERVAL=1s", "RETENTION_MIN_DAYS=10", "RETENTION_MAX_DAYS=5"})
	require.Error(t, err)
	for _, name := range []string{"WABOT_PAYLOAD_KEYS", "RETENTION_SWEEP_INTERVAL", "RETENTION_MAX_DAYS"} {
		require.Contains(t, err.Error(), name)
	}
}

func TestPrintMasksPhoneNumbers(t *testing.T) {
	t.Parallel()
	cfg, err := config.Load([]string{"BOT_OWNERS=+4915112345678", "BOT_ALLOWLIST=4915199999999", "BOT_ADMINS=4915188888888"})
	require.NoError(t, err)
	var out bytes.Buffer
	require.NoError(t, cfg.Print(&out))
	require.NotContains(t, out.String(), "4915112345678")
	require.NotContains(t, out.String(), "4915199999999")
	require.NotContains(t, out.String(), "4915188888888")
	require.Equal(t, "4915112345678", cfg.Gov.Owners[0][1:], "the configuration itself keeps the number")
}

// gzip costs CPU on both ends: auto leaves it off on loopback only.
func TestTemporalCompression(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		addr, mode string
		gzip       bool
	}{
		{"127.0.0.1:7233", "auto", false},
		{"[::1]:7233", "auto", false},
		{"localhost:7233", "auto", false},
		{"temporal.internal:7233", "auto", true},
		{"10.0.0.5:7233", "auto", true},
		{"127.0.0.1:7233", "gzip", true},
		{"10.0.0.5:7233", "none", false},
	} {
		cfg, err := config.Load([]string{"TEMPORAL_ADDRESS=" + c.addr, "TEMPORAL_GRPC_COMPRESSION=" + c.mode})
		require.NoError(t, err)
		require.Equal(t, c.gzip, cfg.Temporal.GzipRequests(), "%s %s", c.addr, c.mode)
	}
}

// The chat page and the profiler stay on this machine unless protected: a
// non-loopback LOCALCHAT_ADDR needs LOCALCHAT_TOKEN, the profiler a loopback
// ADMIN_ADDR. Every problem is named at once, the token never echoed.
func TestExposedLocalSurfacesAreRefused(t *testing.T) {
	t.Parallel()
	_, err := config.Load([]string{"LOCALCHAT_ADDR=0.0.0.0:8080", "ADMIN_ADDR=:9090", "ADMIN_PPROF=true"})
	require.Error(t, err)
	require.Contains(t, err.Error(), "LOCALCHAT_ADDR")
	require.Contains(t, err.Error(), "LOCALCHAT_TOKEN")
	require.Contains(t, err.Error(), "ADMIN_PPROF")
	require.Contains(t, err.Error(), "2 problems")

	_, err = config.Load([]string{"LOCALCHAT_ADDR=192.168.1.20:8080", "LOCALCHAT_TOKEN=short-secret"})
	require.ErrorContains(t, err, "LOCALCHAT_TOKEN: shorter than 16 characters")
	require.NotContains(t, err.Error(), "short-secret")

	for _, ok := range [][]string{
		{"LOCALCHAT_ADDR=0.0.0.0:8080", "LOCALCHAT_TOKEN=0123456789abcdef"},
		{"LOCALCHAT_ADDR=localhost:8080", "ADMIN_ADDR=[::1]:9090", "ADMIN_PPROF=true"},
		{"ADMIN_ADDR=0.0.0.0:9090"}, // health probes from outside, no profiler
	} {
		_, err := config.Load(ok)
		require.NoError(t, err, ok)
	}
}
