// Command wabot-dev runs the whole bot on one machine for a newcomer: an
// embedded Temporal server (SQLite) with its Web UI, migrations, the worker,
// a local chat page standing in for WhatsApp (and WhatsApp itself when
// WHATSAPP_ENABLED=true), and — when no OpenAI key or base URL is set — the
// offline OpenAI stand-in the tests use. `wabot-dev temporal` runs the
// embedded Temporal server alone (end-to-end tests use it).
//
// The embedded server adds ~150 MB to a binary, so only this dev binary
// carries it; production uses `wabot` against a Temporal cluster.
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/wabot/wabot/internal/app"
	"github.com/wabot/wabot/internal/devtemporal"
	"github.com/wabot/wabot/internal/logging"
	"github.com/wabot/wabot/internal/loopback"
	"github.com/wabot/wabot/workflows"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := realMain(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "wabot-dev:", err)
		os.Exit(1)
	}
}

func realMain(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) > 0 && args[0] == "temporal" {
		return runTemporal(ctx, args[1:], stdout, stderr)
	}
	if len(args) > 0 && args[0] != "up" {
		return fmt.Errorf("usage: wabot-dev [up] | wabot-dev temporal [flags]")
	}
	return runAll(ctx, stdout, stderr)
}

// runTemporal runs the embedded Temporal server alone. It prints one line
// "temporal ready <frontend address>" on stdout when it accepts calls.
func runTemporal(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("temporal", flag.ContinueOnError)
	fs.SetOutput(stderr)
	port := fs.Int("port", 7233, "frontend gRPC port (the next 4 ports are used too)")
	uiPort := fs.Int("ui-port", 8233, "Web UI port; -1 disables the UI")
	dataDir := fs.String("data-dir", "", "directory of the SQLite file; empty = in memory")
	logLevel := fs.String("log-level", "warn", "log level")
	sqliteConns := fs.Int("sqlite-max-conns", 0, "SQLite connection pool size (file mode); 0 = one connection")
	shards := fs.Int("history-shards", 1, "history shards (stored with the data: a data directory keeps the count it was made with)")
	codec := fs.String("codec-endpoint", "", "codec endpoint the Web UI decodes payloads with, e.g. http://127.0.0.1:9090/codec/t/<token>")
	pprofAddr := fs.String("pprof-addr", "", "serve Go's profiler (/debug/pprof/) on this loopback address, e.g. 127.0.0.1:6060")
	dc := map[string]any{}
	fs.Func("dc", "dynamic-config override key=value (repeatable), e.g. matching.numTaskqueueReadPartitions=4", func(s string) error {
		k, v, ok := strings.Cut(s, "=")
		if !ok || k == "" {
			return fmt.Errorf("%q is not key=value", s)
		}
		dc[k] = parseDynamicValue(v)
		return nil
	})
	if err := fs.Parse(args); err != nil {
		return err
	}
	var level slog.Level
	if err := level.UnmarshalText([]byte(*logLevel)); err != nil {
		return fmt.Errorf("-log-level: %w", err)
	}
	if *shards < 1 || *shards > 1024 {
		return fmt.Errorf("-history-shards: %d is not between 1 and 1024", *shards)
	}
	if *pprofAddr != "" && !loopback.Addr(*pprofAddr) {
		return fmt.Errorf("-pprof-addr: the profiler may only be served on a loopback address, not %q", *pprofAddr)
	}
	logger := logging.New(stderr, logging.Config{Format: "auto", Level: level})
	srv, err := devtemporal.Start(ctx, logger, devtemporal.Config{
		DataDir: *dataDir, FrontendPort: *port, UIPort: *uiPort, SearchAttributes: workflows.SearchAttributes(),
		DynamicConfig: dc, SQLiteMaxConns: *sqliteConns, CodecEndpoint: *codec, HistoryShards: int32(*shards), //nolint:gosec // checked above
	})
	if err != nil {
		return err
	}
	if *pprofAddr != "" {
		go func() {
			if err := app.Serve(ctx, logger, "pprof", *pprofAddr, app.PprofHandler()); err != nil {
				logger.ErrorContext(ctx, "pprof server", slog.Any("error", err))
			}
		}()
	}
	fmt.Fprintln(stdout, "temporal ready", srv.FrontendAddress(), srv.UIAddress())
	<-ctx.Done()
	return srv.Stop()
}

// parseDynamicValue types a dynamic-config value: bool, integer, duration,
// float, else string.
func parseDynamicValue(v string) any {
	if b, err := strconv.ParseBool(v); err == nil {
		return b
	}
	if n, err := strconv.Atoi(v); err == nil {
		return n
	}
	if d, err := time.ParseDuration(v); err == nil {
		return d
	}
	if f, err := strconv.ParseFloat(v, 64); err == nil {
		return f
	}
	return v
}

// devDataDir is where `make dev` keeps Temporal's SQLite file.
func devDataDir() (string, error) {
	dir := os.Getenv("WABOT_DEV_DATA_DIR")
	if dir == "" {
		dir = ".data"
	}
	dir = filepath.Join(dir, "temporal")
	return dir, os.MkdirAll(dir, 0o700) //nolint:gosec // G703: the operator chooses this directory
}

func portOf(addr string, fallback int) int {
	_, p, err := net.SplitHostPort(addr)
	if err != nil {
		return fallback
	}
	n, err := strconv.Atoi(p)
	if err != nil {
		return fallback
	}
	return n
}
