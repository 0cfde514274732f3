package workflows

import (
	"errors"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/wabot/wabot/activities"
	"github.com/wabot/wabot/internal/errcode"
	"github.com/wabot/wabot/internal/message"
)

// MessageResult is what a MessageWorkflow leaves behind for operators.
type MessageResult struct {
	ReplyID string `json:",omitempty"` // the reply sent, if any
	// AnsweredBy names the message whose run answered this one's burst.
	AnsweredBy string       `json:",omitempty"`
	Code       errcode.Code `json:",omitempty"` // why the reply is an error message, if it is
	Skipped    string       `json:",omitempty"` // why nothing was sent, if nothing was
	Command    string       `json:",omitempty"` // the command run, if the message was one
}

// commandRegistryChange is the workflow.GetVersion change ID of dispatching
// every command through the command registry (RunCommand, then the route
// table of routes.go). Runs from before it (DefaultVersion) finish on the
// paths they started on (message_v0.go).
const commandRegistryChange = "command-registry"

// MessageWorkflow is the life of one inbound message: admit → command,
// media step or LLM turn → send → record. Errors the user should hear about
// become a friendly reply with a stable code; the workflow fails only if the
// reply cannot be sent.
func MessageWorkflow(ctx workflow.Context, in message.Inbound) (MessageResult, error) {
	var a *activities.Activities
	var adm activities.Admission
	if err := executeStore(ctx, a.Admit, in).Get(ctx, &adm); err != nil {
		return MessageResult{}, err
	}
	if in.Hold != "" { // recorded; answered by another run of its burst, or a person took over
		return MessageResult{Skipped: in.Hold, AnsweredBy: in.AnsweredBy}, setOutcome(ctx, in.Hold)
	}
	// Refusals and backpressure (workflows/governance.go).
	if res, done, err := admitted(ctx, in, adm); done {
		return res, err
	}
	if workflow.GetVersion(ctx, commandRegistryChange, workflow.DefaultVersion, 1) == workflow.DefaultVersion {
		return messageV0(ctx, in)
	}
	switch route := mediaRoute(in); {
	case in.Kind == message.KindCommand:
		// Every command: the registry decides, inside RunCommand, and names
		// the route when the command runs on in the workflow.
		res, ask, err := runCommand(ctx, in)
		if ask == "" {
			return res, err
		}
		in.Text = ask // !gpt <text>: answered as <text>
	case route != "": // voice, images, documents, a reply to a document
		return mediaStep(ctx, in, route, false)
	default:
		if res, ok, err := confirmPending(ctx, in); ok {
			return res, err
		}
	}
	return answer(ctx, in)
}

// answer is the LLM turn of a message: typing… → LLMTurn → Send → RecordTurn.
func answer(ctx workflow.Context, in message.Inbound) (MessageResult, error) {
	var a *activities.Activities
	logger := workflow.GetLogger(ctx)
	gwCtx := workflow.WithTaskQueue(ctx, GatewayTaskQueue(in.Account))
	// Typing indicator: fire and forget; its failure never delays the reply.
	workflow.ExecuteActivity(workflow.WithActivityOptions(gwCtx, presenceOptions), ActivityPresence, in.Account, in.Chat, true)

	var turn activities.TurnResult
	var code errcode.Code
	text := ""
	if err := workflow.ExecuteActivity(workflow.WithActivityOptions(ctx, llmOptions), a.LLMTurn, in).Get(ctx, &turn); err != nil {
		if temporal.IsCanceledError(err) { // /stop: the LLM call is cancelled, nothing is sent
			_ = setOutcome(ctx, "stopped")
			return MessageResult{Skipped: "stopped"}, err
		}
		code = codeOf(err)
		text = errcode.UserMessage(code)
		logger.Warn("llm turn failed; replying with an error code", "code", string(code), "error", err)
	} else {
		text = turn.Text
	}

	reply := message.ReplyTo(in, 0, text)
	// From here the answer exists: a /stop now no longer cuts it off, so it
	// is sent and recorded whole, or (before this point) not at all.
	ctx, _ = workflow.NewDisconnectedContext(ctx)
	gwCtx = workflow.WithTaskQueue(ctx, GatewayTaskQueue(in.Account))
	if err := workflow.ExecuteActivity(workflow.WithActivityOptions(gwCtx, sendOptions), ActivitySend, reply).Get(ctx, nil); err != nil {
		_ = setOutcome(ctx, "send_failed")
		return MessageResult{}, err
	}

	rec := activities.RecordInput{Inbound: in, Reply: reply, Turn: turn, Code: code}
	if err := executeStore(ctx, a.RecordTurn, rec).Get(ctx, nil); err != nil {
		return MessageResult{ReplyID: reply.ID, Code: code}, err
	}
	return MessageResult{ReplyID: reply.ID, Code: code}, setOutcome(ctx, outcomeOf(code))
}

// outcomeOf is the WabotOutcome of a run that answered with code ("" = ok).
func outcomeOf(code errcode.Code) string {
	if code == "" {
		return "ok"
	}
	return string(code)
}

// codeOf finds the stable code of an activity failure: the ApplicationError
// type when it is one of ours, LLM_UNAVAILABLE when retries or time ran out.
func codeOf(err error) errcode.Code {
	if appErr, ok := errors.AsType[*temporal.ApplicationError](err); ok && errcode.Known(errcode.Code(appErr.Type())) {
		return errcode.Code(appErr.Type())
	}
	if _, ok := errors.AsType[*temporal.TimeoutError](err); ok {
		return errcode.LLMUnavailable
	}
	return errcode.Internal
}

func setOutcome(ctx workflow.Context, outcome string) error {
	return workflow.UpsertTypedSearchAttributes(ctx, SAOutcome.ValueSet(outcome))
}
