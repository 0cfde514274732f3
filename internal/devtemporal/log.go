package devtemporal

import (
	"context"
	"log/slog"
	"strings"
	"unicode"

	"go.temporal.io/server/common/log"
	"go.temporal.io/server/common/log/tag"
)

// levelServerDebug is below slog.LevelDebug: the server's debug output only shows when the
// handler is configured for it explicitly.
const levelServerDebug = slog.LevelDebug - 4

// serverLogger routes the Temporal server's logger into a *slog.Logger. The server is chatty at
// Info (shard ownership, queue readers, membership), so its levels are shifted down one step:
// server Info becomes our Debug and server Debug goes below Debug. Warn and Error stay as they are;
// DPanic, Panic and Fatal are logged as errors and never panic or exit the process.
//
// minLevel drops records below it before they reach the handler; Stop raises it to Error
// because the services warn about every connection the shutdown closes.
type serverLogger struct {
	logger   *slog.Logger
	minLevel *slog.LevelVar
}

var (
	_ log.Logger     = serverLogger{}
	_ log.WithLogger = serverLogger{}
)

func newServerLogger(logger *slog.Logger, minLevel *slog.LevelVar) serverLogger {
	return serverLogger{logger: logger, minLevel: minLevel}
}

func (l serverLogger) Debug(msg string, tags ...tag.Tag) { l.log(levelServerDebug, msg, tags) }
func (l serverLogger) Info(msg string, tags ...tag.Tag)  { l.log(slog.LevelDebug, msg, tags) }
func (l serverLogger) Warn(msg string, tags ...tag.Tag)  { l.log(slog.LevelWarn, msg, tags) }
func (l serverLogger) Error(msg string, tags ...tag.Tag) { l.log(slog.LevelError, msg, tags) }

// DPanic logs an error: the embedded server must not take the development process down.
func (l serverLogger) DPanic(msg string, tags ...tag.Tag) { l.log(slog.LevelError, msg, tags) }

// Panic logs an error; see DPanic.
func (l serverLogger) Panic(msg string, tags ...tag.Tag) { l.log(slog.LevelError, msg, tags) }

// Fatal logs an error; see DPanic.
func (l serverLogger) Fatal(msg string, tags ...tag.Tag) { l.log(slog.LevelError, msg, tags) }

// With returns a logger that adds tags to every record.
func (l serverLogger) With(tags ...tag.Tag) log.Logger {
	attrs := tagsToAttrs(tags)
	args := make([]any, len(attrs))
	for i, a := range attrs {
		args[i] = a
	}
	return serverLogger{logger: l.logger.With(args...), minLevel: l.minLevel}
}

func (l serverLogger) log(level slog.Level, msg string, tags []tag.Tag) {
	ctx := context.Background()
	if level < l.minLevel.Level() || !l.logger.Enabled(ctx, level) {
		return // skip converting tags: most server records are filtered out
	}
	l.logger.LogAttrs(ctx, level, msg, tagsToAttrs(tags)...) //nolint:sloglint // the Temporal server's own messages
}

func tagsToAttrs(tags []tag.Tag) []slog.Attr {
	attrs := make([]slog.Attr, 0, len(tags))
	for _, t := range tags {
		if t == nil {
			continue
		}
		attrs = append(attrs, slog.Any(snakeKey(t.Key()), t.Value()))
	}
	return attrs
}

// snakeKey turns the server's tag keys ("wf-id", "shardId", "logging-call-at") into snake_case.
func snakeKey(key string) string {
	var b strings.Builder
	b.Grow(len(key) + 4)
	prevLower := false
	for _, r := range key {
		switch {
		case r == '-' || r == '.' || r == ' ':
			b.WriteByte('_')
			prevLower = false
		case unicode.IsUpper(r):
			if prevLower {
				b.WriteByte('_')
			}
			b.WriteRune(unicode.ToLower(r))
			prevLower = false
		default:
			b.WriteRune(r)
			prevLower = unicode.IsLower(r) || unicode.IsDigit(r)
		}
	}
	return b.String()
}
