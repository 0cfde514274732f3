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
// one notice, backpressure under the global limit, and running commands.

// Reply numbers (message.ReplyID's n) used besides the answer (0).
const busyReplyN = 1

// Bounds of one durable wait under the global limit.
const (
	minBusyWait = time.Second
	maxBusyWait = 5 * time.Minute
)

// admitted handles what Admit decided. done reports that the workflow is
// finished with res and err (refused, with its one notice); otherwise the
// message goes on, after waiting out the global limit if it had to.
func admitted(ctx workflow.Context, in message.Inbound, adm activities.Admission) (res MessageResult, done bool, err error) {
	var a *activities.Activities
	if !adm.Answer {
		res = MessageResult{Skipped: adm.Reason, Code: adm.Code}
		if adm.Notice != "" {
			reply, err := sendText(ctx, in, 0, adm.Notice)
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
			if _, err := sendText(ctx, in, busyReplyN, adm.BusyNotice); err != nil {
				return MessageResult{}, true, err
			}
			told = true
		}
		if err := workflow.Sleep(ctx, min(max(adm.Wait, minBusyWait), maxBusyWait)); err != nil {
			return MessageResult{}, true, err
		}
		storeCtx := workflow.WithActivityOptions(ctx, storeOptions)
		var next activities.Admission // fresh: decoding into adm would keep its omitted fields
		if err := workflow.ExecuteActivity(storeCtx, a.Throttle, in).Get(ctx, &next); err != nil {
			return MessageResult{}, true, err
		}
		adm = next
	}
	return MessageResult{}, false, nil
}

// runCommand runs a command message through the registry (the RunCommand
// activity) and answers it, or hands it to the workflow-side route the
// registry names (routes.go), which answers it. When the command asks the
// LLM instead (!gpt), ask is the text to answer and nothing was sent.
func runCommand(ctx workflow.Context, in message.Inbound) (res MessageResult, ask string, err error) {
	var a *activities.Activities
	logger := workflow.GetLogger(ctx)
	if err := workflow.UpsertTypedSearchAttributes(ctx, SACommand.ValueSet(commandAttr(in.Text))); err != nil {
		return MessageResult{}, "", err
	}
	var cr activities.CommandResult
	code := errcode.Code("")
	storeCtx := workflow.WithActivityOptions(ctx, storeOptions)
	if err := workflow.ExecuteActivity(storeCtx, a.RunCommand, in).Get(ctx, &cr); err != nil {
		if code = codeOf(err); code == errcode.LLMUnavailable { // a timeout: no LLM involved here
			code = errcode.Internal
		}
		cr.Text = errcode.UserMessage(code)
		logger.Warn("command failed; replying with an error code", "code", string(code), "error", err)
	} else {
		code = cr.Code
	}
	if cr.AskLLM != "" {
		return MessageResult{}, cr.AskLLM, nil
	}
	if code == "" && cr.Route != "" {
		if route, ok := commandRoutes[cr.Route]; ok {
			res, err := route(ctx, in, cr)
			res.Command = cr.Name
			return res, "", err
		}
		// A worker older than the registry that named the route: a deploy
		// in progress. The user hears INTERNAL; the operator the route.
		code = errcode.Internal
		cr.Text = errcode.UserMessage(code)
		logger.Error("command route unknown to this worker", "route", string(cr.Route), "command", cr.Name)
	}
	reply, err := sendText(ctx, in, 0, cr.Text)
	if err != nil {
		return MessageResult{}, "", err
	}
	return MessageResult{ReplyID: reply.ID, Code: code, Command: cr.Name}, "", setOutcome(ctx, outcomeOf(code))
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
