package workflows_test

import (
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/worker"

	"github.com/wabot/wabot/internal/logging"
	"github.com/wabot/wabot/workflows"
)

// TestReplayRecordedHistories replays histories recorded from real runs
// (internal/e2e TestRecordHistories -update-histories). A failure means a
// change to workflow code is not replay-safe for runs already in flight:
// guard it with workflow.GetVersion, or re-record if that is intended.
func TestReplayRecordedHistories(t *testing.T) {
	t.Parallel()
	files, err := filepath.Glob(filepath.Join("testdata", "*.json"))
	require.NoError(t, err)
	require.NotEmpty(t, files)
	r := worker.NewWorkflowReplayer()
	r.RegisterWorkflow(workflows.ChatWorkflow)
	r.RegisterWorkflow(workflows.MessageWorkflow)
	for _, f := range files {
		require.NoError(t, r.ReplayWorkflowHistoryFromJSONFile(logging.Temporal(logging.Discard()), f), f)
	}
}
