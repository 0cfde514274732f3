package e2e_test

import (
	"archive/zip"
	"bytes"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"

	"github.com/wabot/wabot/internal/app"
	"github.com/wabot/wabot/internal/audit"
	"github.com/wabot/wabot/internal/operator"
	"github.com/wabot/wabot/internal/testkit"
	"github.com/wabot/wabot/workflows"
)

// The README's runbook, through `wabot admin` (internal/operator): export
// with a progress bar, find a failed run by command, retry it, trigger and
// pause a schedule, wipe.
func TestOperatorRunbook(t *testing.T) {
	t.Parallel()
	h := setup(t, options{inProcessWorker: true})
	const user = "4915100000051"
	h.say(user, "E2EOPS00001", "operators may export this")

	var out bytes.Buffer
	path := filepath.Join(t.TempDir(), "export.zip")
	res, err := operator.Export(h.ctx, h.deps, "+"+user, path, &out)
	require.NoError(t, err)
	require.Contains(t, out.String(), "[##############################]")
	require.Contains(t, out.String(), "wrote "+path)
	zr, err := zip.OpenReader(path)
	require.NoError(t, err)
	require.NoError(t, zr.Close())
	require.NotZero(t, res.Rows)

	// A broken audit chain fails the verification run: an alert operators find.
	id, run, repair := h.failedAuditRun()
	_, err = operator.VerifyAudit(h.ctx, h.deps, &out)
	require.Error(t, err)
	metrics := httptest.NewServer(app.AdminHandlerFor(h.deps))
	t.Cleanup(metrics.Close)
	require.Contains(t, scrape(t, metrics.URL), "wabot_audit_chain_broken 1")

	testkit.WaitFor(t, waitReply, func() bool {
		out.Reset()
		runs, err := operator.FailedRuns(h.ctx, h.deps, operator.RunFilter{Command: "audit_verify"}, &out)
		return err == nil && slices.ContainsFunc(runs, func(r operator.Run) bool { return r.WorkflowID == id })
	}, "the failed run is not listed")
	require.Contains(t, out.String(), "Failed")

	repair()
	newRun, err := operator.Retry(h.ctx, h.deps, id, "", &out)
	require.NoError(t, err)
	require.NotEqual(t, run.GetRunID(), newRun)
	require.NoError(t, h.deps.Temporal.GetWorkflow(h.ctx, id, newRun).Get(h.ctx, nil), "the retried run passes")
	require.Contains(t, scrape(t, metrics.URL), "wabot_audit_chain_broken 0")

	// Schedules: trigger and pause.
	require.NoError(t, app.EnsureSchedules(h.ctx, h.deps))
	for _, name := range []string{workflows.ScheduleRetention, workflows.ScheduleAuditVerify} {
		sid := app.ScheduleID(name, h.cfg.Temporal.TaskQueue)
		t.Cleanup(func() { _ = h.deps.Temporal.ScheduleClient().GetHandle(t.Context(), sid).Delete(t.Context()) })
	}
	require.NoError(t, operator.Schedule(h.ctx, h.deps, "pause", "retention", &out))
	desc, err := h.deps.Temporal.ScheduleClient().GetHandle(h.ctx, app.ScheduleID(workflows.ScheduleRetention, h.cfg.Temporal.TaskQueue)).Describe(h.ctx)
	require.NoError(t, err)
	require.True(t, desc.Schedule.State.Paused)
	require.NoError(t, operator.Schedule(h.ctx, h.deps, "trigger", "retention", &out))
	testkit.WaitFor(t, waitReply, func() bool {
		return h.visible(fmt.Sprintf(`WabotCommand = "retention_sweep" AND WorkflowId STARTS_WITH %q AND ExecutionStatus = "Completed"`,
			app.ScheduleID(workflows.ScheduleRetention, h.cfg.Temporal.TaskQueue))) > 0
	}, "the triggered sweep did not complete")

	st, err := operator.Wipe(h.ctx, h.deps, user, &out)
	require.NoError(t, err)
	require.Equal(t, "done", st.Stage)
	for table, n := range h.rowsAbout(user) {
		require.Zero(t, n, table)
	}
	require.Equal(t, enums.WORKFLOW_EXECUTION_STATUS_COMPLETED, h.waitClosed(workflows.WipeWorkflowID("admin", h.deps.Hasher.Hash(jid(user))), time.Minute))
}

func scrape(t *testing.T, base string) string {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, base+"/metrics", nil)
	require.NoError(t, err)
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer func() { _ = resp.Body.Close() }()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return string(b)
}

// failedAuditRun breaks the audit chain and runs an AuditVerifyWorkflow,
// which fails. repair restores the chain.
func (h *harness) failedAuditRun() (id string, run client.WorkflowRun, repair func()) {
	t := h.t
	t.Helper()
	rec, err := audit.New(h.pool, nil).Append(h.ctx, audit.Entry{Actor: "system", Action: "test.entry", Outcome: audit.OutcomeOK})
	require.NoError(t, err)
	tamper := func(outcome string) {
		t.Helper()
		_, err := h.pool.Exec(h.ctx, `ALTER TABLE audit_log DISABLE TRIGGER audit_log_no_update_delete;
UPDATE audit_log SET outcome = '`+outcome+`' WHERE seq = `+fmt.Sprint(rec.Seq)+`;
ALTER TABLE audit_log ENABLE TRIGGER audit_log_no_update_delete`)
		require.NoError(t, err)
	}
	tamper("edited")
	id = testkit.Name("audit-verify-")
	run, err = h.deps.Temporal.ExecuteWorkflow(h.ctx, client.StartWorkflowOptions{
		ID: id, TaskQueue: h.cfg.Temporal.TaskQueue,
		TypedSearchAttributes: temporal.NewSearchAttributes(workflows.SACommand.ValueSet("audit_verify")),
	}, workflows.AuditVerifyWorkflow)
	require.NoError(t, err)
	require.ErrorContains(t, run.Get(h.ctx, nil), "audit chain broken")
	return id, run, func() { tamper(audit.OutcomeOK) }
}
