package workflows

import (
	"fmt"
	"time"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/wabot/wabot/activities"
	"github.com/wabot/wabot/internal/audit"
	"github.com/wabot/wabot/internal/message"
)

// Compliance workflow names, schedule IDs, signals and queries.
const (
	ActivitySendDocument  = "SendDocument"  // gateway queue: send a message.Document
	ActivityForgetContact = "ForgetContact" // gateway queue: delete the transport's own records of a person
	ScheduleRetention     = "wabot-retention-sweep"
	ScheduleAuditVerify   = "wabot-audit-verify"
	SignalWipeConfirm     = "confirm"
	QueryExportProgress   = "progress"
	QueryWipeStatus       = "status"
)

// complianceOptions: long, batched database work that heartbeats its
// progress; a dead worker is noticed within the heartbeat timeout and the
// retry resumes from the last heartbeat.
var complianceOptions = workflow.ActivityOptions{
	StartToCloseTimeout:    30 * time.Minute,
	HeartbeatTimeout:       time.Minute,
	ScheduleToCloseTimeout: 12 * time.Hour,
	RetryPolicy: &temporal.RetryPolicy{
		InitialInterval:        time.Second,
		BackoffCoefficient:     2,
		MaximumInterval:        time.Minute,
		NonRetryableErrorTypes: []string{activities.ErrAuditChainBroken},
	},
}

// SweepWorkflowResult is what a retention sweep deleted.
type SweepWorkflowResult = activities.SweepResult

// RetentionSweepWorkflow deletes expired rows (messages, memory, usage,
// outbound records, media blobs, old exports) and writes one audit entry with
// the counts. The Schedule ScheduleRetention starts it every
// RETENTION_SWEEP_INTERVAL; overlapping runs are skipped by the schedule.
func RetentionSweepWorkflow(ctx workflow.Context) (SweepWorkflowResult, error) {
	var c *activities.Compliance
	ctx = workflow.WithActivityOptions(ctx, complianceOptions)
	info := workflow.GetInfo(ctx)
	runID := "sweep-" + info.WorkflowExecution.ID + "-" + info.WorkflowExecution.RunID
	var res activities.SweepResult
	in := activities.SweepInput{RunID: runID, Now: workflow.Now(ctx)}
	if err := workflow.ExecuteActivity(ctx, c.SweepRetention, in).Get(ctx, &res); err != nil {
		return res, err
	}
	entry := audit.Entry{Actor: audit.ActorSystem, Action: "retention.sweep", Outcome: audit.OutcomeOK,
		Details: map[string]string{"skipped": fmt.Sprint(res.Skipped)}}
	if err := workflow.ExecuteActivity(ctx, c.Audit, activities.AuditInput{RunID: runID, Entry: entry, CountsAsDetails: true}).Get(ctx, nil); err != nil {
		return res, err
	}
	return res, nil
}

// AuditVerifyWorkflow verifies the audit chain (Schedule ScheduleAuditVerify,
// daily by default). A broken chain fails the run with AUDIT_CHAIN_BROKEN
// after the activity logged an error and set the wabot_audit_chain_broken metric.
func AuditVerifyWorkflow(ctx workflow.Context) (audit.Result, error) {
	var c *activities.Compliance
	var res audit.Result
	err := workflow.ExecuteActivity(workflow.WithActivityOptions(ctx, complianceOptions), c.VerifyAudit).Get(ctx, &res)
	return res, err
}

// ExportRequest starts an ExportWorkflow.
type ExportRequest struct {
	ExportID string
	Account  string // gateway account (Deliver=whatsapp)
	Subject  string // the person's JID; for users, their chat
	// SubjectHash is the person's identity hash (audit target, WabotChat).
	SubjectHash string
	Actor       string // who asked: the person's hash or audit.ActorOperator
	Deliver     bool   // send the ZIP into Subject's chat; false: an admin fetches it
}

// ExportProgress is the answer of the "progress" query.
type ExportProgress struct {
	Stage string // planning, gathering, packing, sending, done
	Done  int    // sections gathered
	Total int    // sections planned
}

// ExportResult describes a finished export.
type ExportResult struct {
	ExportID string
	Sections int
	Rows     int
	Bytes    int
}

// ExportWorkflow gathers everything about a person section by section
// (progress visible through the "progress" query), packs a ZIP with a README,
// sends it as a WhatsApp document or leaves it for `wabot admin export`, and
// records an audit entry.
func ExportWorkflow(ctx workflow.Context, in ExportRequest) (ExportResult, error) {
	var c *activities.Compliance
	prog := ExportProgress{Stage: "planning"}
	if err := workflow.SetQueryHandler(ctx, QueryExportProgress, func() (ExportProgress, error) { return prog, nil }); err != nil {
		return ExportResult{}, err
	}
	actx := workflow.WithActivityOptions(ctx, complianceOptions)
	ein := activities.ExportInput{ExportID: in.ExportID, Subject: in.Subject}
	var sections []string
	if err := workflow.ExecuteActivity(actx, c.ExportPlan, ein).Get(ctx, &sections); err != nil {
		return ExportResult{}, err
	}
	res := ExportResult{ExportID: in.ExportID, Sections: len(sections)}
	prog = ExportProgress{Stage: "gathering", Total: len(sections)}
	for _, s := range sections {
		var n int
		if err := workflow.ExecuteActivity(actx, c.ExportSection, activities.ExportSectionInput{ExportInput: ein, Section: s}).Get(ctx, &n); err != nil {
			return res, err
		}
		res.Rows += n
		prog.Done++
	}
	prog.Stage = "packing"
	var z activities.ExportZipResult
	if err := workflow.ExecuteActivity(actx, c.ExportZip, ein).Get(ctx, &z); err != nil {
		return res, err
	}
	res.Bytes = z.Bytes
	if in.Deliver {
		prog.Stage = "sending"
		doc := message.Document{
			Account: in.Account, Chat: in.Subject, ID: message.ReplyID(in.Account, in.ExportID, 0), ExportID: in.ExportID,
			FileName: "wabot-export-" + workflow.Now(ctx).UTC().Format("2006-01-02") + ".zip", Mimetype: "application/zip",
			Caption: "Your wabot data export. The README inside explains each file.",
		}
		gw := workflow.WithActivityOptions(workflow.WithTaskQueue(ctx, GatewayTaskQueue(in.Account)), sendOptions)
		if err := workflow.ExecuteActivity(gw, ActivitySendDocument, doc).Get(ctx, nil); err != nil {
			return res, err
		}
	}
	entry := audit.Entry{Actor: in.Actor, Action: "data.export", Target: in.SubjectHash, Outcome: audit.OutcomeOK,
		Details: map[string]string{"sections": fmt.Sprint(res.Sections), "rows": fmt.Sprint(res.Rows), "delivered": fmt.Sprint(in.Deliver)}}
	// The run's key in compliance_audited (kept after a wipe): the run ID,
	// not the export ID, which holds the person's hash.
	auditKey := "export-" + in.ExportID
	if workflow.GetVersion(ctx, "export-audit-key-without-hash", workflow.DefaultVersion, 1) == 1 {
		auditKey = "export-" + workflow.GetInfo(ctx).WorkflowExecution.RunID
	}
	if err := workflow.ExecuteActivity(actx, c.Audit, activities.AuditInput{RunID: auditKey, Entry: entry}).Get(ctx, nil); err != nil {
		return res, err
	}
	prog.Stage = "done"
	return res, nil
}
