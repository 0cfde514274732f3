package workflows_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/mock"
	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/testsuite"

	"github.com/wabot/wabot/activities"
	"github.com/wabot/wabot/internal/message"
	"github.com/wabot/wabot/workflows"
)

// prompts records the prompts of the LLM turns.
type prompts struct {
	mu  sync.Mutex
	got []string
}

func (p *prompts) turn(_ context.Context, in message.Inbound) (activities.TurnResult, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.got = append(p.got, in.Prompt())
	return activities.TurnResult{Text: "re: " + in.Text, Model: "m"}, nil
}

func (p *prompts) all() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]string(nil), p.got...)
}

// statusAt queries the inbox's status at d (workflow time).
func statusAt(t *testing.T, env *testsuite.TestWorkflowEnvironment, d time.Duration) *workflows.ChatStatus {
	t.Helper()
	var st workflows.ChatStatus
	env.RegisterDelayedCallback(func() {
		v, err := env.QueryWorkflow(workflows.QueryStatus)
		require.NoError(t, err)
		require.NoError(t, v.Get(&st))
	}, d)
	return &st
}

func chatInput() workflows.ChatInput {
	return workflows.ChatInput{Account: "acct", ChatHash: "h1", IdleTimeout: 5 * time.Minute,
		BurstWindow: 1500 * time.Millisecond, BurstMax: 6 * time.Second, TakeoverPause: 30 * time.Minute}
}

func signalAt(env *testsuite.TestWorkflowEnvironment, d time.Duration, name string, arg any) {
	env.RegisterDelayedCallback(func() { env.SignalWorkflow(name, arg) }, d)
}

// Three texts 300 ms apart are one LLM turn holding all three, one reply;
// the earlier two are recorded and point at the third. A command right
// after a burst is not part of it.
func TestChatWorkflowAnswersABurstInOneTurn(t *testing.T) {
	t.Parallel()
	env, log := setup(t)
	var a *activities.Activities
	p := &prompts{}
	env.OnActivity(a.LLMTurn, mock.Anything, mock.Anything).Return(p.turn)
	for i, text := range []string{"hi", "I need help", "with my invoice"} {
		signalAt(env, time.Duration(i)*300*time.Millisecond, workflows.SignalInbound, inbound("B"+string(rune('1'+i)), text))
	}
	status := statusAt(t, env, time.Minute)
	env.ExecuteWorkflow(workflows.ChatWorkflow, chatInput())
	require.NoError(t, env.GetWorkflowError())
	require.Equal(t, []string{"hi\nI need help\nwith my invoice"}, p.all())
	require.Equal(t, []string{"re: with my invoice"}, log.texts())
	require.Equal(t, "B3", log.replies[0].InReplyTo, "the last message's run answers the burst")
	require.Equal(t, 3, status.Handled, "each message has its own run")
	require.Equal(t, 1, status.Bursts)
}

// A message that arrives while the answer is being generated is answered
// next, in a turn of its own.
func TestChatWorkflowAnswersALateMessageNext(t *testing.T) {
	t.Parallel()
	env, log := setup(t)
	var a *activities.Activities
	p := &prompts{}
	env.OnActivity(a.LLMTurn, mock.Anything, mock.Anything).After(10 * time.Second).Return(p.turn)
	signalAt(env, 0, workflows.SignalInbound, inbound("L1", "first"))
	signalAt(env, 5*time.Second, workflows.SignalInbound, inbound("L2", "second"))
	env.ExecuteWorkflow(workflows.ChatWorkflow, chatInput())
	require.NoError(t, env.GetWorkflowError())
	require.Equal(t, []string{"first", "second"}, p.all())
	require.Equal(t, []string{"re: first", "re: second"}, log.texts())
}

// /stop cancels the running answer (its LLM turn, still running on the
// workflow's clock): no reply to it, "Stopped." to the /stop; a /stop with
// nothing running says so. (internal/e2e TestStopCancelsTheLLMCall checks
// that the real LLM call is cancelled.)
func TestChatWorkflowStop(t *testing.T) {
	t.Parallel()
	env, log := setup(t)
	var a *activities.Activities
	env.OnActivity(a.LLMTurn, mock.Anything, mock.Anything).After(time.Hour).Return(echo)
	stop := inbound("S2", "/stop")
	stop.Kind = message.KindCommand
	again := inbound("S3", "!stop")
	again.Kind = message.KindCommand
	signalAt(env, 0, workflows.SignalInbound, inbound("S1", "write me a long essay"))
	signalAt(env, 10*time.Second, workflows.SignalInbound, stop)
	signalAt(env, 2*time.Minute, workflows.SignalInbound, again)
	status := statusAt(t, env, 3*time.Minute)
	env.ExecuteWorkflow(workflows.ChatWorkflow, chatInput())
	require.NoError(t, env.GetWorkflowError())
	require.Equal(t, []string{"Stopped.", "There's nothing to stop."}, log.texts())
	require.Equal(t, 1, status.Stopped)
	require.Equal(t, 1, status.Handled, "the stopped message's run; /stop is no run")
}

// The owner writing by hand pauses the bot in the chat: messages are
// recorded (their runs say "paused"), not answered, until the pause ends;
// /bot resume ends it at once.
func TestChatWorkflowTakeover(t *testing.T) {
	t.Parallel()
	admitted := []string{}
	var mu sync.Mutex
	env, log := setupWithAdmit(t, func(_ context.Context, in message.Inbound) (activities.Admission, error) {
		mu.Lock()
		defer mu.Unlock()
		admitted = append(admitted, in.ID)
		return activities.Admission{Answer: true}, nil
	})
	var a *activities.Activities
	p := &prompts{}
	env.OnActivity(a.LLMTurn, mock.Anything, mock.Anything).Return(p.turn)
	signalAt(env, 0, workflows.SignalOwner, workflows.OwnerEvent{Action: workflows.OwnerManual, MessageID: "P1"})
	signalAt(env, time.Minute, workflows.SignalInbound, inbound("T1", "are you there?"))
	during := statusAt(t, env, 2*time.Minute)
	signalAt(env, 31*time.Minute, workflows.SignalInbound, inbound("T2", "hello again"))
	signalAt(env, 40*time.Minute, workflows.SignalOwner, workflows.OwnerEvent{Action: workflows.OwnerPause, MessageID: "P2"})
	signalAt(env, 41*time.Minute, workflows.SignalInbound, inbound("T3", "still there?"))
	signalAt(env, 42*time.Minute, workflows.SignalOwner, workflows.OwnerEvent{Action: workflows.OwnerResume, MessageID: "P3"})
	signalAt(env, 43*time.Minute, workflows.SignalInbound, inbound("T4", "now?"))
	in := chatInput()
	in.IdleTimeout = time.Hour // the inbox outlives the pause (a new one would start unpaused anyway)
	env.ExecuteWorkflow(workflows.ChatWorkflow, in)
	require.NoError(t, env.GetWorkflowError())
	require.Equal(t, []string{"hello again", "now?"}, p.all(), "T1 and T3 came during a pause")
	require.Equal(t, []string{"re: hello again", "re: now?"}, log.texts())
	require.Equal(t, []string{"T1", "T2", "T3", "T4"}, admitted, "every message is recorded")
	require.False(t, during.PausedUntil.IsZero(), "operators see the pause")
}
