package workflows

import (
	"fmt"
	"slices"
	"strings"

	"go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/wabot/wabot/activities"
	"github.com/wabot/wabot/internal/command"
	"github.com/wabot/wabot/internal/message"
)

// commandRoute runs a command on in the workflow after RunCommand allowed it
// (role, session, direct chat, arguments) and, if the command has a
// handler, ran it: cr holds its Text and Data. A route sends the reply.
type commandRoute func(ctx workflow.Context, in message.Inbound, cr activities.CommandResult) (MessageResult, error)

// commandRoutes maps each command.Spec.Runs of the registry
// (activities/commands.go) to its workflow code. Adding a workflow-side
// command is one Spec with Runs set and, for a new route, one entry here.
// TestEveryRouteOfTheRegistryExists keeps the two in step.
var commandRoutes = map[command.Route]commandRoute{
	activities.RouteMedia:  routeMediaCommand,
	activities.RouteExport: routeExport,
	activities.RouteWipe:   routeWipe,
}

// Routes lists the routes this worker's MessageWorkflow knows, sorted.
func Routes() []command.Route {
	routes := make([]command.Route, 0, len(commandRoutes))
	for r := range commandRoutes {
		routes = append(routes, r)
	}
	slices.Sort(routes)
	return routes
}

// routeMediaCommand: /voice, /read, /image and /askfile run on the media path.
func routeMediaCommand(ctx workflow.Context, in message.Inbound, _ activities.CommandResult) (MessageResult, error) {
	return mediaStep(ctx, in, routeCommand, false)
}

// routeExport starts the person's ExportWorkflow as an abandoned child; it
// sends the ZIP when it is ready.
func routeExport(ctx workflow.Context, in message.Inbound, _ activities.CommandResult) (MessageResult, error) {
	if err := startExport(ctx, in); err != nil {
		return MessageResult{}, err
	}
	return replyAndFinish(ctx, in, exportStarted)
}

// routeWipe starts the person's WipeWorkflow, which waits for their YES.
func routeWipe(ctx workflow.Context, in message.Inbound, _ activities.CommandResult) (MessageResult, error) {
	text, err := startWipe(ctx, in)
	if err != nil {
		return MessageResult{}, err
	}
	return replyAndFinish(ctx, in, text)
}

// replyAndFinish sends text as the answer to in and sets the outcome ok.
func replyAndFinish(ctx workflow.Context, in message.Inbound, text string) (MessageResult, error) {
	reply, err := sendText(ctx, in, 0, text)
	if err != nil {
		return MessageResult{}, err
	}
	return MessageResult{ReplyID: reply.ID}, setOutcome(ctx, "ok")
}

// exportStarted is the answer to /export.
const exportStarted = "Preparing your data export. I'll send it here as a ZIP file in a moment."

// startExport starts the ExportWorkflow of in's sender as an abandoned child
// (one per /export message: its ID is derived from the message ID).
func startExport(ctx workflow.Context, in message.Inbound) error {
	opts := workflow.ChildWorkflowOptions{
		WorkflowID:        "export-" + in.Account + "-" + in.ChatHash + "-" + in.ID,
		ParentClosePolicy: enums.PARENT_CLOSE_POLICY_ABANDON,
		TypedSearchAttributes: temporal.NewSearchAttributes(SAAccount.ValueSet(in.Account),
			SAChat.ValueSet(in.ChatHash), SACommand.ValueSet("export")),
	}
	req := ExportRequest{ExportID: opts.WorkflowID, Account: in.Account, Subject: in.Chat, SubjectHash: in.ChatHash, Actor: in.ChatHash, Deliver: true}
	f := workflow.ExecuteChildWorkflow(workflow.WithChildOptions(ctx, opts), ExportWorkflow, req)
	if err := f.GetChildWorkflowExecution().Get(ctx, nil); err != nil && !temporal.IsWorkflowExecutionAlreadyStartedError(err) {
		return err
	}
	return nil
}

// startWipe starts the WipeWorkflow of in's sender, which asks for a YES
// within wipeConfirmWindow; it returns the answer to /wipe.
func startWipe(ctx workflow.Context, in message.Inbound) (string, error) {
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
		return "A wipe is already waiting for your YES.", nil
	case err != nil:
		return "", err
	}
	return fmt.Sprintf(wipeAsk, "2 minutes"), nil
}

// confirmation is a one-word answer that a waiting workflow (a route's
// child) listens for: the word, sent alone in a direct chat, is signalled to
// the workflow; when no such workflow waits, it is an ordinary message.
type confirmation struct {
	word    string // lower case
	signal  string
	target  func(in message.Inbound) string // the waiting workflow's ID
	attr    string                          // the WabotCommand of the confirming run
	skipped string                          // the confirming run's MessageResult.Skipped
}

// confirmations are the answers waiting workflows take.
var confirmations = []confirmation{
	{word: "yes", signal: SignalWipeConfirm, attr: "wipe_confirm", skipped: "wipe_confirmed",
		target: func(in message.Inbound) string { return WipeWorkflowID(in.Account, in.ChatHash) }},
}

// confirmPending delivers in to the workflow waiting for it, if in is a
// confirmation word and one waits; ok reports that it did.
func confirmPending(ctx workflow.Context, in message.Inbound) (res MessageResult, ok bool, err error) {
	fields := strings.Fields(in.Text)
	if len(fields) != 1 || in.IsGroup {
		return MessageResult{}, false, nil
	}
	for _, c := range confirmations {
		if strings.ToLower(fields[0]) != c.word {
			continue
		}
		if err := workflow.SignalExternalWorkflow(ctx, c.target(in), "", c.signal, nil).Get(ctx, nil); err != nil {
			return MessageResult{}, false, nil // nobody waits: an ordinary message
		}
		_ = workflow.UpsertTypedSearchAttributes(ctx, SACommand.ValueSet(c.attr))
		return MessageResult{Skipped: c.skipped}, true, setOutcome(ctx, "ok")
	}
	return MessageResult{}, false, nil
}
