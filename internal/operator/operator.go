// Package operator holds the operator tasks behind `wabot admin`: exporting
// and wiping a person's data, listing failed runs and retrying them,
// verifying the audit chain and triggering or pausing the compliance
// schedules. Each task takes the process's connections (app.Deps) and writes
// human-readable progress to an io.Writer.
package operator

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/google/uuid"
	commonpb "go.temporal.io/api/common/v1"
	"go.temporal.io/api/enums/v1"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"

	"github.com/wabot/wabot/internal/app"
	"github.com/wabot/wabot/internal/audit"
	"github.com/wabot/wabot/workflows"
)

// JID turns a phone number ("+49 151 …") or a JID into a user JID.
func JID(number string) (string, error) {
	if strings.Contains(number, "@") {
		return number, nil
	}
	var b strings.Builder
	for _, r := range number {
		switch {
		case r >= '0' && r <= '9':
			b.WriteRune(r)
		case r == '+' || r == ' ' || r == '-' || r == '(' || r == ')':
		default:
			return "", fmt.Errorf("%q is not a phone number", number)
		}
	}
	if b.Len() < 5 || b.Len() > 15 {
		return "", fmt.Errorf("%q is not a phone number", number)
	}
	return b.String() + "@s.whatsapp.net", nil
}

// pollEvery is how often progress is polled.
const pollEvery = 200 * time.Millisecond

// Export runs an ExportWorkflow for number, shows a progress bar on out
// while it runs (polling the workflow's progress query) and writes the ZIP
// to path (mode 0600). It returns the result.
func Export(ctx context.Context, d *app.Deps, number, path string, out io.Writer) (workflows.ExportResult, error) {
	jid, err := JID(number)
	if err != nil {
		return workflows.ExportResult{}, err
	}
	hash := d.Hasher.Hash(jid)
	id := "export-admin-" + hash + "-" + uuid.NewString()[:8]
	run, err := d.Temporal.ExecuteWorkflow(ctx, client.StartWorkflowOptions{
		ID: id, TaskQueue: d.Config.Temporal.TaskQueue,
		TypedSearchAttributes: temporal.NewSearchAttributes(workflows.SAChat.ValueSet(hash), workflows.SACommand.ValueSet("export")),
	}, workflows.ExportWorkflow, workflows.ExportRequest{ExportID: id, Subject: jid, SubjectHash: hash, Actor: audit.ActorOperator})
	if err != nil {
		return workflows.ExportResult{}, fmt.Errorf("starting export: %w", err)
	}
	done := make(chan error, 1)
	var res workflows.ExportResult
	go func() { done <- run.Get(ctx, &res) }()
	tick := time.NewTicker(pollEvery)
	defer tick.Stop()
	for {
		select {
		case err := <-done:
			if err != nil {
				return res, fmt.Errorf("export %s failed: %w", id, err)
			}
			drawBar(out, workflows.ExportProgress{Stage: "done", Done: res.Sections, Total: res.Sections})
			fmt.Fprintln(out)
			zip, err := d.Store.ExportZip(ctx, id)
			if err != nil {
				return res, err
			}
			if err := os.WriteFile(path, zip, 0o600); err != nil {
				return res, fmt.Errorf("writing %s: %w", path, err)
			}
			fmt.Fprintf(out, "wrote %s (%d bytes, %d sections, %d records)\n", path, len(zip), res.Sections, res.Rows)
			return res, nil
		case <-tick.C:
			v, err := d.Temporal.QueryWorkflow(ctx, id, run.GetRunID(), workflows.QueryExportProgress)
			var p workflows.ExportProgress
			if err == nil && v.Get(&p) == nil {
				drawBar(out, p)
			}
		}
	}
}

// drawBar redraws a one-line progress bar.
func drawBar(out io.Writer, p workflows.ExportProgress) {
	const width = 30
	filled := 0
	if p.Total > 0 {
		filled = p.Done * width / p.Total
	}
	fmt.Fprintf(out, "\r[%s%s] %d/%d %-10s", strings.Repeat("#", filled), strings.Repeat(" ", width-filled), p.Done, p.Total, p.Stage)
}

// Wipe runs a confirmed WipeWorkflow for number (the operator confirmed on
// the command line) and waits for it.
func Wipe(ctx context.Context, d *app.Deps, number string, out io.Writer) (workflows.WipeStatus, error) {
	jid, err := JID(number)
	if err != nil {
		return workflows.WipeStatus{}, err
	}
	id := workflows.WipeWorkflowID("admin", d.Hasher.Hash(jid))
	req := workflows.WipeRequest{Subject: jid, Confirmed: true, Actor: audit.ActorOperator}
	if d.Config.WhatsApp.Enabled { // its gateway's whatsmeow store forgets the person too
		req.ForgetOn = []string{d.Config.WhatsApp.Account}
	}
	run, err := d.Temporal.ExecuteWorkflow(ctx, client.StartWorkflowOptions{
		ID: id, TaskQueue: d.Config.Temporal.TaskQueue,
		WorkflowIDConflictPolicy: enums.WORKFLOW_ID_CONFLICT_POLICY_USE_EXISTING,
		TypedSearchAttributes:    temporal.NewSearchAttributes(workflows.SACommand.ValueSet("wipe")),
	}, workflows.WipeWorkflow, req)
	if err != nil {
		return workflows.WipeStatus{}, fmt.Errorf("starting wipe: %w", err)
	}
	fmt.Fprintf(out, "wipe %s started; waiting…\n", id)
	var st workflows.WipeStatus
	if err := run.Get(ctx, &st); err != nil {
		return st, fmt.Errorf("wipe %s failed: %w", id, err)
	}
	fmt.Fprintf(out, "wiped: %d rows, %d redis keys, %d workflow executions, %d whatsapp store records (audit entry #%d)\n",
		st.Rows, st.RedisKeys, st.Executions, st.TransportRecords, st.AuditSeq)
	return st, nil
}

// Run is one workflow run as `runs failed` lists it.
type Run struct {
	WorkflowID string
	RunID      string
	Type       string
	Status     string
	CloseTime  time.Time
}

// RunFilter narrows `runs failed`.
type RunFilter struct {
	Number  string // the person's number: their chat hash
	Kind    string // WabotKind
	Command string // WabotCommand
}

// FailedRunsQuery is the visibility query of failed or timed-out runs
// matching f (the same string works in the Web UI and `temporal workflow list -q`).
func FailedRunsQuery(d *app.Deps, f RunFilter) (string, error) {
	q := `ExecutionStatus IN ("Failed", "TimedOut")`
	if f.Number != "" {
		jid, err := JID(f.Number)
		if err != nil {
			return "", err
		}
		q += fmt.Sprintf(` AND WabotChat = %q`, d.Hasher.Hash(jid))
	}
	if f.Kind != "" {
		q += fmt.Sprintf(` AND WabotKind = %q`, f.Kind)
	}
	if f.Command != "" {
		q += fmt.Sprintf(` AND WabotCommand = %q`, f.Command)
	}
	return q, nil
}

// FailedRuns lists failed or timed-out runs matching f, newest first.
func FailedRuns(ctx context.Context, d *app.Deps, f RunFilter, out io.Writer) ([]Run, error) {
	q, err := FailedRunsQuery(d, f)
	if err != nil {
		return nil, err
	}
	resp, err := d.Temporal.ListWorkflow(ctx, &workflowservice.ListWorkflowExecutionsRequest{
		Namespace: d.Config.Temporal.Namespace, Query: q, PageSize: 100,
	})
	if err != nil {
		return nil, fmt.Errorf("listing failed runs: %w", err)
	}
	var runs []Run
	for _, e := range resp.GetExecutions() {
		r := Run{WorkflowID: e.GetExecution().GetWorkflowId(), RunID: e.GetExecution().GetRunId(), Type: e.GetType().GetName(),
			Status: strings.TrimPrefix(e.GetStatus().String(), "WORKFLOW_EXECUTION_STATUS_"), CloseTime: e.GetCloseTime().AsTime()}
		runs = append(runs, r)
		fmt.Fprintf(out, "%-20s %-9s %-24s %s  %s\n", r.CloseTime.UTC().Format(time.RFC3339), r.Status, r.Type, r.WorkflowID, r.RunID)
	}
	if len(runs) == 0 {
		fmt.Fprintln(out, "no failed runs")
	}
	return runs, nil
}

// Retry resets a closed run to its first workflow task: the workflow runs
// again from the start in a new run (its activities are idempotent, so work
// already done is not done twice). runID may be empty (the latest run). It
// returns the new run's ID.
func Retry(ctx context.Context, d *app.Deps, workflowID, runID string, out io.Writer) (string, error) {
	it := d.Temporal.GetWorkflowHistory(ctx, workflowID, runID, false, enums.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
	var first int64
	for it.HasNext() && first == 0 {
		e, err := it.Next()
		if err != nil {
			return "", fmt.Errorf("reading history of %s: %w", workflowID, err)
		}
		if e.GetEventType() == enums.EVENT_TYPE_WORKFLOW_TASK_COMPLETED {
			first = e.GetEventId()
		}
	}
	if first == 0 {
		return "", errors.New("no completed workflow task to reset to")
	}
	resp, err := d.Temporal.ResetWorkflowExecution(ctx, &workflowservice.ResetWorkflowExecutionRequest{
		Namespace:                 d.Config.Temporal.Namespace,
		WorkflowExecution:         &commonpb.WorkflowExecution{WorkflowId: workflowID, RunId: runID},
		Reason:                    "wabot admin runs retry",
		WorkflowTaskFinishEventId: first,
		RequestId:                 uuid.NewString(),
	})
	if err != nil {
		return "", fmt.Errorf("resetting %s: %w", workflowID, err)
	}
	fmt.Fprintf(out, "reset %s to event %d: new run %s\n", workflowID, first, resp.GetRunId())
	return resp.GetRunId(), nil
}

// VerifyAudit checks the audit chain now and prints the outcome.
func VerifyAudit(ctx context.Context, d *app.Deps, out io.Writer) (audit.Result, error) {
	res, err := audit.New(d.Pool, nil).Verify(ctx)
	if err != nil {
		return res, err
	}
	if !res.OK {
		fmt.Fprintf(out, "audit chain BROKEN at entry #%d: %s (%d entries checked)\n", res.FirstBad, res.Reason, res.Entries)
		return res, errors.New("audit chain broken")
	}
	fmt.Fprintf(out, "audit chain OK (%d entries)\n", res.Entries)
	return res, nil
}

// Schedule triggers, pauses or unpauses one compliance schedule ("retention"
// or "audit").
func Schedule(ctx context.Context, d *app.Deps, action, name string, out io.Writer) error {
	base := map[string]string{"retention": workflows.ScheduleRetention, "audit": workflows.ScheduleAuditVerify}[name]
	if base == "" {
		return fmt.Errorf("unknown schedule %q: want retention or audit", name)
	}
	id := app.ScheduleID(base, d.Config.Temporal.TaskQueue)
	h := d.Temporal.ScheduleClient().GetHandle(ctx, id)
	var err error
	switch action {
	case "trigger":
		err = h.Trigger(ctx, client.ScheduleTriggerOptions{})
	case "pause":
		err = h.Pause(ctx, client.SchedulePauseOptions{Note: "paused by wabot admin"})
	case "unpause":
		err = h.Unpause(ctx, client.ScheduleUnpauseOptions{Note: "unpaused by wabot admin"})
	default:
		return fmt.Errorf("unknown schedule action %q: want trigger, pause or unpause", action)
	}
	if err != nil {
		return fmt.Errorf("%s schedule %s: %w", action, id, err)
	}
	fmt.Fprintf(out, "schedule %s: %s done\n", id, action)
	return nil
}
