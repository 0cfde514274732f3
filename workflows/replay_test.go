package workflows_test

import (
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/worker"

	"github.com/wabot/wabot/internal/logging"
	"github.com/wabot/wabot/internal/payloadcodec"
	"github.com/wabot/wabot/internal/secret"
	"github.com/wabot/wabot/workflows"
)

// e2eTestPayloadKeys is internal/e2e's TestPayloadKeys (a test key).
const e2eTestPayloadKeys = "test:d2Fib3QtcmVwbGF5LXRlc3Qta2V5LTMyLWJ5dGVzISE="

// TestReplayRecordedHistories replays histories recorded from real runs
// (internal/e2e TestRecordHistories -update-histories). A failure means a
// change to workflow code is not replay-safe for runs already in flight:
// guard it with workflow.GetVersion, or re-record if that is intended.
func TestReplayRecordedHistories(t *testing.T) {
	t.Parallel()
	files, err := filepath.Glob(filepath.Join("testdata", "*.json"))
	require.NoError(t, err)
	require.NotEmpty(t, files)
	// The histories were recorded with payload encryption on (the e2e
	// harness's fixed test key), as production runs are: replay decrypts
	// them with the same key.
	dc, encrypted, err := payloadcodec.DataConverter(payloadcodec.Config{Keys: secret.New(e2eTestPayloadKeys)})
	require.NoError(t, err)
	require.True(t, encrypted)
	r, err := worker.NewWorkflowReplayerWithOptions(worker.WorkflowReplayerOptions{DataConverter: dc})
	require.NoError(t, err)
	r.RegisterWorkflow(workflows.ChatWorkflow)
	r.RegisterWorkflow(workflows.MessageWorkflow)
	r.RegisterWorkflow(workflows.RetentionSweepWorkflow)
	r.RegisterWorkflow(workflows.AuditVerifyWorkflow)
	r.RegisterWorkflow(workflows.ExportWorkflow)
	r.RegisterWorkflow(workflows.WipeWorkflow)
	r.RegisterWorkflow(workflows.DeleteRunWorkflow)
	for _, f := range files {
		require.NoError(t, r.ReplayWorkflowHistoryFromJSONFile(logging.Temporal(logging.Discard()), f), f)
	}
}
