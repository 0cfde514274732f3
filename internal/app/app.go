// Package app wires the bot's processes from a Config: the connections every
// process needs, the AI worker, the gateway and the admin HTTP server. It is
// the part of wiring that cmd/wabot and the dev binary cmd/wabot-dev share;
// only cmd/ reads the environment and calls into here.
package app

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/redis/go-redis/v9"
	"go.temporal.io/sdk/client"

	"github.com/wabot/wabot/internal/config"
	"github.com/wabot/wabot/internal/health"
	"github.com/wabot/wabot/internal/logging"
	"github.com/wabot/wabot/internal/payloadcodec"
	"github.com/wabot/wabot/internal/store"
)

// Deps are the connections a process holds.
type Deps struct {
	Logger   *slog.Logger
	Config   config.Config
	Pool     *pgxpool.Pool
	Store    *store.Store
	Redis    *redis.Client
	Temporal client.Client
	Health   *health.Checker
	Hasher   logging.Hasher
	Alerts   *Alerts // served at /metrics by AdminHandlerFor

	closers []func() // more connections opened later (the WhatsApp store), closed by Close
}

// Connect opens PostgreSQL, Redis and Temporal and registers their health checks.
func Connect(ctx context.Context, logger *slog.Logger, cfg config.Config) (*Deps, error) {
	d := &Deps{Logger: logger, Config: cfg, Health: health.New(2 * time.Second), Hasher: logging.NewHasher(cfg.Log.HashKey), Alerts: &Alerts{}}
	var err error
	if d.Pool, err = store.Open(ctx, cfg.Database); err != nil {
		return nil, fmt.Errorf("connecting to postgres: %w", err)
	}
	d.Store = store.New(d.Pool)
	opts, err := redis.ParseURL(cfg.Redis.URL.Reveal())
	if err != nil {
		d.Close()
		return nil, errors.New("REDIS_URL: cannot parse it")
	}
	redis.SetLogger(logging.Redis(logger)) // process-wide: go-redis has one logger
	d.Redis = redis.NewClient(opts)
	if err := d.Redis.Ping(ctx).Err(); err != nil {
		d.Close()
		return nil, fmt.Errorf("connecting to redis: %w", err)
	}
	if d.Temporal, err = DialTemporal(ctx, logger, cfg.Temporal); err != nil {
		d.Close()
		return nil, err
	}
	d.Health.Add("postgres", d.Pool.Ping)
	d.Health.Add("redis", func(ctx context.Context) error { return d.Redis.Ping(ctx).Err() })
	d.Health.Add("temporal", func(ctx context.Context) error {
		_, err := d.Temporal.CheckHealth(ctx, &client.CheckHealthRequest{})
		return err
	})
	return d, nil
}

// Close releases every connection.
func (d *Deps) Close() {
	for _, c := range d.closers {
		c()
	}
	if d.Temporal != nil {
		d.Temporal.Close()
	}
	if d.Redis != nil {
		_ = d.Redis.Close()
	}
	if d.Pool != nil {
		d.Pool.Close()
	}
}

// DialTemporal connects a Temporal client, with TLS and an API key when configured.
func DialTemporal(ctx context.Context, logger *slog.Logger, cfg config.Temporal) (client.Client, error) {
	opts := client.Options{
		HostPort:  cfg.Address,
		Namespace: cfg.Namespace,
		Logger:    logging.Temporal(logger),
	}
	dc, encrypted, err := payloadcodec.DataConverter(cfg.Payload)
	if err != nil {
		return nil, err
	}
	opts.DataConverter = dc
	if !encrypted {
		logger.WarnContext(ctx, "temporal payloads are not encrypted: set WABOT_PAYLOAD_KEYS in production")
	}
	if !cfg.GzipRequests() {
		opts.ConnectionOptions.GrpcCompression = &client.GrpcCompressionNone{}
	}
	if cfg.TLS || cfg.APIKey.IsSet() {
		opts.ConnectionOptions.TLS = &tls.Config{MinVersion: tls.VersionTLS12}
	}
	if cfg.APIKey.IsSet() {
		opts.Credentials = client.NewAPIKeyStaticCredentials(cfg.APIKey.Reveal())
	}
	c, err := client.DialContext(ctx, opts)
	if err != nil {
		return nil, fmt.Errorf("connecting to temporal at %s: %w", cfg.Address, err)
	}
	return c, nil
}

// Serve runs an HTTP server on addr until ctx ends, then shuts it down gracefully.
func Serve(ctx context.Context, logger *slog.Logger, name, addr string, h http.Handler) error {
	ln, err := new(net.ListenConfig).Listen(ctx, "tcp", addr)
	if err != nil {
		return fmt.Errorf("listening for %s on %s: %w", name, addr, err)
	}
	return ServeListener(ctx, logger, name, ln, h)
}

// ServeListener is Serve on an open listener.
func ServeListener(ctx context.Context, logger *slog.Logger, name string, ln net.Listener, h http.Handler) error {
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second, BaseContext: func(net.Listener) context.Context { return ctx }}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	logger.InfoContext(ctx, "http server listening", slog.String("server", name), slog.String("addr", ln.Addr().String()))
	select {
	case err := <-errc:
		return fmt.Errorf("%s server: %w", name, err)
	case <-ctx.Done():
	}
	shutdownCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	return srv.Shutdown(shutdownCtx)
}

// AdminHandlerFor serves the health endpoints, /metrics and, when payloads are
// encrypted, the codec endpoint for the Temporal Web UI at payloadcodec.Path.
func AdminHandlerFor(d *Deps) http.Handler {
	mux := http.NewServeMux()
	d.Health.Register(mux)
	mux.Handle("GET /metrics", d.Alerts)
	p := d.Config.Temporal.Payload
	if keys, err := payloadcodec.ParseKeys(p.Keys.Reveal()); err == nil && len(keys) > 0 {
		if c, err := payloadcodec.New(keys); err == nil {
			h := payloadcodec.Handler(c, p.Token.Reveal(), p.Origins)
			mux.Handle(payloadcodec.Path+"/", h)
		}
	}
	if d.Config.HTTP.Pprof {
		mux.Handle("/debug/pprof/", PprofHandler())
	}
	return mux
}

// PprofHandler serves Go's profiler under /debug/pprof/.
func PprofHandler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	return mux
}

// AdminHandler serves the health endpoints.
func AdminHandler(h *health.Checker) http.Handler {
	mux := http.NewServeMux()
	h.Register(mux)
	return mux
}
