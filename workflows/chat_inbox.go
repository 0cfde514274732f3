package workflows

import (
	"strings"
	"time"

	"go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/wabot/wabot/internal/message"
)

// chatInboxChange is the workflow.GetVersion change ID of the inbox that
// collects bursts, obeys /stop and holds takeover pauses. Runs started
// before it (DefaultVersion) keep the plain one-at-a-time loop of chat.go.
const chatInboxChange = "chat-inbox-bursts-stop-takeover"

// SignalOwner delivers an OwnerEvent to a ChatWorkflow: the owner of the
// linked number wrote in the chat by hand, or sent /bot pause|resume there.
const SignalOwner = "owner"

// Owner actions (OwnerEvent.Action).
const (
	OwnerManual = "manual" // a message typed on the phone: pause (again) for TakeoverPause
	OwnerPause  = "pause"  // /bot pause
	OwnerResume = "resume" // /bot resume
)

// OwnerEvent is something the owner did in a chat from the phone.
type OwnerEvent struct {
	Action    string
	MessageID string
}

// Defaults and bounds of the inbox's timing.
const (
	defaultTakeoverPause = 30 * time.Minute
	maxBurstWindow       = 10 * time.Second // a longer quiet window would feel like a broken bot
	defaultBurstMaxRatio = 4                // BurstMax defaults to four windows
)

// Outcomes the inbox shows in its WabotOutcome search attribute.
const (
	chatOutcomePaused = "paused"
	chatOutcomeActive = "active"
)

// Reply texts of /stop.
const (
	stopDone    = "Stopped."
	stopNothing = "There's nothing to stop."
)

// inbox is one run of a chat's inbox (version 1).
type inbox struct {
	ctx    workflow.Context
	in     ChatInput
	st     ChatStatus
	queue  []message.Inbound
	seen   *seenSet
	msgs   workflow.ReceiveChannel
	owner  workflow.ReceiveChannel
	paused time.Time // the bot is silent until then

	running     workflow.Future // the MessageWorkflow child answering now, if any
	cancelChild workflow.CancelFunc
}

func newInbox(ctx workflow.Context, in ChatInput) *inbox {
	in.BurstWindow = min(max(in.BurstWindow, 0), maxBurstWindow)
	if in.BurstMax < in.BurstWindow {
		in.BurstMax = defaultBurstMaxRatio * in.BurstWindow
	}
	if in.TakeoverPause <= 0 {
		in.TakeoverPause = defaultTakeoverPause
	}
	if in.IdleTimeout <= 0 {
		in.IdleTimeout = defaultIdle
	}
	return &inbox{
		ctx: ctx, in: in, seen: newSeenSet(in.Seen), paused: in.PausedUntil,
		msgs:  workflow.GetSignalChannel(ctx, SignalInbound),
		owner: workflow.GetSignalChannel(ctx, SignalOwner),
	}
}

func (b *inbox) run() error {
	ctx := b.ctx
	if err := workflow.SetQueryHandler(ctx, QueryStatus, func() (ChatStatus, error) {
		out := b.st
		out.Queued = len(b.queue)
		if b.isPaused() {
			out.PausedUntil = b.paused
		}
		return out, nil
	}); err != nil {
		return err
	}
	for _, m := range b.in.Pending {
		b.enqueue(m)
	}
	for {
		b.drain()
		if len(b.queue) == 0 {
			if !b.wait(b.idleUntil()) {
				b.drain() // a signal may have raced the timer
				if len(b.queue) == 0 && !b.isPaused() {
					return nil
				}
			}
			continue
		}
		b.collectBurst()
		batch := b.takeBatch()
		b.answer(batch)
		if b.st.Handled >= messagesPerRun || workflow.GetInfo(ctx).GetContinueAsNewSuggested() {
			b.drain()
			next := b.in
			next.Pending, next.Seen, next.PausedUntil = b.queue, b.seen.list(), time.Time{}
			if b.isPaused() {
				next.PausedUntil = b.paused
			}
			return workflow.NewContinueAsNewError(ctx, ChatWorkflow, next)
		}
	}
}

// receive handles one delivered message: /stop acts at once, anything else
// queues (unless already seen).
func (b *inbox) receive(m message.Inbound) {
	b.st.Received++
	if isStop(m) {
		b.stop(m)
		return
	}
	b.enqueue(m)
}

func (b *inbox) enqueue(m message.Inbound) {
	if b.seen.has(m.ID) || queued(b.queue, m.ID) {
		b.st.Duplicates++
		workflow.GetLogger(b.ctx).Info("duplicate message skipped", "message_id", m.ID)
		return
	}
	b.queue = append(b.queue, m)
}

// drain takes every signal already delivered, without blocking.
func (b *inbox) drain() {
	for {
		var m message.Inbound
		if b.msgs.ReceiveAsync(&m) {
			b.receive(m)
			continue
		}
		var o OwnerEvent
		if b.owner.ReceiveAsync(&o) {
			b.ownerEvent(o)
			continue
		}
		return
	}
}

// wait blocks until a signal arrives (true) or until passes (false). A pause
// that ends meanwhile is noticed on its own timer, so operators see the
// chat active again when it is.
func (b *inbox) wait(until time.Time) bool {
	ctx, cancel := workflow.WithCancel(b.ctx)
	defer cancel()
	got := false
	sel := workflow.NewSelector(b.ctx)
	sel.AddReceive(b.msgs, func(c workflow.ReceiveChannel, _ bool) {
		var m message.Inbound
		c.Receive(b.ctx, &m)
		b.receive(m)
		got = true
	})
	sel.AddReceive(b.owner, func(c workflow.ReceiveChannel, _ bool) {
		var o OwnerEvent
		c.Receive(b.ctx, &o)
		b.ownerEvent(o)
		got = true
	})
	d := until.Sub(workflow.Now(b.ctx))
	if d <= 0 {
		return false
	}
	sel.AddFuture(workflow.NewTimer(ctx, d), func(workflow.Future) {})
	sel.Select(b.ctx)
	b.refreshOutcome()
	return got
}

// idleUntil is when an empty inbox closes: after the idle timeout, but
// never before a pause ends (the pause lives in this workflow).
func (b *inbox) idleUntil() time.Time {
	t := workflow.Now(b.ctx).Add(b.in.IdleTimeout)
	if b.isPaused() && b.paused.After(t) {
		return b.paused
	}
	return t
}

// collectBurst waits, while the head of the queue is a text, until no new
// message came for BurstWindow (at most BurstMax in all), so messages typed
// in a row are answered together.
func (b *inbox) collectBurst() {
	if b.in.BurstWindow <= 0 || !burstable(b.queue[0]) || b.isPaused() {
		return
	}
	deadline := workflow.Now(b.ctx).Add(b.in.BurstMax)
	for {
		quiet := workflow.Now(b.ctx).Add(b.in.BurstWindow)
		if quiet.After(deadline) {
			quiet = deadline
		}
		n := len(b.queue)
		if !b.wait(quiet) || len(b.queue) == 0 || !workflow.Now(b.ctx).Before(deadline) {
			return
		}
		if len(b.queue) == n { // an owner event, or a duplicate: keep the quiet time running
			continue
		}
		if last := b.queue[len(b.queue)-1]; !burstable(last) {
			return // a command or media ends the burst: answer what came before now
		}
	}
}

// takeBatch removes the next messages to answer in one turn from the
// queue: the head and the texts of the same sender that follow it (or the
// head alone when it is not a text, or while paused).
func (b *inbox) takeBatch() []message.Inbound {
	n := 1
	if burstable(b.queue[0]) && b.in.BurstWindow > 0 && !b.isPaused() {
		for n < len(b.queue) && burstable(b.queue[n]) && b.queue[n].Sender == b.queue[0].Sender {
			n++
		}
	}
	batch := append([]message.Inbound(nil), b.queue[:n]...)
	b.queue = b.queue[n:]
	return batch
}

// answer runs the batch's MessageWorkflows: the earlier messages are
// recorded and point at the last one, whose run answers them all in one
// LLM turn. While a person has taken the chat over, each is only recorded.
func (b *inbox) answer(batch []message.Inbound) {
	leader := batch[len(batch)-1]
	paused := b.isPaused()
	for _, m := range batch[:len(batch)-1] {
		m.Hold, m.AnsweredBy = message.HoldBurst, leader.ID
		leader.Burst = append(leader.Burst, message.BurstPart{ID: m.ID, Text: m.Text})
		b.runChild(m)
	}
	if paused {
		leader.Hold = message.HoldPaused
	}
	if len(batch) > 1 {
		b.st.Bursts++
	}
	b.runChild(leader)
}

// runChild runs one MessageWorkflow and waits for it, taking deliveries
// meanwhile: a /stop cancels it, other messages queue behind it.
func (b *inbox) runChild(m message.Inbound) {
	logger := workflow.GetLogger(b.ctx)
	childCtx, cancel := workflow.WithCancel(b.ctx)
	opts := messageChildOptions(b.in.Account, m)
	opts.WaitForCancellation = true // after /stop, the next answer starts once this one really ended
	b.seen.add(m.ID)                // taken: a redelivery meanwhile is a duplicate
	fut := workflow.ExecuteChildWorkflow(workflow.WithChildOptions(childCtx, opts), MessageWorkflow, m)
	b.running, b.cancelChild, b.st.Current = fut, cancel, m.ID
	for !fut.IsReady() {
		sel := workflow.NewSelector(b.ctx)
		sel.AddFuture(fut, func(workflow.Future) {})
		sel.AddReceive(b.msgs, func(c workflow.ReceiveChannel, _ bool) {
			var in message.Inbound
			c.Receive(b.ctx, &in)
			b.receive(in)
		})
		sel.AddReceive(b.owner, func(c workflow.ReceiveChannel, _ bool) {
			var o OwnerEvent
			c.Receive(b.ctx, &o)
			b.ownerEvent(o)
		})
		sel.Select(b.ctx)
	}
	b.running, b.cancelChild, b.st.Current = nil, nil, ""
	cancel()
	var res MessageResult
	err := fut.Get(b.ctx, &res)
	switch {
	case temporal.IsWorkflowExecutionAlreadyStartedError(err):
		logger.Info("message already handled", "message_id", m.ID)
	case temporal.IsCanceledError(err):
		logger.Info("answer stopped", "message_id", m.ID)
	case err != nil:
		// As in the plain loop: operators retry it; the chat moves on.
		logger.Error("message workflow failed", "message_id", m.ID, "error", err)
	}
	b.st.Handled++
}

// stop cancels the running answer (its LLM call is cancelled; a reply that
// is already being sent completes, so nothing goes out half) and says so.
func (b *inbox) stop(m message.Inbound) {
	text := stopNothing
	if b.cancelChild != nil {
		b.cancelChild()
		b.cancelChild = nil
		b.st.Stopped++
		text = stopDone
	}
	if b.seen.has(m.ID) {
		return // a redelivered /stop
	}
	b.seen.add(m.ID)
	gwCtx := workflow.WithActivityOptions(workflow.WithTaskQueue(b.ctx, GatewayTaskQueue(m.Account)), sendOptions)
	if err := workflow.ExecuteActivity(gwCtx, ActivitySend, message.ReplyTo(m, 0, text)).Get(b.ctx, nil); err != nil {
		workflow.GetLogger(b.ctx).Error("answering /stop failed", "message_id", m.ID, "error", err)
	}
}

// ownerEvent applies a takeover action.
func (b *inbox) ownerEvent(o OwnerEvent) {
	now := workflow.Now(b.ctx)
	switch o.Action {
	case OwnerManual, OwnerPause:
		b.paused = now.Add(b.in.TakeoverPause)
	case OwnerResume:
		b.paused = time.Time{}
	}
	workflow.GetLogger(b.ctx).Info("owner action", "action", o.Action, "paused_until", b.paused)
	b.refreshOutcome()
}

func (b *inbox) isPaused() bool { return workflow.Now(b.ctx).Before(b.paused) }

// refreshOutcome shows a pause in the inbox's WabotOutcome search
// attribute ("paused", then "active"), so operators find paused chats.
func (b *inbox) refreshOutcome() {
	want := ""
	switch {
	case b.isPaused():
		want = chatOutcomePaused
	case !b.paused.IsZero():
		want = chatOutcomeActive
	}
	if want == "" {
		return
	}
	if cur, ok := workflow.GetTypedSearchAttributes(b.ctx).GetKeyword(SAOutcome); ok && cur == want {
		return
	}
	if err := workflow.UpsertTypedSearchAttributes(b.ctx, SAOutcome.ValueSet(want)); err != nil {
		workflow.GetLogger(b.ctx).Warn("showing the pause failed", "error", err)
	}
}

// burstable reports the messages a burst may hold: plain texts.
func burstable(m message.Inbound) bool { return m.Kind == message.KindText && m.Hold == "" }

// isStop reports a /stop (or !stop) command.
func isStop(m message.Inbound) bool {
	if m.Kind != message.KindCommand {
		return false
	}
	name, args := splitCommand(m.Text)
	return name == "stop" && strings.TrimSpace(args) == ""
}

// messageChildOptions are the options of the MessageWorkflow child of m.
func messageChildOptions(account string, m message.Inbound) workflow.ChildWorkflowOptions {
	return workflow.ChildWorkflowOptions{
		WorkflowID:            MessageWorkflowID(account, m.ChatHash, m.ID),
		WorkflowIDReusePolicy: enums.WORKFLOW_ID_REUSE_POLICY_REJECT_DUPLICATE,
		ParentClosePolicy:     enums.PARENT_CLOSE_POLICY_ABANDON,
		TypedSearchAttributes: temporal.NewSearchAttributes(
			SAAccount.ValueSet(account), SAChat.ValueSet(m.ChatHash), SAKind.ValueSet(string(m.Kind)),
		),
	}
}
