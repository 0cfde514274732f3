package logging_test

import (
	"encoding/json"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"
	signallog "go.mau.fi/libsignal/logger"
	"go.mau.fi/whatsmeow/util/keys"

	"github.com/wabot/wabot/internal/logging"
)

// libsignal's first use from two goroutines at once must not race (its
// logger global is set at init, not lazily), and its lines come out as
// redacted JSON through our logger, not as plain text on stdout.
// Not parallel: it sets the process-wide libsignal logger.
func TestSignalLogsThroughSlog(t *testing.T) {
	var wg sync.WaitGroup
	for range 2 {
		wg.Go(func() { keys.NewKeyPair().CreateSignedPreKey(1) }) // logs a debug line in libsignal
	}
	wg.Wait()

	logger, buf := setup(t, false)
	logging.SetSignalLogger(logger)
	t.Cleanup(func() { logging.SetSignalLogger(logging.Discard()) })

	signallog.Error("Unable to decrypt message from 4915112345678@s.whatsapp.net")
	signallog.Info("chatty info below debug")
	signallog.Debug("chatty debug below debug")

	out := strings.TrimSpace(buf.String())
	require.NotContains(t, out, "4915112345678")
	require.NotContains(t, out, "chatty")
	var line map[string]any
	require.NoError(t, json.Unmarshal([]byte(out), &line), out)
	require.Equal(t, "ERROR", line["level"])
	require.Equal(t, "libsignal", line["component"])
	require.Contains(t, line["msg"], "Unable to decrypt message from id:")
	require.Contains(t, line["caller"], "signal_test.go")
}
