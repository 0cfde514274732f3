package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"

	"github.com/wabot/wabot/internal/app"
	"github.com/wabot/wabot/internal/config"
	"github.com/wabot/wabot/internal/operator"
)

// runOperatorTask runs the operator tasks of `wabot admin …` that need
// Temporal: export, wipe, failed runs and retries, schedules.
func runOperatorTask(ctx context.Context, logger *slog.Logger, cfg config.Config, args []string, out io.Writer) error {
	task, err := adminTask(args)
	if err != nil {
		return err
	}
	d, err := app.Connect(ctx, logger, cfg)
	if err != nil {
		return err
	}
	defer d.Close()
	return task(ctx, d, out)
}

type adminFunc func(ctx context.Context, d *app.Deps, out io.Writer) error

// adminTask parses the arguments before anything is connected.
func adminTask(args []string) (adminFunc, error) {
	cmd, rest := args[0], args[1:]
	switch {
	case cmd == "export" && (len(rest) == 1 || len(rest) == 2):
		path := "wabot-export.zip"
		if len(rest) == 2 {
			path = rest[1]
		}
		return func(ctx context.Context, d *app.Deps, out io.Writer) error {
			_, err := operator.Export(ctx, d, rest[0], path, out)
			return err
		}, nil
	case cmd == "wipe" && len(rest) == 2 && rest[1] == "--yes":
		return func(ctx context.Context, d *app.Deps, out io.Writer) error {
			_, err := operator.Wipe(ctx, d, rest[0], out)
			return err
		}, nil
	case cmd == "wipe":
		return nil, fmt.Errorf("%w: admin wipe <number> --yes (deletes everything about that person; cannot be undone)", errUsage)
	case cmd == "runs" && len(rest) >= 1 && rest[0] == "failed":
		fs := flag.NewFlagSet("runs failed", flag.ContinueOnError)
		var f operator.RunFilter
		fs.StringVar(&f.Number, "chat", "", "the person's phone number")
		fs.StringVar(&f.Kind, "kind", "", "message kind (text, voice, image, …)")
		fs.StringVar(&f.Command, "command", "", "command (export, wipe, retention, retention_sweep, audit_verify, …)")
		fs.SetOutput(io.Discard)
		if err := fs.Parse(rest[1:]); err != nil {
			return nil, fmt.Errorf("%w: admin runs failed [--chat N] [--kind K] [--command C]: %w", errUsage, err)
		}
		return func(ctx context.Context, d *app.Deps, out io.Writer) error {
			_, err := operator.FailedRuns(ctx, d, f, out)
			return err
		}, nil
	case cmd == "runs" && (len(rest) == 2 || len(rest) == 3) && rest[0] == "retry":
		runID := ""
		if len(rest) == 3 {
			runID = rest[2]
		}
		return func(ctx context.Context, d *app.Deps, out io.Writer) error {
			_, err := operator.Retry(ctx, d, rest[1], runID, out)
			return err
		}, nil
	case cmd == "audit" && len(rest) == 1 && rest[0] == "verify":
		return func(ctx context.Context, d *app.Deps, out io.Writer) error {
			_, err := operator.VerifyAudit(ctx, d, out)
			return err
		}, nil
	case cmd == "schedule" && len(rest) == 2:
		return func(ctx context.Context, d *app.Deps, out io.Writer) error {
			return operator.Schedule(ctx, d, rest[0], rest[1], out)
		}, nil
	}
	return nil, fmt.Errorf("%w: unknown admin command; see wabot help", errUsage)
}
