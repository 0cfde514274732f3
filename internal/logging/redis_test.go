package logging_test

import (
	"encoding/json"
	"net"
	"strings"
	"testing"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"

	"github.com/wabot/wabot/internal/logging"
)

// go-redis's own lines (here: a failed dial) come out as JSON warnings
// through our logger, not as plain text on stderr.
// Not parallel: it sets the process-wide go-redis logger.
func TestRedisLogsThroughSlog(t *testing.T) {
	logger, buf := setup(t, false)
	redis.SetLogger(logging.Redis(logger))
	t.Cleanup(func() { redis.SetLogger(logging.Redis(logging.Discard())) })

	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := l.Addr().String()
	require.NoError(t, l.Close()) // nothing listens there now
	rdb := redis.NewClient(&redis.Options{Addr: addr, DialerRetries: 1, MaxRetries: -1})
	t.Cleanup(func() { _ = rdb.Close() })
	require.Error(t, rdb.Ping(t.Context()).Err())

	out := strings.TrimSpace(buf.String())
	require.NotEmpty(t, out)
	var line map[string]any
	require.NoError(t, json.Unmarshal([]byte(strings.Split(out, "\n")[0]), &line), out)
	require.Equal(t, "WARN", line["level"])
	require.Equal(t, "redis", line["component"])
	require.Contains(t, line["msg"], "failed to dial")
}
