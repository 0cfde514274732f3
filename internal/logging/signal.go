package logging

import (
	"context"
	"log/slog"
	"sync/atomic"

	signallog "go.mau.fi/libsignal/logger"
)

// libsignal (the Signal protocol under whatsmeow) logs through a package
// global that it fills lazily on first use. Two goroutines that first use it
// at once race on that write, and its default logger prints plain text to
// stdout. Setting the global here, before any goroutine can use libsignal,
// removes the race and sends its lines through slog (and the redaction
// layer) instead.
func init() {
	signalTarget.Store(Discard())
	signallog.Logger = signalLogger{}
}

var signalTarget atomic.Pointer[slog.Logger]

// SetSignalLogger sends libsignal's log lines to logger. Until it is
// called they are dropped: the process-wide default logger would print
// them without the redaction of phone numbers and JIDs. The gateway calls it
// before whatsmeow first uses libsignal.
func SetSignalLogger(logger *slog.Logger) {
	signalTarget.Store(logger.With(slog.String("component", "libsignal")))
}

type signalLogger struct{}

func (signalLogger) log(level slog.Level, caller, msg string) {
	logger := signalTarget.Load()
	if !logger.Enabled(context.Background(), level) {
		return
	}
	logger.Log(context.Background(), level, trimMessage(msg, 2000), slog.String("caller", caller)) //nolint:sloglint // libsignal's own messages
}

// Debug and Info are libsignal's chatty output; both stay below slog's Debug,
// as whatsmeow's debug output does.
func (l signalLogger) Debug(caller, msg string)   { l.log(slog.LevelDebug-2, caller, msg) }
func (l signalLogger) Info(caller, msg string)    { l.log(slog.LevelDebug-2, caller, msg) }
func (l signalLogger) Warning(caller, msg string) { l.log(slog.LevelWarn, caller, msg) }
func (l signalLogger) Error(caller, msg string)   { l.log(slog.LevelError, caller, msg) }
func (signalLogger) Configure(string)             {}
