package workflows_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/mock"
	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/testsuite"

	"github.com/wabot/wabot/activities"
	"github.com/wabot/wabot/internal/errcode"
	"github.com/wabot/wabot/internal/message"
	"github.com/wabot/wabot/workflows"
)

// sendLog records what the fake gateway activity sent.
type sendLog struct {
	mu      sync.Mutex
	replies []message.Reply
}

func (s *sendLog) send(_ context.Context, r message.Reply) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.replies = append(s.replies, r)
	return nil
}

func (s *sendLog) texts() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]string, len(s.replies))
	for i, r := range s.replies {
		out[i] = r.Text
	}
	return out
}

// setup returns a test environment with the workflows registered, the store
// activities mocked as successes, the LLM echoing, and a recording Send.
func setup(t *testing.T) (*testsuite.TestWorkflowEnvironment, *sendLog) {
	t.Helper()
	return setupWithAdmit(t, activities.Admission{Answer: true}, nil)
}

// setupWithAdmit is setup with Admit answering admit's values (a function
// of the activity's arguments, or its results).
func setupWithAdmit(t *testing.T, admit ...any) (*testsuite.TestWorkflowEnvironment, *sendLog) {
	t.Helper()
	var suite testsuite.WorkflowTestSuite
	env := suite.NewTestWorkflowEnvironment()
	env.RegisterWorkflow(workflows.ChatWorkflow)
	env.RegisterWorkflow(workflows.MessageWorkflow)
	var a *activities.Activities
	env.RegisterActivity(a)
	log := &sendLog{}
	env.RegisterActivityWithOptions(log.send, activity.RegisterOptions{Name: workflows.ActivitySend})
	env.RegisterActivityWithOptions(func(context.Context, string, string, bool) error { return nil },
		activity.RegisterOptions{Name: workflows.ActivityPresence})
	env.OnActivity(a.Admit, mock.Anything, mock.Anything).Return(admit...).Maybe()
	env.OnActivity(a.RecordTurn, mock.Anything, mock.Anything).Return(nil).Maybe()
	return env, log
}

func inbound(id, text string) message.Inbound {
	return message.Inbound{Account: "acct", ID: id, Chat: "15550100@s.whatsapp.net", ChatHash: "h1", Kind: message.KindText, Text: text}
}

func echo(_ context.Context, in message.Inbound) (activities.TurnResult, error) {
	return activities.TurnResult{Text: "re: " + in.Text, Model: "m"}, nil
}

func TestMessageWorkflowReplies(t *testing.T) {
	t.Parallel()
	env, log := setup(t)
	var a *activities.Activities
	env.OnActivity(a.LLMTurn, mock.Anything, mock.Anything).Return(echo)
	env.ExecuteWorkflow(workflows.MessageWorkflow, inbound("M1", "hello"))
	require.True(t, env.IsWorkflowCompleted())
	require.NoError(t, env.GetWorkflowError())
	var res workflows.MessageResult
	require.NoError(t, env.GetWorkflowResult(&res))
	require.Equal(t, []string{"re: hello"}, log.texts())
	require.Equal(t, message.ReplyID("acct", "M1", 0), res.ReplyID)
	require.Equal(t, res.ReplyID, log.replies[0].ID)
	require.Empty(t, res.Code)
}

func TestMessageWorkflowErrorCodes(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name string
		err  error
		want errcode.Code
	}{
		{"rejected", temporal.NewNonRetryableApplicationError("bad request", string(errcode.LLMRejected), nil), errcode.LLMRejected},
		{"refused", temporal.NewNonRetryableApplicationError("refused", string(errcode.LLMRefused), nil), errcode.LLMRefused},
		{"unknown", temporal.NewNonRetryableApplicationError("boom", "SOMETHING_ELSE", nil), errcode.Internal},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			env, log := setup(t)
			var a *activities.Activities
			env.OnActivity(a.LLMTurn, mock.Anything, mock.Anything).Return(activities.TurnResult{}, tc.err)
			env.ExecuteWorkflow(workflows.MessageWorkflow, inbound("M1", "hello"))
			require.NoError(t, env.GetWorkflowError())
			var res workflows.MessageResult
			require.NoError(t, env.GetWorkflowResult(&res))
			require.Equal(t, tc.want, res.Code)
			require.Equal(t, []string{errcode.UserMessage(tc.want)}, log.texts())
		})
	}
}

func TestMessageWorkflowRetriesUnavailableLLM(t *testing.T) {
	t.Parallel()
	env, log := setup(t)
	var a *activities.Activities
	calls := 0
	env.OnActivity(a.LLMTurn, mock.Anything, mock.Anything).Return(func(ctx context.Context, in message.Inbound) (activities.TurnResult, error) {
		calls++
		if calls < 3 {
			return activities.TurnResult{}, temporal.NewApplicationError("503", string(errcode.LLMUnavailable))
		}
		return echo(ctx, in)
	})
	env.ExecuteWorkflow(workflows.MessageWorkflow, inbound("M1", "hi"))
	require.NoError(t, env.GetWorkflowError())
	require.Equal(t, 3, calls)
	require.Equal(t, []string{"re: hi"}, log.texts())
}

func TestMessageWorkflowGivesUpWithCode(t *testing.T) {
	t.Parallel()
	env, log := setup(t)
	var a *activities.Activities
	env.OnActivity(a.LLMTurn, mock.Anything, mock.Anything).Return(activities.TurnResult{},
		temporal.NewApplicationError("503", string(errcode.LLMUnavailable)))
	env.ExecuteWorkflow(workflows.MessageWorkflow, inbound("M1", "hi"))
	require.NoError(t, env.GetWorkflowError())
	require.Equal(t, []string{errcode.UserMessage(errcode.LLMUnavailable)}, log.texts())
}

func TestChatWorkflowKeepsOrderAndSkipsDuplicates(t *testing.T) {
	t.Parallel()
	env, log := setup(t)
	var a *activities.Activities
	env.OnActivity(a.LLMTurn, mock.Anything, mock.Anything).Return(echo)
	for i, m := range []message.Inbound{inbound("M1", "one"), inbound("M2", "two"), inbound("M1", "one"), inbound("M3", "three")} {
		env.RegisterDelayedCallback(func() { env.SignalWorkflow(workflows.SignalInbound, m) }, time.Duration(i)*time.Millisecond)
	}
	// A redelivery long after the first was handled.
	env.RegisterDelayedCallback(func() { env.SignalWorkflow(workflows.SignalInbound, inbound("M2", "two")) }, time.Minute)
	env.ExecuteWorkflow(workflows.ChatWorkflow, workflows.ChatInput{Account: "acct", ChatHash: "h1", IdleTimeout: 5 * time.Minute})
	require.True(t, env.IsWorkflowCompleted())
	require.NoError(t, env.GetWorkflowError())
	require.Equal(t, []string{"re: one", "re: two", "re: three"}, log.texts())
}

func TestChatWorkflowEndsWhenIdle(t *testing.T) {
	t.Parallel()
	env, log := setup(t)
	env.ExecuteWorkflow(workflows.ChatWorkflow, workflows.ChatInput{Account: "acct", ChatHash: "h1", IdleTimeout: time.Minute})
	require.True(t, env.IsWorkflowCompleted())
	require.NoError(t, env.GetWorkflowError())
	require.Empty(t, log.texts())
}

func TestChatWorkflowHandlesCarriedOverMessages(t *testing.T) {
	t.Parallel()
	env, log := setup(t)
	var a *activities.Activities
	env.OnActivity(a.LLMTurn, mock.Anything, mock.Anything).Return(echo)
	env.ExecuteWorkflow(workflows.ChatWorkflow, workflows.ChatInput{
		Account: "acct", ChatHash: "h1", IdleTimeout: time.Minute,
		Pending: []message.Inbound{inbound("M5", "five"), inbound("M4", "four")},
		Seen:    []string{"M4"},
	})
	require.NoError(t, env.GetWorkflowError())
	require.Equal(t, []string{"re: five"}, log.texts())
}

func TestMessageWorkflowRateLimitedSendsTheNoticeOnly(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name    string
		adm     activities.Admission
		replies []string
	}{
		{"first refusal", activities.Admission{Reason: "rate_limited_user", Code: errcode.RateLimited, Notice: "slow down"}, []string{"slow down"}},
		{"later refusals", activities.Admission{Reason: "rate_limited_user", Code: errcode.RateLimited}, nil},
		{"deny-list", activities.Admission{Reason: "denylist"}, nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var suite testsuite.WorkflowTestSuite
			env := suite.NewTestWorkflowEnvironment()
			env.RegisterWorkflow(workflows.MessageWorkflow)
			var a *activities.Activities
			env.RegisterActivity(a)
			log := &sendLog{}
			env.RegisterActivityWithOptions(log.send, activity.RegisterOptions{Name: workflows.ActivitySend})
			env.OnActivity(a.Admit, mock.Anything, mock.Anything).Return(tc.adm, nil)
			env.ExecuteWorkflow(workflows.MessageWorkflow, inbound("M1", "hello"))
			require.NoError(t, env.GetWorkflowError())
			var res workflows.MessageResult
			require.NoError(t, env.GetWorkflowResult(&res))
			require.Equal(t, tc.adm.Code, res.Code)
			require.Equal(t, tc.adm.Reason, res.Skipped)
			if tc.replies == nil {
				require.Empty(t, log.texts())
				return
			}
			require.Equal(t, tc.replies, log.texts())
		})
	}
}

func TestMessageWorkflowWaitsDurablyUnderGlobalLimit(t *testing.T) {
	t.Parallel()
	var suite testsuite.WorkflowTestSuite
	env := suite.NewTestWorkflowEnvironment()
	env.RegisterWorkflow(workflows.MessageWorkflow)
	var a *activities.Activities
	env.RegisterActivity(a)
	log := &sendLog{}
	env.RegisterActivityWithOptions(log.send, activity.RegisterOptions{Name: workflows.ActivitySend})
	env.RegisterActivityWithOptions(func(context.Context, string, string, bool) error { return nil },
		activity.RegisterOptions{Name: workflows.ActivityPresence})
	env.OnActivity(a.Admit, mock.Anything, mock.Anything).Return(
		activities.Admission{Answer: true, Reason: "busy", Wait: 30 * time.Second, BusyNotice: "busy!"}, nil)
	throttles := 0
	env.OnActivity(a.Throttle, mock.Anything, mock.Anything).Return(func(context.Context, message.Inbound) (activities.Admission, error) {
		throttles++
		if throttles < 3 {
			return activities.Admission{Answer: true, Reason: "busy", Wait: time.Minute}, nil
		}
		return activities.Admission{Answer: true}, nil
	})
	env.OnActivity(a.LLMTurn, mock.Anything, mock.Anything).Return(echo)
	env.OnActivity(a.RecordTurn, mock.Anything, mock.Anything).Return(nil)
	start := env.Now()
	env.ExecuteWorkflow(workflows.MessageWorkflow, inbound("M1", "hello"))
	require.NoError(t, env.GetWorkflowError())
	require.Equal(t, 3, throttles)
	require.Equal(t, []string{"busy!", "re: hello"}, log.texts(), "told once, then answered")
	require.NotEqual(t, log.replies[0].ID, log.replies[1].ID)
	require.GreaterOrEqual(t, env.Now().Sub(start), 2*time.Minute+30*time.Second, "waited on timers")
}

func TestMessageWorkflowCommands(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name    string
		text    string
		result  activities.CommandResult
		replies []string
		code    errcode.Code
	}{
		{"reply", "/help", activities.CommandResult{Name: "help", Text: "the help"}, []string{"the help"}, ""},
		{"refused", "/role list", activities.CommandResult{Name: "role list", Code: errcode.Forbidden, Text: "no"}, []string{"no"}, errcode.Forbidden},
		{"ask the llm", "!gpt hi there", activities.CommandResult{Name: "gpt", AskLLM: "hi there"}, []string{"re: hi there"}, ""},
		// A route this worker does not know (a registry newer than the
		// workflow code, mid-deploy) is answered INTERNAL, never dropped.
		{"unknown route", "/later", activities.CommandResult{Name: "later", Route: "later"}, []string{errcode.UserMessage(errcode.Internal)}, errcode.Internal},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			env, log := setup(t)
			var a *activities.Activities
			env.OnActivity(a.RunCommand, mock.Anything, mock.Anything).Return(tc.result, nil)
			env.OnActivity(a.LLMTurn, mock.Anything, mock.Anything).Return(echo).Maybe()
			in := inbound("M1", tc.text)
			in.Kind = message.KindCommand
			env.ExecuteWorkflow(workflows.MessageWorkflow, in)
			require.NoError(t, env.GetWorkflowError())
			var res workflows.MessageResult
			require.NoError(t, env.GetWorkflowResult(&res))
			require.Equal(t, tc.replies, log.texts())
			require.Equal(t, tc.code, res.Code)
		})
	}
}

func TestMessageWorkflowCommandInternalErrorNeverReachesTheUser(t *testing.T) {
	t.Parallel()
	env, log := setup(t)
	var a *activities.Activities
	env.OnActivity(a.RunCommand, mock.Anything, mock.Anything).Return(activities.CommandResult{},
		temporal.NewNonRetryableApplicationError("pq: connection refused to 10.0.0.5", string(errcode.Internal), nil))
	in := inbound("M1", "/usage")
	in.Kind = message.KindCommand
	env.ExecuteWorkflow(workflows.MessageWorkflow, in)
	require.NoError(t, env.GetWorkflowError())
	var res workflows.MessageResult
	require.NoError(t, env.GetWorkflowResult(&res))
	require.Equal(t, errcode.Internal, res.Code)
	require.Equal(t, []string{errcode.UserMessage(errcode.Internal)}, log.texts())
}

// Every workflow-side route the command registry names is in this worker's
// route table.
func TestEveryRouteOfTheRegistryExists(t *testing.T) {
	t.Parallel()
	require.NotEmpty(t, activities.CommandRoutes())
	for _, r := range activities.CommandRoutes() {
		require.Contains(t, workflows.Routes(), r)
	}
}
