package workflows

import (
	"fmt"
	"strings"
	"time"

	"go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/wabot/wabot/activities"
	"github.com/wabot/wabot/internal/message"
)

// wipeConfirmWindow is how long /wipe waits for the YES.
const wipeConfirmWindow = 2 * time.Minute

// complianceCommand handles /export, /wipe, /retention and the YES that
// confirms a pending wipe. It returns handled=false for anything else, and
// the message goes on to the LLM. (To be folded into the command registry.)
func complianceCommand(ctx workflow.Context, in message.Inbound) (handled bool, res MessageResult, err error) {
	text := strings.TrimSpace(in.Text)
	fields := strings.Fields(text)
	if len(fields) == 0 {
		return false, MessageResult{}, nil
	}
	cmd := strings.ToLower(fields[0])
	if cmd == "yes" && len(fields) == 1 && !in.IsGroup {
		// A YES confirms a pending wipe; without one it is an ordinary message.
		err := workflow.SignalExternalWorkflow(ctx, WipeWorkflowID(in.Account, in.ChatHash), "", SignalWipeConfirm, nil).Get(ctx, nil)
		if err != nil {
			return false, MessageResult{}, nil
		}
		_ = workflow.UpsertTypedSearchAttributes(ctx, SACommand.ValueSet("wipe_confirm"))
		return true, MessageResult{Skipped: "wipe_confirmed"}, setOutcome(ctx, "ok")
	}
	if !isComplianceCommand(text) {
		return false, MessageResult{}, nil
	}
	_ = workflow.UpsertTypedSearchAttributes(ctx, SACommand.ValueSet(strings.TrimPrefix(cmd, "/")))
	var reply string
	switch {
	case in.IsGroup && cmd != "/retention":
		reply = "For your privacy, send " + cmd + " to me in a private chat."
	case cmd == "/retention":
		var c *activities.Compliance
		rin := activities.RetentionInput{Account: in.Account, Chat: in.Chat, Sender: in.Sender, Args: fields[1:]}
		if err := workflow.ExecuteActivity(workflow.WithActivityOptions(ctx, storeOptions), c.Retention, rin).Get(ctx, &reply); err != nil {
			return true, MessageResult{}, err
		}
	case cmd == "/export":
		opts := workflow.ChildWorkflowOptions{
			WorkflowID:        "export-" + in.Account + "-" + in.ChatHash + "-" + in.ID,
			ParentClosePolicy: enums.PARENT_CLOSE_POLICY_ABANDON,
			TypedSearchAttributes: temporal.NewSearchAttributes(SAAccount.ValueSet(in.Account),
				SAChat.ValueSet(in.ChatHash), SACommand.ValueSet("export")),
		}
		req := ExportRequest{ExportID: opts.WorkflowID, Account: in.Account, Subject: in.Chat, SubjectHash: in.ChatHash, Actor: in.ChatHash, Deliver: true}
		f := workflow.ExecuteChildWorkflow(workflow.WithChildOptions(ctx, opts), ExportWorkflow, req)
		if err := f.GetChildWorkflowExecution().Get(ctx, nil); err != nil && !temporal.IsWorkflowExecutionAlreadyStartedError(err) {
			return true, MessageResult{}, err
		}
		reply = "Preparing your data export. I'll send it here as a ZIP file in a moment."
	case cmd == "/wipe":
		opts := workflow.ChildWorkflowOptions{
			WorkflowID:        WipeWorkflowID(in.Account, in.ChatHash),
			ParentClosePolicy: enums.PARENT_CLOSE_POLICY_ABANDON,
			// No WabotChat: the wipe must not delete itself, and after it no
			// attribute names the person.
			TypedSearchAttributes: temporal.NewSearchAttributes(SAAccount.ValueSet(in.Account), SACommand.ValueSet("wipe")),
		}
		req := WipeRequest{Account: in.Account, Subject: in.Chat, ConfirmWithin: wipeConfirmWindow, Notify: true, Actor: "user",
			ForgetOn: []string{in.Account}}
		f := workflow.ExecuteChildWorkflow(workflow.WithChildOptions(ctx, opts), WipeWorkflow, req)
		err := f.GetChildWorkflowExecution().Get(ctx, nil)
		switch {
		case temporal.IsWorkflowExecutionAlreadyStartedError(err):
			reply = "A wipe is already waiting for your YES."
		case err != nil:
			return true, MessageResult{}, err
		default:
			reply = fmt.Sprintf(wipeAsk, "2 minutes")
		}
	}
	r := message.Reply{Account: in.Account, Chat: in.Chat, ID: message.ReplyID(in.Account, in.ID, 0), Text: reply}
	gwCtx := workflow.WithActivityOptions(workflow.WithTaskQueue(ctx, GatewayTaskQueue(in.Account)), sendOptions)
	if err := workflow.ExecuteActivity(gwCtx, ActivitySend, r).Get(ctx, nil); err != nil {
		_ = setOutcome(ctx, "send_failed")
		return true, MessageResult{}, err
	}
	return true, MessageResult{ReplyID: r.ID}, setOutcome(ctx, "ok")
}

// isComplianceCommand reports whether text is /export, /wipe or /retention.
func isComplianceCommand(text string) bool {
	fields := strings.Fields(text)
	if len(fields) == 0 {
		return false
	}
	switch strings.ToLower(fields[0]) {
	case "/export", "/wipe", "/retention":
		return true
	}
	return false
}
