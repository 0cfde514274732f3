package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"

	"golang.org/x/sync/errgroup"

	"github.com/wabot/wabot/gateway"
	"github.com/wabot/wabot/gateway/localchat"
	"github.com/wabot/wabot/internal/app"
	"github.com/wabot/wabot/internal/config"
	"github.com/wabot/wabot/internal/devtemporal"
	"github.com/wabot/wabot/internal/logging"
	"github.com/wabot/wabot/internal/openaifake"
	"github.com/wabot/wabot/internal/payloadcodec"
	"github.com/wabot/wabot/internal/secret"
	"github.com/wabot/wabot/internal/store"
	"github.com/wabot/wabot/migrations"
	"github.com/wabot/wabot/workflows"
)

// localAccount is the gateway account of the local chat page.
const localAccount = "local"

// runAll starts everything `make dev` promises.
func runAll(ctx context.Context, stdout, stderr io.Writer) error {
	cfg, err := config.Load(os.Environ())
	if err != nil {
		return err
	}
	logger := logging.New(stderr, cfg.Log)

	if err := store.EnsureDatabase(ctx, cfg.Database.URL.Reveal()); err != nil {
		return err
	}
	pool, err := store.Open(ctx, cfg.Database)
	if err != nil {
		return err
	}
	applied, err := store.MigrateUp(ctx, pool, migrations.FS)
	pool.Close()
	if err != nil {
		return fmt.Errorf("migrating: %w", err)
	}
	logger.InfoContext(ctx, "migrations applied", slog.Int("count", len(applied)))

	uiURL := "(external cluster: see its Web UI)"
	if _, external := os.LookupEnv("TEMPORAL_ADDRESS"); !external {
		dir, err := devDataDir()
		if err != nil {
			return err
		}
		srv, err := devtemporal.Start(ctx, logger, devtemporal.Config{
			DataDir: dir, FrontendPort: portOf(cfg.Temporal.Address, 7233), Namespace: cfg.Temporal.Namespace,
			SearchAttributes: workflows.SearchAttributes(), CodecEndpoint: codecEndpoint(cfg),
		})
		if err != nil {
			return fmt.Errorf("starting embedded temporal: %w", err)
		}
		defer func() { _ = srv.Stop() }()
		cfg.Temporal.Address, uiURL = srv.FrontendAddress(), srv.UIAddress()
	}

	banner := ""
	if !cfg.OpenAI.APIKey.IsSet() && cfg.OpenAI.BaseURL == "" {
		fake := openaifake.New(openaifake.WithoutRecording())
		defer fake.Close()
		cfg.OpenAI.BaseURL, cfg.OpenAI.APIKey = fake.URL(), secret.New("offline")
		banner = "OFFLINE MODE: no OPENAI_API_KEY or OPENAI_BASE_URL set, so replies come from the built-in OpenAI stand-in, not a real model."
		logger.WarnContext(ctx, "offline llm stand-in in use: set OPENAI_API_KEY (or OPENAI_BASE_URL) for real answers")
	}

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

	transport := localchat.New(nil)
	local, err := app.StartGateway(d, localAccount, transport, gateway.StaticIdentity{PN: localchat.BotJID})
	if err != nil {
		return err
	}
	defer local.Worker.Stop()
	transport.SetHandler(local.HandleEvent)

	if cfg.WhatsApp.Enabled {
		wa, cli, err := app.StartWhatsApp(ctx, d, stdout)
		if err != nil {
			return err
		}
		defer cli.Disconnect()
		defer wa.Worker.Stop()
	}

	printWelcome(stdout, cfg, uiURL, banner)
	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() error {
		return app.Serve(gctx, logger, "localchat", cfg.HTTP.LocalChatAddr, transport.Handler(localchat.Options{
			Status: localchat.Status{Banner: banner, UIURL: uiURL}, Logger: logger, Addr: cfg.HTTP.LocalChatAddr,
			AccessToken: cfg.HTTP.LocalChatToken, LocalNumbersOnly: cfg.WhatsApp.Enabled && !cfg.HTTP.LocalChatRealNumbers,
		}))
	})
	g.Go(func() error { return app.Serve(gctx, logger, "admin", cfg.HTTP.AdminAddr, app.AdminHandlerFor(d)) })
	return g.Wait()
}

func printWelcome(w io.Writer, cfg config.Config, uiURL, banner string) {
	lines := []string{
		"",
		"wabot is running.",
		"  Chat with it:        http://" + cfg.HTTP.LocalChatAddr,
		"  Temporal Web UI:     " + uiURL,
		"  Temporal frontend:   " + cfg.Temporal.Address + "  (temporal workflow list --address " + cfg.Temporal.Address + ")",
		"  Health:              http://" + cfg.HTTP.AdminAddr + "/healthz  (/livez, /readyz)",
	}
	if cfg.WhatsApp.Enabled {
		lines = append(lines, "  WhatsApp:            account "+cfg.WhatsApp.Account+" (scan the QR code above on first start)")
	}
	if banner != "" {
		lines = append(lines, "", "  !! "+banner)
	}
	fmt.Fprintln(w, strings.Join(append(lines, "", "Stop with Ctrl-C.", ""), "\n"))
}

// codecEndpoint is where the Web UI decrypts payloads: the admin server's
// codec endpoint with the token as a path segment (the UI cannot send a
// static header). Empty when payloads are not encrypted.
func codecEndpoint(cfg config.Config) string {
	if !cfg.Temporal.Payload.Keys.IsSet() || !cfg.Temporal.Payload.Token.IsSet() {
		return ""
	}
	return "http://" + cfg.HTTP.AdminAddr + payloadcodec.Path + "/t/" + cfg.Temporal.Payload.Token.Reveal()
}
