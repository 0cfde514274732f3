package e2e_test

import (
	"fmt"
	"net/http/httptest"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	commonpb "go.temporal.io/api/common/v1"
	"go.temporal.io/api/enums/v1"
	historypb "go.temporal.io/api/history/v1"
	"google.golang.org/protobuf/encoding/protojson"

	"github.com/wabot/wabot/internal/app"
	"github.com/wabot/wabot/internal/payloadcodec"
	"github.com/wabot/wabot/internal/testkit"
	"github.com/wabot/wabot/workflows"
)

// temporalCLI is the official Temporal CLI: $WABOT_TEMPORAL_CLI or `temporal`
// on the PATH (go install github.com/temporalio/cli/cmd/temporal@v1.5.1).
func temporalCLI(t *testing.T) string {
	t.Helper()
	if p := os.Getenv("WABOT_TEMPORAL_CLI"); p != "" {
		return p
	}
	p, err := exec.LookPath("temporal")
	if err != nil {
		t.Skip("the temporal CLI is not installed; the runbook is tested through wabot admin in TestOperatorRunbook")
	}
	return p
}

// The README's runbook with the `temporal` CLI: find runs by chat and by
// command, show a history (decrypted through the codec endpoint only with
// the token), reset a failed run, pause and trigger a schedule.
func TestRunbookWithTemporalCLI(t *testing.T) {
	t.Parallel()
	cli := temporalCLI(t)
	h := setup(t, options{inProcessWorker: true})
	run := func(args ...string) string {
		t.Helper()
		cmd := exec.CommandContext(h.ctx, cli, append(args, "--address", h.cfg.Temporal.Address, "--namespace", h.cfg.Temporal.Namespace)...)
		out, err := cmd.CombinedOutput()
		require.NoError(t, err, "temporal %s:\n%s", strings.Join(args, " "), out)
		return string(out)
	}
	const user, text = "4915100000061", "runbook secret text"
	h.say(user, "E2ECLI00001", text)
	msgID := h.messageWorkflowID(user, "E2ECLI00001")
	hash := h.deps.Hasher.Hash(jid(user))

	testkit.WaitFor(t, waitReply, func() bool {
		return strings.Contains(run("workflow", "list", "-q", fmt.Sprintf("WabotChat=%q", hash)), msgID)
	}, "the chat's runs are not listed")

	codec := httptest.NewServer(app.AdminHandlerFor(h.deps))
	t.Cleanup(codec.Close)
	input := func(out string) *commonpb.Payload {
		t.Helper()
		var hist historypb.History
		require.NoError(t, protojson.UnmarshalOptions{DiscardUnknown: true}.Unmarshal([]byte(out), &hist))
		return hist.GetEvents()[0].GetWorkflowExecutionStartedEventAttributes().GetInput().GetPayloads()[0]
	}
	plain := input(run("workflow", "show", "-w", msgID, "--output", "json"))
	require.Equal(t, payloadcodec.Encoding, string(plain.GetMetadata()["encoding"]), "without the codec: ciphertext")
	require.NotContains(t, string(plain.GetData()), text)
	decoded := input(run("workflow", "show", "-w", msgID, "--output", "json",
		"--codec-endpoint", codec.URL+payloadcodec.Path, "--codec-auth", "Bearer "+testCodecToken))
	require.Contains(t, string(decoded.GetData()), text)

	id, first, repair := h.failedAuditRun()
	testkit.WaitFor(t, waitReply, func() bool {
		return strings.Contains(run("workflow", "list", "-q", fmt.Sprintf(`ExecutionStatus="Failed" AND WabotCommand="audit_verify" AND WorkflowId=%q`, id)), id)
	}, "the failed run is not listed")
	repair()
	run("workflow", "reset", "-w", id, "--type", "FirstWorkflowTask", "--reason", "runbook test")
	testkit.WaitFor(t, waitReply, func() bool {
		d, err := h.deps.Temporal.DescribeWorkflowExecution(h.ctx, id, "")
		return err == nil && d.GetWorkflowExecutionInfo().GetExecution().GetRunId() != first.GetRunID() &&
			d.GetWorkflowExecutionInfo().GetStatus() == enums.WORKFLOW_EXECUTION_STATUS_COMPLETED
	}, "the reset run did not complete")

	require.NoError(t, app.EnsureSchedules(h.ctx, h.deps))
	sweep := app.ScheduleID(workflows.ScheduleRetention, h.cfg.Temporal.TaskQueue)
	for _, sid := range []string{sweep, app.ScheduleID(workflows.ScheduleAuditVerify, h.cfg.Temporal.TaskQueue)} {
		t.Cleanup(func() { _ = h.deps.Temporal.ScheduleClient().GetHandle(t.Context(), sid).Delete(t.Context()) })
	}
	run("schedule", "toggle", "--schedule-id", sweep, "--pause", "--reason", "runbook test")
	desc, err := h.deps.Temporal.ScheduleClient().GetHandle(h.ctx, sweep).Describe(h.ctx)
	require.NoError(t, err)
	require.True(t, desc.Schedule.State.Paused)
	run("schedule", "trigger", "--schedule-id", sweep)
	testkit.WaitFor(t, time.Minute, func() bool {
		return strings.Contains(run("workflow", "list", "-q", fmt.Sprintf(`WabotCommand="retention_sweep" AND WorkflowId STARTS_WITH %q AND ExecutionStatus="Completed"`, sweep)), sweep)
	}, "the triggered sweep did not complete")
}
