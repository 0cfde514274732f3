package workflows

import (
	"strings"
	"time"

	"go.temporal.io/sdk/workflow"

	"github.com/wabot/wabot/activities"
	"github.com/wabot/wabot/internal/message"
)

// The paths of MessageWorkflow before the command registry
// (commandRegistryChange): commands ran through RunCommand, except the media
// commands (media path) and the compliance commands (a branch of their own).
// Runs started before the deploy finish here; delete this file once no such
// run can be open (the longest is a message waiting under the global limit).

// wipeConfirmWindow is how long /wipe waits for the YES.
const wipeConfirmWindow = 2 * time.Minute

// messageV0 is MessageWorkflow after admission, as it was before the registry.
func messageV0(ctx workflow.Context, in message.Inbound) (MessageResult, error) {
	if in.Kind == message.KindCommand && mediaRoute(in) != routeCommand && !isComplianceCommand(in.Text) &&
		workflow.GetVersion(ctx, "commands", workflow.DefaultVersion, 1) >= 1 {
		res, ask, err := runCommand(ctx, in)
		if ask == "" {
			return res, err
		}
		in.Text = ask
	}
	if route := mediaRoute(in); route != "" {
		return mediaStep(ctx, in, route, true)
	}
	if handled, res, err := complianceCommand(ctx, in); handled {
		return res, err
	}
	return answer(ctx, in)
}

// complianceCommand handles /export, /wipe, /retention and the YES that
// confirms a pending wipe. It returns handled=false for anything else.
func complianceCommand(ctx workflow.Context, in message.Inbound) (handled bool, res MessageResult, err error) {
	fields := strings.Fields(in.Text)
	if len(fields) == 0 {
		return false, MessageResult{}, nil
	}
	if res, ok, err := confirmPending(ctx, in); ok {
		return true, res, err
	}
	if !isComplianceCommand(in.Text) {
		return false, MessageResult{}, nil
	}
	cmd := strings.ToLower(fields[0])
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
		if err := startExport(ctx, in); err != nil {
			return true, MessageResult{}, err
		}
		reply = exportStarted
	case cmd == "/wipe":
		if reply, err = startWipe(ctx, in); err != nil {
			return true, MessageResult{}, err
		}
	}
	res, err = replyAndFinish(ctx, in, reply)
	return true, res, err
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
