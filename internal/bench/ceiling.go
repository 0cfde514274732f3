package bench

import (
	"context"
	"time"

	"go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"
)

// The ceiling is the bot's workflow shape with the work taken out: a per-chat
// inbox started with signal-with-start that runs one child per message, and a
// child with the same activities on the same task queues — Admit, Presence
// (not awaited), LLMTurn, Send (on the gateway's queue) and RecordTurn — each
// doing nothing. Its throughput on the same server and machine is what the
// engine allows; the bot's is reported as a fraction of it.

// Names of the ceiling's workflows, signal and activities.
const (
	CeilingChatWorkflowName    = "CeilingChat"
	CeilingMessageWorkflowName = "CeilingMessage"
	CeilingSignal              = "inbound"
	CeilingSendActivity        = "CeilingSend"
	CeilingPresenceActivity    = "CeilingPresence"
	CeilingNoopActivity        = "CeilingNoop"
)

// CeilingMessage is one message of the ceiling load.
type CeilingMessage struct {
	ID           string
	GatewayQueue string
}

// CeilingChat is the ceiling's inbox: one child at a time, in arrival order,
// ending after idle without messages.
func CeilingChat(ctx workflow.Context, idle time.Duration) error {
	ch := workflow.GetSignalChannel(ctx, CeilingSignal)
	for {
		var m CeilingMessage
		timerCtx, cancel := workflow.WithCancel(ctx)
		got := false
		sel := workflow.NewSelector(ctx)
		sel.AddReceive(ch, func(c workflow.ReceiveChannel, _ bool) { c.Receive(ctx, &m); got = true })
		sel.AddFuture(workflow.NewTimer(timerCtx, idle), func(workflow.Future) {})
		sel.Select(ctx)
		cancel()
		if !got {
			if !ch.ReceiveAsync(&m) {
				return nil
			}
		}
		opts := workflow.ChildWorkflowOptions{
			WorkflowID:            "ceilmsg-" + m.ID,
			WorkflowIDReusePolicy: enums.WORKFLOW_ID_REUSE_POLICY_REJECT_DUPLICATE,
			ParentClosePolicy:     enums.PARENT_CLOSE_POLICY_ABANDON,
		}
		_ = workflow.ExecuteChildWorkflow(workflow.WithChildOptions(ctx, opts), CeilingMessageWorkflowName, m).Get(ctx, nil)
	}
}

var ceilingActivityOptions = workflow.ActivityOptions{
	StartToCloseTimeout: 15 * time.Second,
	RetryPolicy:         &temporal.RetryPolicy{InitialInterval: 200 * time.Millisecond},
}

// CeilingMessageFlow runs five do-nothing activities in the bot's order.
func CeilingMessageFlow(ctx workflow.Context, m CeilingMessage) error {
	ctx = workflow.WithActivityOptions(ctx, ceilingActivityOptions)
	gw := workflow.WithTaskQueue(ctx, m.GatewayQueue)
	if err := workflow.ExecuteActivity(ctx, CeilingNoopActivity, "admit").Get(ctx, nil); err != nil {
		return err
	}
	workflow.ExecuteActivity(gw, CeilingPresenceActivity, m.ID)
	if err := workflow.ExecuteActivity(ctx, CeilingNoopActivity, "llm").Get(ctx, nil); err != nil {
		return err
	}
	if err := workflow.ExecuteActivity(gw, CeilingSendActivity, m.ID).Get(ctx, nil); err != nil {
		return err
	}
	return workflow.ExecuteActivity(ctx, CeilingNoopActivity, "record").Get(ctx, nil)
}

// RegisterCeilingWorker registers the ceiling's workflows and AI-queue activity.
func RegisterCeilingWorker(w worker.Registry) {
	w.RegisterWorkflowWithOptions(CeilingChat, workflow.RegisterOptions{Name: CeilingChatWorkflowName})
	w.RegisterWorkflowWithOptions(CeilingMessageFlow, workflow.RegisterOptions{Name: CeilingMessageWorkflowName})
	w.RegisterActivityWithOptions(func(context.Context, string) error { return nil },
		activity.RegisterOptions{Name: CeilingNoopActivity})
}

// RegisterCeilingGateway registers the ceiling's gateway-queue activities;
// sent is called when a message's Send runs (the reply "went out").
func RegisterCeilingGateway(w worker.Registry, sent func(id string)) {
	w.RegisterActivityWithOptions(func(_ context.Context, id string) error { sent(id); return nil },
		activity.RegisterOptions{Name: CeilingSendActivity})
	w.RegisterActivityWithOptions(func(context.Context, string) error { return nil },
		activity.RegisterOptions{Name: CeilingPresenceActivity})
}
