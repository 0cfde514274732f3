package devtemporal

import (
	"fmt"
	"net"
	"strconv"
	"time"

	"github.com/google/uuid"
	uiconfig "github.com/temporalio/ui-server/v2/server/config"
	uiserveroptions "github.com/temporalio/ui-server/v2/server/server_options"
	"go.temporal.io/server/common/authorization"
	"go.temporal.io/server/common/cluster"
	"go.temporal.io/server/common/config"
	"go.temporal.io/server/common/dynamicconfig"
	"go.temporal.io/server/common/membership/static"
	sqliteplugin "go.temporal.io/server/common/persistence/sql/sqlplugin/sqlite"
	"go.temporal.io/server/common/primitives"
	sqliteschema "go.temporal.io/server/schema/sqlite"
	"go.temporal.io/server/temporal"
)

const (
	clusterName  = "active"
	storeName    = "sqlite-default"
	failoverIncr = 10

	// namespaceRefreshInterval is how often every service reloads namespaces from SQLite
	// (SQLite has no change notifications). It bounds how long a search attribute added at
	// run time takes to reach every service; the default is 2 s.
	namespaceRefreshInterval = 500 * time.Millisecond
)

// dynamicConfig holds every dynamic-config value the embedded server runs with. The defaults are
// tuned for a busy multi-host cluster; these favour latency on one small machine.
func dynamicConfig(overrides map[string]any) dynamicconfig.StaticClient {
	dc := dynamicconfig.StaticClient{
		// The history service's queue readers poll at most 20 times a second by default, so each
		// transfer task (dispatching a workflow or activity task to matching) waits up to 50 ms:
		// one workflow with 3 activities took 200 ms, at 1000 it takes ~25 ms. The visibility queue
		// (ListWorkflowExecutions sees a change) and the timer queue (timers, timeouts) get the
		// same treatment so that tests polling for a state do not wait on a rate limiter.
		dynamicconfig.TransferProcessorMaxPollRPS.Key():   1000,
		dynamicconfig.VisibilityProcessorMaxPollRPS.Key(): 1000,
		dynamicconfig.TimerProcessorMaxPollRPS.Key():      1000,

		// How long the history service holds a long poll (GetWorkflowExecutionHistory with
		// WaitNewEvent, which client.WorkflowRun.Get uses) before answering "no news"; default 20 s.
		// It also bounds a server bug that the fast queue readers above expose: the history event
		// notifier (service/history/events/notifier.go, dispatchHistoryEventNotification) gives each
		// waiting poll a one-slot channel and drops a notification when the slot is still full. When
		// a workflow's last few transactions land within a millisecond or two, the newest
		// notification (often the close) is dropped and run.Get waits out the whole interval.
		// Measured with 300 workflows of 3 activities: 1-6 % of runs stalled for exactly this
		// interval, none with a patched notifier that replaces the stale notification. 1 s keeps a
		// miss cheap; an idle long poll costs one extra round trip per second.
		dynamicconfig.HistoryLongPollExpirationInterval.Key(): time.Second,

		// Read search attribute definitions from the database on every read instead of a cache,
		// so attributes registered at start-up are usable at once.
		dynamicconfig.ForceSearchAttributesCacheRefreshOnRead.Key(): true,
		// Reload namespaces (and with them the search attribute aliases) every 500 ms, see
		// namespaceRefreshInterval.
		dynamicconfig.NamespaceCacheRefreshInterval.Key(): namespaceRefreshInterval,

		// Workflow Update, including waiting only for the "accepted" stage.
		dynamicconfig.FrontendEnableUpdateWorkflowExecution.Key():              true,
		dynamicconfig.FrontendEnableUpdateWorkflowExecutionAsyncAccepted.Key(): true,
		// Eager workflow start (first workflow task returned with the start call) and eager
		// activities (activity tasks returned with the workflow task completion): fewer round trips.
		dynamicconfig.EnableEagerWorkflowStart.Key():     true,
		dynamicconfig.EnableActivityEagerExecution.Key(): true,

		// Visibility API rate limit per namespace (default 10/s): the UI, tests polling
		// ListWorkflowExecutions and the operator CLI share it.
		dynamicconfig.FrontendMaxNamespaceVisibilityRPSPerInstance.Key(): 100,
		// Mutable-state cache, as the Temporal CLI's dev server sets it.
		dynamicconfig.HistoryCacheHostLevelMaxSize.Key(): 8192,

		// One partition per task queue instead of 4. Partitions spread a busy queue over
		// matching hosts; on one host they only add work: a task written to a partition without
		// a waiting poller is forwarded to the root partition, and pollers spread over four
		// partitions find fewer sync matches. Measured in BENCHMARKS.md.
		dynamicconfig.MatchingNumTaskqueueReadPartitions.Key():  1,
		dynamicconfig.MatchingNumTaskqueueWritePartitions.Key(): 1,
	}
	for k, v := range overrides {
		dc[dynamicconfig.MakeKey(k)] = v
	}
	return dc
}

// sqlConfig is the SQLite store configuration.
type sqlConfig = *config.SQL

// newSQLConfig returns the SQLite configuration for a database file, or for a fresh in-memory
// database when path is "".
func newSQLConfig(path string) sqlConfig {
	if path == "" {
		return &config.SQL{
			PluginName: sqliteplugin.PluginName,
			// A unique name: the plugin keeps in-memory databases for the life of the process.
			DatabaseName:      "devtemporal-" + uuid.NewString(),
			ConnectAttributes: map[string]string{"mode": "memory", "cache": "shared"},
		}
	}
	return &config.SQL{
		PluginName:   sqliteplugin.PluginName,
		DatabaseName: path,
		// Anything but the plugin's few URI parameters becomes a PRAGMA; a literal "_pragma" key
		// would be a syntax error. WAL with synchronous=normal: ~50 workflows/s instead of ~19.
		ConnectAttributes: map[string]string{
			"mode":         "rwc",
			"journal_mode": "wal",
			"synchronous":  "normal",
		},
	}
}

func setupSchema(sqlCfg sqlConfig) error {
	return sqliteschema.SetupSchema(sqlCfg)
}

// createNamespace creates cfg.Namespace with its search attributes if it does not exist yet.
// On an existing namespace it does nothing; ensureSearchAttributes registers attributes then.
func createNamespace(sqlCfg sqlConfig, cfg Config) error {
	ns, err := sqliteschema.NewNamespaceConfig(clusterName, cfg.Namespace, false, cfg.SearchAttributes)
	if err != nil {
		return fmt.Errorf("namespace %q: %w", cfg.Namespace, err)
	}
	if err := sqliteschema.CreateNamespaces(sqlCfg, ns); err != nil {
		return fmt.Errorf("creating namespace %q: %w", cfg.Namespace, err)
	}
	return nil
}

// serverOptions builds the options of temporal.NewServer.
func serverOptions(cfg Config, sqlCfg sqlConfig, serverLog serverLogger) ([]temporal.ServerOption, error) {
	conf := serverConfig(cfg, sqlCfg)
	authorizer, err := authorization.GetAuthorizerFromConfig(&conf.Global.Authorization)
	if err != nil {
		return nil, fmt.Errorf("creating authorizer: %w", err)
	}
	claimMapper, err := authorization.GetClaimMapperFromConfig(&conf.Global.Authorization, serverLog)
	if err != nil {
		return nil, fmt.Errorf("creating claim mapper: %w", err)
	}
	hosts := make(map[primitives.ServiceName]static.Hosts, len(conf.Services))
	for name, svc := range conf.Services {
		hosts[primitives.ServiceName(name)] = static.SingleLocalHost(hostPort(cfg.Host, svc.RPC.GRPCPort))
	}
	return []temporal.ServerOption{
		temporal.WithConfig(conf),
		temporal.ForServices(temporal.DefaultServices),
		temporal.WithStaticHosts(hosts),
		temporal.WithLogger(serverLog),
		temporal.WithAuthorizer(authorizer),
		temporal.WithClaimMapper(func(*config.Config) authorization.ClaimMapper { return claimMapper }),
		temporal.WithDynamicConfigClient(dynamicConfig(cfg.DynamicConfig)),
	}, nil
}

// serverConfig is the static server configuration; see the package doc for the port layout.
func serverConfig(cfg Config, sqlCfg sqlConfig) *config.Config {
	service := func(grpcPort, httpPort int) config.Service {
		var svc config.Service
		svc.RPC.GRPCPort = grpcPort
		svc.RPC.HTTPPort = httpPort // only the frontend serves HTTP
		svc.RPC.BindOnIP = cfg.Host
		return svc
	}
	frontend := hostPort(cfg.Host, cfg.FrontendPort)

	var conf config.Config
	conf.Global.Membership.MaxJoinDuration = 30 * time.Second
	conf.Global.Membership.BroadcastAddress = cfg.Host
	conf.Persistence.DefaultStore = storeName
	conf.Persistence.VisibilityStore = storeName
	// One history shard is plenty for one developer (measured in BENCHMARKS.md).
	conf.Persistence.NumHistoryShards = max(cfg.HistoryShards, 1)
	conf.Persistence.DataStores = map[string]config.DataStore{storeName: {SQL: sqlCfg}}
	conf.ClusterMetadata = &cluster.Config{
		EnableGlobalNamespace:    false,
		FailoverVersionIncrement: failoverIncr,
		MasterClusterName:        clusterName,
		CurrentClusterName:       clusterName,
		ClusterInformation: map[string]cluster.ClusterInformation{
			clusterName: {
				Enabled:                true,
				InitialFailoverVersion: 1,
				RPCAddress:             frontend,
				HTTPAddress:            hostPort(cfg.Host, cfg.FrontendPort+1),
				// Must be a UUID. Only used when the database is new: the server keeps the ID it
				// stored first.
				ClusterID: uuid.NewString(),
			},
		},
	}
	conf.DCRedirectionPolicy.Policy = "noop"
	conf.Services = map[string]config.Service{
		string(primitives.FrontendService): service(cfg.FrontendPort, cfg.FrontendPort+1),
		string(primitives.HistoryService):  service(cfg.FrontendPort+2, 0),
		string(primitives.MatchingService): service(cfg.FrontendPort+3, 0),
		string(primitives.WorkerService):   service(cfg.FrontendPort+4, 0),
	}
	conf.Archival.History.State = "disabled"
	conf.Archival.Visibility.State = "disabled"
	conf.NamespaceDefaults.Archival.History.State = "disabled"
	conf.NamespaceDefaults.Archival.Visibility.State = "disabled"
	conf.PublicClient.HostPort = frontend
	return &conf
}

// uiOptions configures the Web UI against the frontend.
func uiOptions(cfg Config, frontendAddress string) uiserveroptions.ServerOption {
	return uiserveroptions.WithConfigProvider(&uiconfig.Config{
		Host:                cfg.Host,
		Port:                cfg.UIPort,
		TemporalGRPCAddress: frontendAddress,
		EnableUI:            true,
		DefaultNamespace:    cfg.Namespace,
		Codec:               uiconfig.Codec{Endpoint: cfg.CodecEndpoint},
		// Plain HTTP on localhost: the CSRF cookie must not require HTTPS.
		CORS:             uiconfig.CORS{CookieInsecure: true},
		HideLogs:         true,
		DisableNewsFetch: true, // no internet access needed
	})
}

func hostPort(host string, port int) string {
	return net.JoinHostPort(host, strconv.Itoa(port))
}
