package workflows

import (
	"strconv"
	"time"

	"go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/wabot/wabot/activities"
	"github.com/wabot/wabot/internal/audit"
	"github.com/wabot/wabot/internal/message"
)

// WipeRequest starts a WipeWorkflow.
type WipeRequest struct {
	Account string // gateway account to talk through (Notify)
	Subject string // the person's JID
	// Confirmed skips the confirmation (admins confirm in the CLI).
	Confirmed bool
	// ConfirmWithin is how long to wait for the "confirm" signal.
	ConfirmWithin time.Duration
	// Notify tells the person in their chat what happens.
	Notify bool
	Actor  string // audit actor: "user" or audit.ActorOperator (never an identity)
	// ForgetOn are the gateway accounts whose transport store (whatsmeow's
	// contacts, sessions, keys) must forget the person too.
	ForgetOn []string
}

// WipeStatus is the answer of the "status" query and the workflow's result.
type WipeStatus struct {
	Stage      string // awaiting_confirmation, not_confirmed, deleting_rows, deleting_keys, deleting_histories, forgetting_contact, done
	Rows       int64
	RedisKeys  int64
	Executions int
	// TransportRecords counts what the gateways' WhatsApp stores deleted.
	TransportRecords int64
	AuditSeq         int64
	Unconfirmed      bool
}

// Wipe texts sent to the person.
const (
	wipeAsk       = "This deletes everything I store about you: messages, memory, usage, settings and the history of your conversations. Reply YES within %s to go ahead."
	wipeExpired   = "No confirmation received: nothing was deleted."
	wipeStarted   = "Confirmed. Deleting everything I store about you now…"
	wipeCompleted = "Done: everything I stored about you is deleted."
)

// WipeWorkflowID is the ID of a person's pending or running wipe: one at a
// time per person and account. It holds the hash, never the number.
func WipeWorkflowID(account, chatHash string) string { return "wipe-" + account + "-" + chatHash }

// WipeWorkflow deletes everything about one person once confirmed: rows of
// every personal-data table, Redis keys, and the Temporal executions (with
// their histories) found by their WabotChat hash. Without a confirmation
// within ConfirmWithin nothing is deleted. Every step is idempotent, so the
// workflow finishes after a crash anywhere. Its audit entry holds counts
// only: no identity, not even a hash.
func WipeWorkflow(ctx workflow.Context, in WipeRequest) (WipeStatus, error) {
	var c *activities.Compliance
	st := WipeStatus{Stage: "awaiting_confirmation"}
	if err := workflow.SetQueryHandler(ctx, QueryWipeStatus, func() (WipeStatus, error) { return st, nil }); err != nil {
		return st, err
	}
	info := workflow.GetInfo(ctx)
	self := info.WorkflowExecution.ID
	notify := func(n int, text string) error {
		if !in.Notify {
			return nil
		}
		r := message.Reply{Account: in.Account, Chat: in.Subject, ID: message.ReplyID(in.Account, self+"-"+info.WorkflowExecution.RunID, n), Text: text}
		gw := workflow.WithActivityOptions(workflow.WithTaskQueue(ctx, GatewayTaskQueue(in.Account)), sendOptions)
		return workflow.ExecuteActivity(gw, ActivitySend, r).Get(ctx, nil)
	}

	if !in.Confirmed {
		within := in.ConfirmWithin
		if within <= 0 {
			within = 2 * time.Minute
		}
		confirmed := false
		timerCtx, cancel := workflow.WithCancel(ctx)
		sel := workflow.NewSelector(ctx)
		sel.AddReceive(workflow.GetSignalChannel(ctx, SignalWipeConfirm), func(ch workflow.ReceiveChannel, _ bool) {
			ch.Receive(ctx, nil)
			confirmed = true
		})
		sel.AddFuture(workflow.NewTimer(timerCtx, within), func(workflow.Future) {})
		sel.Select(ctx)
		cancel()
		if !confirmed {
			st.Stage, st.Unconfirmed = "not_confirmed", true
			return st, notify(0, wipeExpired)
		}
	}
	if err := notify(1, wipeStarted); err != nil {
		return st, err
	}
	actx := workflow.WithActivityOptions(ctx, complianceOptions)
	// The run's key in compliance_counts and compliance_audited (kept after
	// the wipe) is its run ID alone: the workflow ID holds the person's hash.
	runKey := "wipe-" + self + "-" + info.WorkflowExecution.RunID
	if workflow.GetVersion(ctx, "wipe-run-key-without-hash", workflow.DefaultVersion, 1) == 1 {
		runKey = "wipe-" + info.WorkflowExecution.RunID
	}
	win := activities.WipeInput{RunID: runKey, Subject: in.Subject, Except: self}

	st.Stage = "deleting_rows"
	if err := workflow.ExecuteActivity(actx, c.WipeRows, win).Get(ctx, nil); err != nil {
		return st, err
	}
	st.Stage = "deleting_keys"
	if err := workflow.ExecuteActivity(actx, c.WipeRedis, win).Get(ctx, &st.RedisKeys); err != nil {
		return st, err
	}
	st.Stage = "deleting_histories"
	if err := workflow.ExecuteActivity(actx, c.WipeTemporal, win).Get(ctx, &st.Executions); err != nil {
		return st, err
	}
	if err := notify(2, wipeCompleted); err != nil {
		return st, err
	}
	// Again: the notices' delivery records, and anything written by a message
	// that was in flight during the first pass.
	var counts map[string]int64
	if err := workflow.ExecuteActivity(actx, c.WipeRows, win).Get(ctx, &counts); err != nil {
		return st, err
	}
	for _, n := range counts {
		st.Rows += n
	}
	// Last, once nothing more is sent to the person: what the WhatsApp
	// library keeps (contact names, sessions, keys). Waits for a gateway that
	// is down, as a Send does.
	st.Stage = "forgetting_contact"
	for _, account := range in.ForgetOn {
		gw := workflow.WithActivityOptions(workflow.WithTaskQueue(ctx, GatewayTaskQueue(account)), sendOptions)
		var n int64
		if err := workflow.ExecuteActivity(gw, ActivityForgetContact, in.Subject).Get(ctx, &n); err != nil {
			return st, err
		}
		st.TransportRecords += n
	}
	actor := in.Actor
	if actor == "" {
		actor = "user"
	}
	entry := audit.Entry{Actor: actor, Action: "data.wipe", Outcome: audit.OutcomeOK,
		Details: map[string]string{"redis_keys": strconv.FormatInt(st.RedisKeys, 10), "executions": strconv.Itoa(st.Executions),
			"transport_records": strconv.FormatInt(st.TransportRecords, 10)}}
	if err := workflow.ExecuteActivity(actx, c.Audit, activities.AuditInput{RunID: win.RunID, Entry: entry, CountsAsDetails: true}).Get(ctx, &st.AuditSeq); err != nil {
		return st, err
	}
	st.Stage = "done"
	// The wipe's own history names the person (its input, the notices):
	// a run of its own deletes it once it has closed. Its input is a run ID.
	switch workflow.GetVersion(ctx, "wipe-deletes-own-run", workflow.DefaultVersion, 2) {
	case 2:
		// Started by an activity, not as a child: a child's start event and
		// visibility record name its parent, whose ID holds the person's hash.
		if err := workflow.ExecuteActivity(actx, c.StartDeleteRun, activities.DeleteRunStart{
			Workflow: "DeleteRunWorkflow", RunID: info.WorkflowExecution.RunID, After: deleteOwnRunAfter,
		}).Get(ctx, nil); err != nil {
			return st, err
		}
	case 1:
		opts := workflow.ChildWorkflowOptions{
			WorkflowID:        "delete-run-" + info.WorkflowExecution.RunID,
			ParentClosePolicy: enums.PARENT_CLOSE_POLICY_ABANDON,
		}
		f := workflow.ExecuteChildWorkflow(workflow.WithChildOptions(ctx, opts), DeleteRunWorkflow,
			DeleteRunRequest{RunID: info.WorkflowExecution.RunID, After: deleteOwnRunAfter})
		if err := f.GetChildWorkflowExecution().Get(ctx, nil); err != nil && !temporal.IsWorkflowExecutionAlreadyStartedError(err) {
			return st, err
		}
	}
	return st, nil
}

// deleteOwnRunAfter leaves a finished wipe's result readable for a minute
// (`wabot admin wipe` waits for it) before its run is deleted.
const deleteOwnRunAfter = time.Minute

// DeleteRunRequest starts a DeleteRunWorkflow.
type DeleteRunRequest struct {
	RunID string
	After time.Duration // wait this long first
}

// DeleteRunWorkflow deletes one closed workflow run (a finished wipe's) after
// a grace period. It knows the run by its ID alone: no person, no hash.
func DeleteRunWorkflow(ctx workflow.Context, in DeleteRunRequest) (bool, error) {
	var c *activities.Compliance
	if err := workflow.Sleep(ctx, in.After); err != nil {
		return false, err
	}
	var deleted bool
	err := workflow.ExecuteActivity(workflow.WithActivityOptions(ctx, deleteRunOptions), c.DeleteClosedRun, in.RunID).Get(ctx, &deleted)
	return deleted, err
}
