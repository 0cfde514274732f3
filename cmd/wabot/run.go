package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"strconv"

	"github.com/wabot/wabot/internal/app"
	"github.com/wabot/wabot/internal/config"
	"github.com/wabot/wabot/internal/store"
	"github.com/wabot/wabot/migrations"
)

func runWorker(ctx context.Context, logger *slog.Logger, cfg config.Config) error {
	d, err := app.Connect(ctx, logger, cfg)
	if err != nil {
		return err
	}
	defer d.Close()
	w, err := app.StartAIWorker(ctx, d)
	if err != nil {
		return err
	}
	defer w.Stop()
	logger.InfoContext(ctx, "worker started", slog.String("task_queue", cfg.Temporal.TaskQueue))
	return app.Serve(ctx, logger, "admin", cfg.HTTP.AdminAddr, app.AdminHandlerFor(d))
}

func runGateway(ctx context.Context, logger *slog.Logger, cfg config.Config, out io.Writer) error {
	if !cfg.WhatsApp.Enabled {
		return fmt.Errorf("WHATSAPP_ENABLED is false: nothing to connect (use `make dev` for the local chat page)")
	}
	d, err := app.Connect(ctx, logger, cfg)
	if err != nil {
		return err
	}
	defer d.Close()
	gw, cli, err := app.StartWhatsApp(ctx, d, out)
	if err != nil {
		return err
	}
	defer cli.Disconnect()
	defer gw.Worker.Stop()
	logger.InfoContext(ctx, "gateway started", slog.String("account", cfg.WhatsApp.Account))
	return app.Serve(ctx, logger, "admin", cfg.HTTP.AdminAddr, app.AdminHandler(d.Health))
}

func runMigrate(ctx context.Context, cfg config.Config, args []string, out io.Writer) error {
	if len(args) == 0 {
		return fmt.Errorf("%w: migrate up|down [N]|status", errUsage)
	}
	if err := store.EnsureDatabase(ctx, cfg.Database.URL.Reveal()); err != nil {
		return err
	}
	pool, err := store.Open(ctx, cfg.Database)
	if err != nil {
		return err
	}
	defer pool.Close()
	switch args[0] {
	case "up":
		done, err := store.MigrateUp(ctx, pool, migrations.FS)
		for _, v := range done {
			fmt.Fprintf(out, "applied %05d\n", v)
		}
		return err
	case "down":
		steps := 1
		if len(args) > 1 {
			if steps, err = strconv.Atoi(args[1]); err != nil || steps < 1 {
				return fmt.Errorf("%w: migrate down N: N must be a positive number", errUsage)
			}
		}
		done, err := store.MigrateDown(ctx, pool, migrations.FS, steps)
		for _, v := range done {
			fmt.Fprintf(out, "rolled back %05d\n", v)
		}
		return err
	case "status":
		states, err := store.MigrationStatus(ctx, pool, migrations.FS)
		if err != nil {
			return err
		}
		for _, s := range states {
			status := "pending"
			if s.Applied {
				status = "applied " + s.AppliedAt.UTC().Format("2006-01-02 15:04:05Z")
			}
			fmt.Fprintf(out, "%05d %-30s %s\n", s.Version, s.Name, status)
		}
		return nil
	default:
		return fmt.Errorf("%w: migrate %q: want up, down or status", errUsage, args[0])
	}
}
