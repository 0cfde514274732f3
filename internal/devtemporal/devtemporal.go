// Package devtemporal runs a real Temporal server (SQLite) with its Web UI in-process, for local development and end-to-end tests.
//
// It is meant for the development binary (cmd/wabot-dev) and tests only: it links the whole
// Temporal server and the UI's assets, about 170 MB of binary.
//
// # Ports
//
// Everything binds on Config.Host. The internal ports are derived from FrontendPort, so two
// servers with different FrontendPorts (at least 5 apart) never collide:
//
//	FrontendPort     frontend gRPC (what SDK clients dial)
//	FrontendPort+1   frontend HTTP API
//	FrontendPort+2   history gRPC
//	FrontendPort+3   matching gRPC
//	FrontendPort+4   internal worker gRPC
//	UIPort           Web UI (default 8233, -1 disables it)
//
// No membership (ringpop) port is bound: the services find each other through static hosts.
// Metrics and pprof are off.
//
// # Persistence
//
// With Config.DataDir set, everything lives in DataDir/temporal.db (SQLite in WAL mode with
// synchronous=normal). The schema is created when the file does not exist yet. The server's SQLite
// plugin keeps one connection per database file open for the life of the process (even after
// Stop), so Stop and Start again on the same DataDir in one process reuse that connection.
// Without DataDir every Start gets a fresh in-memory database, which is not freed after Stop.
package devtemporal

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"sync"
	"time"

	uiserver "github.com/temporalio/ui-server/v2/server"
	"go.temporal.io/api/enums/v1"
	"go.temporal.io/server/temporal"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
)

// Defaults for Config.
const (
	DefaultHost         = "127.0.0.1"
	DefaultFrontendPort = 7233
	DefaultUIPort       = 8233
	DefaultNamespace    = "default"

	// UIDisabled as Config.UIPort runs no Web UI.
	UIDisabled = -1

	// DatabaseFile is the SQLite file's name inside Config.DataDir.
	DatabaseFile = "temporal.db"

	// portSpan is how many consecutive ports from FrontendPort the server binds.
	portSpan = 5

	// defaultStartTimeout bounds Start when its context has no deadline.
	defaultStartTimeout = 2 * time.Minute
)

// Config configures the embedded server. The zero value runs an in-memory server on the
// default ports.
type Config struct {
	DataDir      string // directory for the SQLite file ("temporal.db"); "" = in-memory SQLite
	Host         string // default "127.0.0.1"
	FrontendPort int    // gRPC frontend, default 7233; FrontendPort+1..+4 are used too (see package doc)
	UIPort       int    // Web UI, default 8233; -1 (UIDisabled) disables the UI
	Namespace    string // default "default"; created if missing (retention 24h)
	// SearchAttributes to register in Namespace (name -> type), e.g. "WabotChat":
	// enums.INDEXED_VALUE_TYPE_KEYWORD. Registered at start-up on a fresh and on an existing
	// database; an attribute that exists with another type is an error. SQLite has a fixed
	// number of slots per type and namespace (10 Keyword; 3 each of Int, Double, Bool, Datetime,
	// Text, KeywordList).
	SearchAttributes map[string]enums.IndexedValueType
	CodecEndpoint    string // optional; passed to the UI config so it can decode payloads
	// DynamicConfig overrides dynamic-config values by key (e.g.
	// "matching.numTaskqueueReadPartitions": 4), over the defaults this package sets; for
	// experiments such as the benchmark's before/after runs.
	DynamicConfig map[string]any
	// SQLiteMaxConns is the size of the SQLite connection pool in file mode (WAL allows readers
	// beside the one writer); 0 keeps the plugin's single connection. For experiments: 4
	// connections made the benchmark about twice slower than one (BENCHMARKS.md).
	SQLiteMaxConns int
	// HistoryShards is the number of history shards (0: one). It is stored with the data: a
	// data directory made with another count does not start. For experiments (BENCHMARKS.md).
	HistoryShards int32
}

// Server is a running embedded Temporal server.
type Server struct {
	logger   *slog.Logger
	cfg      Config
	temporal temporal.Server
	conn     *grpc.ClientConn
	// serverLogLevel is the lowest level of the server's records passed on to logger.
	serverLogLevel slog.LevelVar

	ui     *uiserver.Server
	uiDone chan error // receives the UI's Start result when it returns

	stopOnce sync.Once
	stopErr  error
}

func (c Config) withDefaults() Config {
	c.Host = cmp.Or(c.Host, DefaultHost)
	c.FrontendPort = cmp.Or(c.FrontendPort, DefaultFrontendPort)
	c.UIPort = cmp.Or(c.UIPort, DefaultUIPort)
	c.Namespace = cmp.Or(c.Namespace, DefaultNamespace)
	c.SearchAttributes = maps.Clone(c.SearchAttributes) // the caller may change its map later
	c.DynamicConfig = maps.Clone(c.DynamicConfig)
	return c
}

// validate reports every invalid field at once. It expects defaults to be applied.
func (c Config) validate() error {
	var errs []error
	if net.ParseIP(c.Host) == nil {
		errs = append(errs, fmt.Errorf("invalid Host %q: not an IP address", c.Host))
	}
	if c.FrontendPort < 1 || c.FrontendPort+portSpan-1 > 65535 {
		errs = append(errs, fmt.Errorf("invalid FrontendPort %d: out of range 1..%d", c.FrontendPort, 65535-portSpan+1))
	}
	switch {
	case c.UIPort == UIDisabled:
	case c.UIPort < 1 || c.UIPort > 65535:
		errs = append(errs, fmt.Errorf("invalid UIPort %d: out of range 1..65535 (or -1 to disable the UI)", c.UIPort))
	case c.UIPort >= c.FrontendPort && c.UIPort < c.FrontendPort+portSpan:
		errs = append(errs, fmt.Errorf("invalid UIPort %d: collides with the server's ports %d..%d",
			c.UIPort, c.FrontendPort, c.FrontendPort+portSpan-1))
	}
	for _, name := range slices.Sorted(maps.Keys(c.SearchAttributes)) {
		typ := c.SearchAttributes[name]
		if name == "" {
			errs = append(errs, errors.New("invalid SearchAttributes: empty attribute name"))
		}
		if _, ok := enums.IndexedValueType_name[int32(typ)]; !ok || typ == enums.INDEXED_VALUE_TYPE_UNSPECIFIED {
			errs = append(errs, fmt.Errorf("invalid SearchAttributes: %q has invalid type %d", name, typ))
		}
	}
	return errors.Join(errs...)
}

// Start runs the server and, unless disabled, its Web UI. It returns once the frontend answers,
// the namespace exists and the search attributes are registered and usable. ctx bounds the
// start-up only (2 minutes when it has no deadline); the server runs until Stop.
func Start(ctx context.Context, logger *slog.Logger, cfg Config) (*Server, error) {
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, defaultStartTimeout)
		defer cancel()
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	cfg = cfg.withDefaults()
	if err := cfg.validate(); err != nil {
		return nil, fmt.Errorf("devtemporal config: %w", err)
	}
	started := time.Now()
	s := &Server{logger: logger, cfg: cfg}

	if err := s.checkPortsFree(); err != nil {
		return nil, err
	}
	sqlCfg, err := prepareDatabase(cfg)
	if err != nil {
		return nil, err
	}
	s.serverLogLevel.Set(levelServerDebug)
	serverLog := newServerLogger(logger.With(slog.String("component", "temporal_server")), &s.serverLogLevel)
	opts, err := serverOptions(cfg, sqlCfg, serverLog)
	if err != nil {
		return nil, err
	}
	s.temporal, err = temporal.NewServer(opts...)
	if err != nil {
		return nil, fmt.Errorf("creating temporal server: %w", err)
	}
	if err := s.temporal.Start(); err != nil {
		return nil, fmt.Errorf("starting temporal server: %w", err)
	}
	if err := s.finishStart(ctx); err != nil {
		if stopErr := s.Stop(); stopErr != nil {
			err = errors.Join(err, fmt.Errorf("stopping after failed start: %w", stopErr))
		}
		return nil, err
	}
	logger.InfoContext(ctx, "temporal_dev_server_started",
		slog.String("frontend_address", s.FrontendAddress()),
		slog.String("ui_address", s.UIAddress()),
		slog.String("namespace", cfg.Namespace),
		slog.String("database", databaseDescription(cfg)),
		slog.Duration("startup", time.Since(started)))
	return s, nil
}

// finishStart runs after the Temporal server started: UI, readiness and search attributes.
func (s *Server) finishStart(ctx context.Context) error {
	if s.cfg.UIPort != UIDisabled {
		s.startUI()
	}
	conn, err := grpc.NewClient(s.FrontendAddress(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		return fmt.Errorf("creating gRPC client for %s: %w", s.FrontendAddress(), err)
	}
	s.conn = conn
	if err := s.waitNamespace(ctx); err != nil {
		return err
	}
	if err := s.ensureSearchAttributes(ctx); err != nil {
		return err
	}
	if s.ui != nil {
		if err := s.waitUI(ctx); err != nil {
			return err
		}
	}
	return nil
}

// FrontendAddress is the gRPC address SDK clients dial, e.g. "127.0.0.1:7233".
func (s *Server) FrontendAddress() string {
	return net.JoinHostPort(s.cfg.Host, strconv.Itoa(s.cfg.FrontendPort))
}

// UIAddress is the Web UI's base URL, e.g. "http://127.0.0.1:8233", or "" when the UI is disabled.
func (s *Server) UIAddress() string {
	if s.cfg.UIPort == UIDisabled {
		return ""
	}
	return "http://" + net.JoinHostPort(s.cfg.Host, strconv.Itoa(s.cfg.UIPort))
}

// Namespace is the namespace the server was started with.
func (s *Server) Namespace() string { return s.cfg.Namespace }

// Stop stops the UI and the server. It is safe to call more than once.
func (s *Server) Stop() error {
	s.stopOnce.Do(func() {
		started := time.Now()
		// Shutting down makes every service warn about the connections it loses.
		s.serverLogLevel.Set(slog.LevelError)
		var errs []error
		if s.ui != nil {
			s.ui.Stop()
			if err := <-s.uiDone; err != nil {
				errs = append(errs, fmt.Errorf("web UI: %w", err))
			}
		}
		if s.conn != nil {
			if err := s.conn.Close(); err != nil {
				errs = append(errs, fmt.Errorf("closing gRPC client: %w", err))
			}
		}
		if err := s.temporal.Stop(); err != nil {
			errs = append(errs, fmt.Errorf("stopping temporal server: %w", err))
		}
		s.stopErr = errors.Join(errs...)
		s.logger.Info("temporal_dev_server_stopped",
			slog.String("frontend_address", s.FrontendAddress()),
			slog.Duration("shutdown", time.Since(started)))
	})
	return s.stopErr
}

// checkPortsFree fails early with a clear error when a port is taken. For the UI it is more than
// a nicety: the UI server exits the process when it cannot listen.
func (s *Server) checkPortsFree() error {
	ports := map[int]string{
		s.cfg.FrontendPort:     "frontend gRPC",
		s.cfg.FrontendPort + 1: "frontend HTTP",
		s.cfg.FrontendPort + 2: "history gRPC",
		s.cfg.FrontendPort + 3: "matching gRPC",
		s.cfg.FrontendPort + 4: "worker gRPC",
	}
	if s.cfg.UIPort != UIDisabled {
		ports[s.cfg.UIPort] = "web UI"
	}
	var errs []error
	for _, port := range slices.Sorted(maps.Keys(ports)) {
		role := ports[port]
		l, err := new(net.ListenConfig).Listen(context.Background(), "tcp", net.JoinHostPort(s.cfg.Host, strconv.Itoa(port)))
		if err != nil {
			errs = append(errs, fmt.Errorf("port %d (%s) is not free: %w", port, role, err))
			continue
		}
		if err := l.Close(); err != nil {
			errs = append(errs, fmt.Errorf("releasing port %d (%s): %w", port, role, err))
		}
	}
	return errors.Join(errs...)
}

// startUI runs the Web UI in a goroutine: its Start blocks until Stop.
func (s *Server) startUI() {
	s.ui = uiserver.NewServer(uiOptions(s.cfg, s.FrontendAddress()))
	s.uiDone = make(chan error, 1)
	go func() { s.uiDone <- s.ui.Start() }()
}

// waitUI waits until the UI answers its health check.
func (s *Server) waitUI(ctx context.Context) error {
	client := &http.Client{Timeout: time.Second}
	url := s.UIAddress() + "/healthz"
	return poll(ctx, func(ctx context.Context) error {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		if err != nil {
			return err
		}
		resp, err := client.Do(req)
		if err != nil {
			return err
		}
		_ = resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return fmt.Errorf("status %d", resp.StatusCode)
		}
		return nil
	}, "waiting for web UI at "+url)
}

// prepareDatabase returns the SQLite configuration, creating the schema in a new file, and the
// namespace (with the search attributes) if it is missing.
func prepareDatabase(cfg Config) (sqlConfig, error) {
	if cfg.DataDir == "" {
		sqlCfg := newSQLConfig("")
		return sqlCfg, createNamespace(sqlCfg, cfg)
	}
	if err := os.MkdirAll(cfg.DataDir, 0o750); err != nil {
		return nil, fmt.Errorf("creating data directory: %w", err)
	}
	path := filepath.Join(cfg.DataDir, DatabaseFile)
	sqlCfg := newSQLConfig(path)
	if cfg.SQLiteMaxConns > 1 {
		sqlCfg.MaxConns, sqlCfg.MaxIdleConns = cfg.SQLiteMaxConns, cfg.SQLiteMaxConns
		// Writers queue on the one write lock instead of failing with SQLITE_BUSY.
		sqlCfg.ConnectAttributes["busy_timeout"] = "10000"
	}
	if _, err := os.Stat(path); errors.Is(err, os.ErrNotExist) {
		if err := setupSchema(sqlCfg); err != nil {
			return nil, fmt.Errorf("creating schema in %s: %w", path, err)
		}
	} else if err != nil {
		return nil, fmt.Errorf("checking database file: %w", err)
	}
	return sqlCfg, createNamespace(sqlCfg, cfg)
}

func databaseDescription(cfg Config) string {
	if cfg.DataDir == "" {
		return "in-memory"
	}
	return filepath.Join(cfg.DataDir, DatabaseFile)
}

// poll calls try every pollInterval until it succeeds or ctx ends; the last error explains why.
func poll(ctx context.Context, try func(context.Context) error, what string) error {
	const pollInterval = 50 * time.Millisecond
	ticker := time.NewTicker(pollInterval)
	defer ticker.Stop()
	for {
		attemptCtx, cancel := context.WithTimeout(ctx, 2*time.Second)
		err := try(attemptCtx)
		cancel()
		if err == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%s: %w (last error: %w)", what, ctx.Err(), err)
		case <-ticker.C:
		}
	}
}
