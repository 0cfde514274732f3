package devtemporal

import (
	"context"
	"fmt"
	"log/slog"
	"maps"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"slices"
	"sort"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.temporal.io/api/enums/v1"
	"go.temporal.io/api/operatorservice/v1"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/client"
	sdklog "go.temporal.io/sdk/log"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"
)

// The server under the race detector is several times slower; these bounds leave room for it.
const (
	startTimeout = 2 * time.Minute
	waitTimeout  = time.Minute
	pollInterval = 20 * time.Millisecond
)

// testActivities is a trivial activity set; the workflows call it through a nil *testActivities.
type testActivities struct{}

func (a *testActivities) Greet(_ context.Context, name string) (string, error) {
	return "hello " + name, nil
}

func greetWorkflow(ctx workflow.Context, name string) (string, error) {
	ctx = workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
		StartToCloseTimeout: 10 * time.Second,
		RetryPolicy:         &temporal.RetryPolicy{MaximumAttempts: 3},
	})
	var a *testActivities
	var greeting string
	err := workflow.ExecuteActivity(ctx, a.Greet, name).Get(ctx, &greeting)
	return greeting, err
}

// threeStepWorkflow runs three activities one after the other, like a message turn would.
func threeStepWorkflow(ctx workflow.Context, name string) (string, error) {
	ctx = workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
		StartToCloseTimeout: 10 * time.Second,
		RetryPolicy:         &temporal.RetryPolicy{MaximumAttempts: 3},
	})
	var a *testActivities
	for range 3 {
		if err := workflow.ExecuteActivity(ctx, a.Greet, name).Get(ctx, &name); err != nil {
			return "", err
		}
	}
	return name, nil
}

func TestServer(t *testing.T) {
	// One server per test binary: the subtests share it and run in order. The restart part
	// stops it and starts a second one on the same data directory.
	ctx := t.Context()
	chatAttr := temporal.NewSearchAttributeKeyKeyword("WabotChat")
	base := freePortBase(t)
	cfg := Config{
		DataDir:          t.TempDir(),
		FrontendPort:     base,
		UIPort:           base + portSpan,
		Namespace:        "wabot-test",
		SearchAttributes: map[string]enums.IndexedValueType{chatAttr.GetName(): enums.INDEXED_VALUE_TYPE_KEYWORD},
	}
	taskQueue := "devtemporal-test-" + uuid.NewString()
	srv, c, stop := setup(t, cfg, taskQueue)

	var doneID, doneRunID string
	t.Run("runs_a_workflow_with_an_activity", func(t *testing.T) {
		started := time.Now()
		run, err := c.ExecuteWorkflow(ctx, client.StartWorkflowOptions{
			ID: "greet-" + uuid.NewString(), TaskQueue: taskQueue, WorkflowExecutionTimeout: waitTimeout,
		}, greetWorkflow, "wabot")
		require.NoError(t, err)
		var got string
		require.NoError(t, run.Get(ctx, &got))
		require.Equal(t, "hello wabot", got)
		t.Logf("workflow took %v", time.Since(started))
		doneID, doneRunID = run.GetID(), run.GetRunID()
	})

	chat := "chat-" + uuid.NewString()
	var chatWorkflowID string
	t.Run("search_attribute_is_queryable", func(t *testing.T) {
		run, err := c.ExecuteWorkflow(ctx, client.StartWorkflowOptions{
			ID: "chat-" + uuid.NewString(), TaskQueue: taskQueue, WorkflowExecutionTimeout: waitTimeout,
			TypedSearchAttributes: temporal.NewSearchAttributes(chatAttr.ValueSet(chat)),
		}, greetWorkflow, "chat")
		require.NoError(t, err)
		require.NoError(t, run.Get(ctx, nil))
		chatWorkflowID = run.GetID()
		requireListed(t, c, srv.Namespace(), fmt.Sprintf("%s = '%s'", chatAttr.GetName(), chat), chatWorkflowID)
	})

	t.Run("ui_answers", func(t *testing.T) {
		for _, path := range []string{"/", "/healthz"} {
			req, err := http.NewRequestWithContext(ctx, http.MethodGet, srv.UIAddress()+path, nil)
			require.NoError(t, err)
			resp, err := http.DefaultClient.Do(req)
			require.NoError(t, err)
			require.NoError(t, resp.Body.Close())
			require.Equal(t, http.StatusOK, resp.StatusCode, "GET %s", path)
		}
	})

	stop()
	require.NoError(t, srv.Stop(), "second Stop")

	// Same database, one more search attribute: it must be added to the existing namespace.
	priorityAttr := temporal.NewSearchAttributeKeyInt64("WabotPriority")
	cfg.SearchAttributes = maps.Clone(cfg.SearchAttributes)
	cfg.SearchAttributes[priorityAttr.GetName()] = enums.INDEXED_VALUE_TYPE_INT
	srv, c, _ = setup(t, cfg, taskQueue)

	t.Run("restart_keeps_completed_workflow", func(t *testing.T) {
		require.NotEmpty(t, doneID, "first subtest did not run")
		desc, err := c.DescribeWorkflowExecution(ctx, doneID, doneRunID)
		require.NoError(t, err)
		require.Equal(t, enums.WORKFLOW_EXECUTION_STATUS_COMPLETED, desc.GetWorkflowExecutionInfo().GetStatus())
	})

	t.Run("restart_keeps_search_attributes", func(t *testing.T) {
		listed, err := c.OperatorService().ListSearchAttributes(ctx,
			&operatorservice.ListSearchAttributesRequest{Namespace: srv.Namespace()})
		require.NoError(t, err)
		require.Equal(t, enums.INDEXED_VALUE_TYPE_KEYWORD, listed.GetCustomAttributes()[chatAttr.GetName()])
		require.Equal(t, enums.INDEXED_VALUE_TYPE_INT, listed.GetCustomAttributes()[priorityAttr.GetName()])
		require.NotEmpty(t, chatWorkflowID, "search attribute subtest did not run")
		requireListed(t, c, srv.Namespace(), fmt.Sprintf("%s = '%s'", chatAttr.GetName(), chat), chatWorkflowID)

		run, err := c.ExecuteWorkflow(ctx, client.StartWorkflowOptions{
			ID: "priority-" + uuid.NewString(), TaskQueue: taskQueue, WorkflowExecutionTimeout: waitTimeout,
			TypedSearchAttributes: temporal.NewSearchAttributes(chatAttr.ValueSet(chat), priorityAttr.ValueSet(7)),
		}, greetWorkflow, "priority")
		require.NoError(t, err)
		require.NoError(t, run.Get(ctx, nil))
		requireListed(t, c, srv.Namespace(),
			fmt.Sprintf("%s = '%s' AND %s = 7", chatAttr.GetName(), chat, priorityAttr.GetName()), run.GetID())
	})
}

func TestConfigValidate(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		cfg  Config
		want string // substring of the error; "" = valid
	}{
		{name: "defaults", cfg: Config{}},
		{name: "ui_disabled", cfg: Config{UIPort: UIDisabled}},
		{name: "bad_host", cfg: Config{Host: "localhost"}, want: "invalid Host"},
		{name: "frontend_too_high", cfg: Config{FrontendPort: 65534}, want: "invalid FrontendPort"},
		{name: "ui_in_server_range", cfg: Config{FrontendPort: 7000, UIPort: 7003}, want: "invalid UIPort"},
		{
			name: "bad_attribute_type",
			cfg:  Config{SearchAttributes: map[string]enums.IndexedValueType{"X": enums.INDEXED_VALUE_TYPE_UNSPECIFIED}},
			want: "invalid SearchAttributes",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			err := tt.cfg.withDefaults().validate()
			if tt.want == "" {
				require.NoError(t, err)
				return
			}
			require.ErrorContains(t, err, tt.want)
		})
	}
}

func TestMissingSearchAttributes(t *testing.T) {
	t.Parallel()
	listed := &operatorservice.ListSearchAttributesResponse{
		CustomAttributes: map[string]enums.IndexedValueType{"WabotChat": enums.INDEXED_VALUE_TYPE_KEYWORD},
		SystemAttributes: map[string]enums.IndexedValueType{"WorkflowId": enums.INDEXED_VALUE_TYPE_KEYWORD},
	}
	tests := []struct {
		name        string
		want        map[string]enums.IndexedValueType
		wantMissing map[string]enums.IndexedValueType
		wantErr     string
	}{
		{
			name:        "present_and_missing",
			want:        map[string]enums.IndexedValueType{"WabotChat": enums.INDEXED_VALUE_TYPE_KEYWORD, "N": enums.INDEXED_VALUE_TYPE_INT},
			wantMissing: map[string]enums.IndexedValueType{"N": enums.INDEXED_VALUE_TYPE_INT},
		},
		{
			name:    "type_conflict",
			want:    map[string]enums.IndexedValueType{"WabotChat": enums.INDEXED_VALUE_TYPE_INT},
			wantErr: "WabotChat: exists as Keyword, configured as Int",
		},
		{
			name:    "system_name",
			want:    map[string]enums.IndexedValueType{"WorkflowId": enums.INDEXED_VALUE_TYPE_KEYWORD},
			wantErr: "WorkflowId: the name is a system attribute",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			missing, err := missingSearchAttributes(tt.want, listed)
			if tt.wantErr != "" {
				require.ErrorContains(t, err, tt.wantErr)
				return
			}
			require.NoError(t, err)
			require.Equal(t, tt.wantMissing, missing)
		})
	}
}

func TestSnakeKey(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{
		"wf-id": "wf_id", "shardId": "shard_id", "logging-call-at": "logging_call_at", "error": "error",
		"wf-namespace-id": "wf_namespace_id", "TaskQueueName": "task_queue_name",
	} {
		require.Equal(t, want, snakeKey(in), in)
	}
}

// BenchmarkOneWorkflowLatency measures one workflow with three activities at a time, end to end
// (start, worker, run.Get), against a file-backed server. Compare dynamic-config changes with it.
func BenchmarkOneWorkflowLatency(b *testing.B) {
	// Sub-benchmarks make this outer function run once, so the server starts once.
	taskQueue := "devtemporal-bench-" + uuid.NewString()
	_, c, _ := setup(b, Config{DataDir: b.TempDir(), FrontendPort: freePortBase(b), UIPort: UIDisabled}, taskQueue)

	for _, eager := range []bool{false, true} {
		b.Run("eager_start="+strconv.FormatBool(eager), func(b *testing.B) {
			var took []time.Duration
			for b.Loop() {
				started := time.Now()
				run, err := c.ExecuteWorkflow(b.Context(), client.StartWorkflowOptions{
					ID: "bench-" + uuid.NewString(), TaskQueue: taskQueue, EnableEagerStart: eager,
				}, threeStepWorkflow, "x")
				if err != nil {
					b.Fatal(err)
				}
				if err := run.Get(b.Context(), nil); err != nil {
					b.Fatal(err)
				}
				took = append(took, time.Since(started))
			}
			reportLatencies(b, took)
		})
	}
}

// reportLatencies adds the median, the 99th percentile, the maximum and the number of runs that
// took over a second (a missed long-poll notification, see dynamicConfig) to the benchmark result.
func reportLatencies(b *testing.B, took []time.Duration) {
	if len(took) == 0 {
		return
	}
	slices.Sort(took)
	ms := func(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
	b.ReportMetric(ms(took[len(took)/2]), "p50-ms")
	b.ReportMetric(ms(took[len(took)*99/100]), "p99-ms")
	b.ReportMetric(ms(took[len(took)-1]), "max-ms")
	slow := len(took) - sort.Search(len(took), func(i int) bool { return took[i] > time.Second })
	b.ReportMetric(float64(slow), "runs>1s")
}

// setup starts a server for cfg, a client and a worker for taskQueue. stop (also run when the
// test ends) stops them in order: worker, client, server.
func setup(tb testing.TB, cfg Config, taskQueue string) (*Server, client.Client, func()) {
	tb.Helper()
	ctx, cancel := context.WithTimeout(tb.Context(), startTimeout)
	defer cancel()
	started := time.Now()
	srv, err := Start(ctx, testLogger(), cfg)
	require.NoError(tb, err)
	tb.Logf("server on %s started in %v", srv.FrontendAddress(), time.Since(started))

	c, err := client.Dial(client.Options{
		HostPort:  srv.FrontendAddress(),
		Namespace: srv.Namespace(),
		Logger:    sdklog.NewStructuredLogger(testLogger()),
	})
	if err != nil {
		require.NoError(tb, srv.Stop())
		require.NoError(tb, err)
	}
	w := worker.New(c, taskQueue, worker.Options{})
	w.RegisterWorkflow(greetWorkflow)
	w.RegisterWorkflow(threeStepWorkflow)
	w.RegisterActivity(&testActivities{})

	stop := sync.OnceFunc(func() {
		w.Stop()
		c.Close()
		stopped := time.Now()
		require.NoError(tb, srv.Stop())
		tb.Logf("server on %s stopped in %v", srv.FrontendAddress(), time.Since(stopped))
	})
	tb.Cleanup(stop)
	require.NoError(tb, w.Start())
	return srv, c, stop
}

// requireListed waits until the visibility query finds the workflow.
func requireListed(t *testing.T, c client.Client, namespace, query, workflowID string) {
	t.Helper()
	require.EventuallyWithT(t, func(ct *assert.CollectT) {
		resp, err := c.ListWorkflow(t.Context(), &workflowservice.ListWorkflowExecutionsRequest{
			Namespace: namespace, Query: query,
		})
		require.NoError(ct, err)
		var ids []string
		for _, e := range resp.GetExecutions() {
			ids = append(ids, e.GetExecution().GetWorkflowId())
		}
		require.Contains(ct, ids, workflowID)
	}, waitTimeout, pollInterval, "query %q", query)
}

// testLogger shows warnings and errors only: server and SDK are chatty below that.
func testLogger() *slog.Logger {
	return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
}

// freePortBase returns a random port p with p..p+portSpan (the server's ports and a UI port) free.
func freePortBase(tb testing.TB) int {
	tb.Helper()
	for range 100 {
		base := 20000 + rand.IntN(30000)
		if portsFree(base, portSpan+1) {
			return base
		}
	}
	tb.Fatal("no free port range found")
	return 0
}

func portsFree(base, n int) bool {
	for port := base; port < base+n; port++ {
		l, err := net.Listen("tcp", net.JoinHostPort(DefaultHost, strconv.Itoa(port)))
		if err != nil {
			return false
		}
		_ = l.Close()
	}
	return true
}
