package logging

import (
	"context"
	"fmt"
	"log/slog"

	waLog "go.mau.fi/whatsmeow/util/log"
	tlog "go.temporal.io/sdk/log"
)

// Temporal adapts logger for the Temporal SDK (clients and workers).
func Temporal(logger *slog.Logger) tlog.Logger {
	return tlog.NewStructuredLogger(logger.With(slog.String("component", "temporal")))
}

// Whatsmeow adapts logger for whatsmeow. whatsmeow formats its own messages
// (with JIDs in them); the redaction layer hashes those.
func Whatsmeow(logger *slog.Logger, module string) waLog.Logger {
	return waLogger{logger: logger.With(slog.String("component", "whatsmeow"), slog.String("module", module))}
}

type waLogger struct{ logger *slog.Logger }

func (l waLogger) log(level slog.Level, msg string, args []any) {
	if !l.logger.Enabled(context.Background(), level) {
		return
	}
	l.logger.Log(context.Background(), level, trimMessage(fmt.Sprintf(msg, args...), 2000)) //nolint:sloglint // whatsmeow's own format strings
}

func (l waLogger) Warnf(msg string, args ...any)  { l.log(slog.LevelWarn, msg, args) }
func (l waLogger) Errorf(msg string, args ...any) { l.log(slog.LevelError, msg, args) }
func (l waLogger) Infof(msg string, args ...any)  { l.log(slog.LevelInfo, msg, args) }

// Debugf maps whatsmeow's chatty debug output below slog's Debug.
func (l waLogger) Debugf(msg string, args ...any) { l.log(slog.LevelDebug-2, msg, args) }
func (l waLogger) Sub(module string) waLog.Logger {
	return waLogger{logger: l.logger.With(slog.String("sub", module))}
}

// Redis adapts logger for go-redis (redis.SetLogger). Its own lines — a
// failed dial, a connection pool error — otherwise go to stderr as plain
// text, outside the JSON log and its redaction. It says them only when
// something is wrong, so they are warnings.
func Redis(logger *slog.Logger) RedisLogger {
	return RedisLogger{logger: logger.With(slog.String("component", "redis"))}
}

// RedisLogger is go-redis's logging interface over slog.
type RedisLogger struct{ logger *slog.Logger }

// Printf logs one go-redis line.
func (l RedisLogger) Printf(ctx context.Context, format string, args ...any) {
	if !l.logger.Enabled(ctx, slog.LevelWarn) {
		return
	}
	l.logger.Log(ctx, slog.LevelWarn, trimMessage(fmt.Sprintf(format, args...), 2000)) //nolint:sloglint // go-redis's own format strings
}
