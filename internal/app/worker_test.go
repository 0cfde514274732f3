package app_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/wabot/wabot/internal/app"
	"github.com/wabot/wabot/internal/config"
)

// TEMPORAL_POLLERS reaches the AI worker's options: a count sets both kinds
// of poller, -1 switches both to the SDK's autoscaling, 0 leaves the SDK's
// defaults.
func TestAIWorkerOptionsPollers(t *testing.T) {
	t.Parallel()
	load := func(pollers string) config.Temporal {
		cfg, err := config.Load([]string{"TEMPORAL_POLLERS=" + pollers, "TEMPORAL_WORKER_CONCURRENCY=7"})
		require.NoError(t, err)
		return cfg.Temporal
	}
	opts := app.AIWorkerOptions(load("0"))
	require.Zero(t, opts.MaxConcurrentWorkflowTaskPollers)
	require.Nil(t, opts.WorkflowTaskPollerBehavior)
	require.Equal(t, 7, opts.MaxConcurrentActivityExecutionSize)

	opts = app.AIWorkerOptions(load("6"))
	require.Equal(t, 6, opts.MaxConcurrentWorkflowTaskPollers)
	require.Equal(t, 6, opts.MaxConcurrentActivityTaskPollers)

	opts = app.AIWorkerOptions(load("-1"))
	require.Zero(t, opts.MaxConcurrentWorkflowTaskPollers)
	require.NotNil(t, opts.WorkflowTaskPollerBehavior)
	require.NotNil(t, opts.ActivityTaskPollerBehavior)
}
