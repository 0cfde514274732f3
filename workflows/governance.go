package workflows

import (
	"time"

	"go.temporal.io/sdk/workflow"

	"github.com/wabot/wabot/activities"
	"github.com/wabot/wabot/internal/command"
	"github.com/wabot/wabot/internal/errcode"
	"github.com/wabot/wabot/internal/message"
)

// The governance part of MessageWorkflow, after Admit: refusals with their
// one notice, backpressure under the global limit, and commands. It is kept
// here so message.go changes by a few lines only.

// Reply numbers (message.ReplyID's n) used besides the answer (0).
const busyReplyN = 1

// Bounds of one durable wait under the global limit.
const (
	minBusyWait = time.Second
	maxBusyWait = 5 * time.Minute
)

// govern handles what Admit decided. done reports that the workflow is
// finished with res and err; otherwise the message goes on to the LLM turn
// (in may have been rewritten: "!gpt <text>" continues as <text>).
func govern(ctx workflow.Context, in *message.Inbound, adm activities.Admission) (res MessageResult, done bool, err error) {
	var a *activities.Activities
	if !adm.Answer {
		res = MessageResult{Skipped: adm.Reason, Code: adm.Code}
		if adm.Notice != "" {
			reply, err := sendText(ctx, *in, 0, adm.Notice)
			if err != nil {
				return MessageResult{}, true, err
			}
			res.ReplyID = reply.ID
		}
		outcome := "skipped"
		if adm.Code != "" {
			outcome = string(adm.Code)
		}
		return res, true, setOutcome(ctx, outcome)
	}

	// Backpressure: over the global limit the message waits on a durable
	// timer and asks again; it is never dropped. The chat hears once.
	for told := false; adm.Wait > 0; {
		if adm.BusyNotice != "" && !told {
			if _, err := sendText(ctx, *in, busyReplyN, adm.BusyNotice); err != nil {
				return MessageResult{}, true, err
			}
			told = true
		}
		if err := workflow.Sleep(ctx, min(max(adm.Wait, minBusyWait), maxBusyWait)); err != nil {
			return MessageResult{}, true, err
		}
		storeCtx := workflow.WithActivityOptions(ctx, storeOptions)
		var next activities.Admission // fresh: decoding into adm would keep its omitted fields
		if err := workflow.ExecuteActivity(storeCtx, a.Throttle, *in).Get(ctx, &next); err != nil {
			return MessageResult{}, true, err
		}
		adm = next
	}

	// Media commands (/voice, /read, /image, /askfile) and compliance commands
	// (/export, /wipe, /retention) run in their own workflow paths; they are
	// listed in the command table only for /help.
	if in.Kind != message.KindCommand || mediaRoute(*in) == routeCommand || isComplianceCommand(in.Text) ||
		workflow.GetVersion(ctx, "commands", workflow.DefaultVersion, 1) < 1 {
		return MessageResult{}, false, nil
	}
	return runCommand(ctx, in)
}

// runCommand runs a command message and answers it, unless it asks the LLM.
func runCommand(ctx workflow.Context, in *message.Inbound) (MessageResult, bool, error) {
	var a *activities.Activities
	logger := workflow.GetLogger(ctx)
	if err := workflow.UpsertTypedSearchAttributes(ctx, SACommand.ValueSet(commandAttr(in.Text))); err != nil {
		return MessageResult{}, true, err
	}
	var cr activities.CommandResult
	code := errcode.Code("")
	storeCtx := workflow.WithActivityOptions(ctx, storeOptions)
	if err := workflow.ExecuteActivity(storeCtx, a.RunCommand, *in).Get(ctx, &cr); err != nil {
		if code = codeOf(err); code == errcode.LLMUnavailable { // a timeout: no LLM involved here
			code = errcode.Internal
		}
		cr.Text = errcode.UserMessage(code)
		logger.Warn("command failed; replying with an error code", "code", string(code), "error", err)
	} else {
		code = cr.Code
	}
	if cr.AskLLM != "" {
		in.Text = cr.AskLLM
		return MessageResult{}, false, nil
	}
	reply, err := sendText(ctx, *in, 0, cr.Text)
	if err != nil {
		return MessageResult{}, true, err
	}
	outcome := "ok"
	if code != "" {
		outcome = string(code)
	}
	return MessageResult{ReplyID: reply.ID, Code: code, Command: cr.Name}, true, setOutcome(ctx, outcome)
}

// commandAttr is the WabotCommand search attribute of a command text: its
// name, or "invalid" (never free text from the user).
func commandAttr(text string) string {
	if p, ok := command.Parse(text); ok {
		return p.Name
	}
	return "invalid"
}

// sendText sends the n-th reply to in (quoting it in groups) on the gateway's queue.
func sendText(ctx workflow.Context, in message.Inbound, n int, text string) (message.Reply, error) {
	reply := message.ReplyTo(in, n, text)
	gwCtx := workflow.WithActivityOptions(workflow.WithTaskQueue(ctx, GatewayTaskQueue(in.Account)), sendOptions)
	if err := workflow.ExecuteActivity(gwCtx, ActivitySend, reply).Get(ctx, nil); err != nil {
		_ = setOutcome(ctx, "send_failed")
		return message.Reply{}, err
	}
	return reply, nil
}
