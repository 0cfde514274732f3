package workflows

import (
	"time"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/wabot/wabot/internal/message"
)

// ChatInput starts (or continues) a chat's inbox.
type ChatInput struct {
	Account     string
	ChatHash    string
	IdleTimeout time.Duration     // the run ends after this long without messages
	Pending     []message.Inbound // carried over by continue-as-new
	Seen        []string          // recently handled message IDs, oldest first

	// BurstWindow is the quiet time after a text message before the bot
	// answers: texts from the same sender within it are answered together.
	// 0 answers at once. BurstMax caps the whole wait.
	BurstWindow time.Duration `json:",omitempty"`
	BurstMax    time.Duration `json:",omitempty"`
	// TakeoverPause is how long the bot stays silent in a chat after the
	// owner wrote in it by hand (each manual message restarts it).
	TakeoverPause time.Duration `json:",omitempty"`
	// PausedUntil carries a running pause over continue-as-new.
	PausedUntil time.Time `json:",omitzero"`
}

const (
	// seenWindow bounds the message IDs a chat remembers for de-duplication
	// beyond what Temporal's workflow-ID uniqueness already guarantees.
	seenWindow = 256
	// messagesPerRun bounds a run's history; then it continues as new.
	messagesPerRun = 200
	defaultIdle    = 10 * time.Minute
)

// QueryStatus is the query that returns a ChatStatus.
const QueryStatus = "status"

// ChatStatus is a chat inbox's state, for operators and tests.
type ChatStatus struct {
	Received    int       // deliveries signalled into this run, duplicates included
	Duplicates  int       // deliveries skipped as already seen or queued
	Handled     int       // messages whose workflow this run ran
	Queued      int       // messages waiting
	Current     string    // message ID being handled, if any
	Bursts      int       // LLM turns that answered more than one message
	Stopped     int       // generations cancelled by /stop
	PausedUntil time.Time `json:",omitzero"` // the bot is silent here until then (a person took over)
}

// ChatWorkflow is a chat's inbox. The gateway signals every inbound message
// into it (signal-with-start, so the first message creates it). It runs one
// MessageWorkflow child at a time, in the order the messages arrived, so
// replies in a chat never overtake each other. A redelivered message is
// recognised by its ID and skipped; the child's ID, derived from the message
// ID and never reused, is the second guard.
//
// Since version 1 of chatInboxChange (chat_inbox.go) it also collects
// bursts, lets /stop cancel the running answer, and holds a takeover pause.
func ChatWorkflow(ctx workflow.Context, in ChatInput) error {
	if workflow.GetVersion(ctx, chatInboxChange, workflow.DefaultVersion, 1) >= 1 {
		return newInbox(ctx, in).run()
	}
	logger := workflow.GetLogger(ctx)
	idle := in.IdleTimeout
	if idle <= 0 {
		idle = defaultIdle
	}
	var queue []message.Inbound
	seen := newSeenSet(in.Seen)
	ch := workflow.GetSignalChannel(ctx, SignalInbound)

	var st ChatStatus
	if err := workflow.SetQueryHandler(ctx, QueryStatus, func() (ChatStatus, error) {
		out := st
		out.Queued = len(queue)
		return out, nil
	}); err != nil {
		return err
	}
	enqueue := func(m message.Inbound) {
		if seen.has(m.ID) || queued(queue, m.ID) {
			st.Duplicates++
			logger.Info("duplicate message skipped", "message_id", m.ID)
			return
		}
		queue = append(queue, m)
	}
	for _, m := range in.Pending {
		enqueue(m)
	}
	drain := func() {
		var m message.Inbound
		for ch.ReceiveAsync(&m) {
			st.Received++
			enqueue(m)
			m = message.Inbound{}
		}
	}

	for {
		drain()
		if len(queue) == 0 {
			if !waitForMessage(ctx, ch, idle, &st, enqueue) {
				drain() // a signal may have raced the timer
				if len(queue) == 0 {
					return nil
				}
			}
			continue
		}
		m := queue[0]
		queue = queue[1:]
		st.Current = m.ID
		runMessage(ctx, in.Account, m)
		st.Current = ""
		seen.add(m.ID)
		st.Handled++

		if st.Handled >= messagesPerRun || workflow.GetInfo(ctx).GetContinueAsNewSuggested() {
			drain()
			return workflow.NewContinueAsNewError(ctx, ChatWorkflow, ChatInput{
				Account: in.Account, ChatHash: in.ChatHash, IdleTimeout: in.IdleTimeout,
				Pending: queue, Seen: seen.list(),
			})
		}
	}
}

// waitForMessage blocks until a message arrives (true) or idle passes (false).
func waitForMessage(ctx workflow.Context, ch workflow.ReceiveChannel, idle time.Duration, st *ChatStatus, enqueue func(message.Inbound)) bool {
	timerCtx, cancel := workflow.WithCancel(ctx)
	defer cancel()
	got := false
	sel := workflow.NewSelector(ctx)
	sel.AddReceive(ch, func(c workflow.ReceiveChannel, _ bool) {
		var m message.Inbound
		c.Receive(ctx, &m)
		st.Received++
		enqueue(m)
		got = true
	})
	sel.AddFuture(workflow.NewTimer(timerCtx, idle), func(workflow.Future) {})
	sel.Select(ctx)
	return got
}

// runMessage runs one MessageWorkflow child and waits for it to close.
func runMessage(ctx workflow.Context, account string, m message.Inbound) {
	logger := workflow.GetLogger(ctx)
	opts := messageChildOptions(account, m)
	var res MessageResult
	err := workflow.ExecuteChildWorkflow(workflow.WithChildOptions(ctx, opts), MessageWorkflow, m).Get(ctx, &res)
	if temporal.IsWorkflowExecutionAlreadyStartedError(err) {
		logger.Info("message already handled", "message_id", m.ID)
		return
	}
	if err != nil {
		// The child failed after its own retries (e.g. the reply could not be
		// sent for a day). Operators see and retry it in the Web UI; the chat
		// moves on so one bad message never blocks the next.
		logger.Error("message workflow failed", "message_id", m.ID, "error", err)
	}
}

func queued(q []message.Inbound, id string) bool {
	for _, m := range q {
		if m.ID == id {
			return true
		}
	}
	return false
}

// seenSet is a bounded FIFO set of message IDs (deterministic: no map iteration).
type seenSet struct {
	order []string
	set   map[string]bool
}

func newSeenSet(ids []string) *seenSet {
	s := &seenSet{set: map[string]bool{}}
	for _, id := range ids {
		s.add(id)
	}
	return s
}

func (s *seenSet) has(id string) bool { return s.set[id] }

func (s *seenSet) add(id string) {
	if s.set[id] {
		return
	}
	s.order = append(s.order, id)
	s.set[id] = true
	if len(s.order) > seenWindow {
		delete(s.set, s.order[0])
		s.order = s.order[1:]
	}
}

func (s *seenSet) list() []string { return append([]string(nil), s.order...) }
