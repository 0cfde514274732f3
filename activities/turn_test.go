package activities_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/testsuite"

	"github.com/wabot/wabot/activities"
	"github.com/wabot/wabot/internal/errcode"
	"github.com/wabot/wabot/internal/llm"
	"github.com/wabot/wabot/internal/logging"
	"github.com/wabot/wabot/internal/message"
	"github.com/wabot/wabot/internal/store"
	"github.com/wabot/wabot/internal/testkit"
)

// completer is a scripted LLM that records what it was asked.
type completer struct {
	mu   sync.Mutex
	reqs []llm.ChatRequest
	err  error
}

func (c *completer) Chat(_ context.Context, req llm.ChatRequest) (llm.ChatResponse, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.reqs = append(c.reqs, req)
	if c.err != nil {
		return llm.ChatResponse{}, c.err
	}
	last := req.Messages[len(req.Messages)-1].Content
	return llm.ChatResponse{Text: "re: " + last, Model: "m1", PromptTokens: 11, CompletionTokens: 3}, nil
}

var now = time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)

func setupTurn(t *testing.T, cfg activities.Config) (*activities.Activities, *store.Store, *completer) {
	t.Helper()
	st := store.New(testkit.Postgres(t))
	c := &completer{}
	a, err := activities.New(logging.Discard(), cfg, activities.Deps{Store: st, LLM: c, Now: func() time.Time { return now }})
	require.NoError(t, err)
	return a, st, c
}

func inbound(id, text string) message.Inbound {
	return message.Inbound{Account: "acct", ID: id, Chat: "15550100@s.whatsapp.net", Sender: "15550100@s.whatsapp.net",
		ChatHash: "h", SenderHash: "sh", Kind: message.KindText, Text: text, Timestamp: now}
}

// turn runs one complete turn as the workflow would.
func turn(t *testing.T, a *activities.Activities, in message.Inbound) activities.TurnResult {
	t.Helper()
	ctx := t.Context()
	adm, err := a.Admit(ctx, in)
	require.NoError(t, err)
	require.True(t, adm.Answer)
	res, err := a.LLMTurn(ctx, in)
	require.NoError(t, err)
	reply := message.Reply{Account: in.Account, Chat: in.Chat, ID: message.ReplyID(in.Account, in.ID, 0), Text: res.Text}
	rec := activities.RecordInput{Inbound: in, Reply: reply, Turn: res}
	require.NoError(t, a.RecordTurn(ctx, rec))
	require.NoError(t, a.RecordTurn(ctx, rec), "a retried record is a no-op")
	return res
}

func TestTurnsBuildMemoryWithinBudget(t *testing.T) {
	t.Parallel()
	a, st, c := setupTurn(t, activities.Config{SystemPrompt: "be brief", MemoryTokens: 13})
	turn(t, a, inbound("M1", "first question here"))
	turn(t, a, inbound("M2", "second question here"))
	res := turn(t, a, inbound("M3", "third"))
	require.Equal(t, "re: third", res.Text)

	last := c.reqs[len(c.reqs)-1]
	require.Equal(t, "be brief", last.System)
	require.Equal(t, "sh", last.User, "the LLM sees a hash, not the number")
	// Budget 13 tokens: only the newest turn (user 6 + assistant 7 tokens) fits.
	require.Equal(t, []llm.Message{
		{Role: "user", Content: "second question here"},
		{Role: "assistant", Content: "re: second question here"},
		{Role: "user", Content: "third"},
	}, last.Messages)
	require.Equal(t, 2, res.MemoryEntries)

	mem, err := st.LoadMemory(t.Context(), "acct", "15550100@s.whatsapp.net", 1000)
	require.NoError(t, err)
	require.Len(t, mem, 6, "three turns, each recorded once")
}

func TestMemoryNeverStartsWithAnAnswer(t *testing.T) {
	t.Parallel()
	a, _, c := setupTurn(t, activities.Config{MemoryTokens: 12})
	turn(t, a, inbound("M1", "second question here"))
	turn(t, a, inbound("M2", "third"))
	// 12 tokens hold the assistant's 7 but not the user's 6 before it.
	require.Equal(t, []llm.Message{{Role: "user", Content: "third"}}, c.reqs[1].Messages)
}

func TestLLMErrorsBecomeTypedTemporalErrors(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name      string
		err       error
		code      errcode.Code
		retryable bool
		delay     time.Duration
	}{
		{"rate limited", &llm.Error{Code: errcode.LLMUnavailable, Status: 429, Retryable: true, RetryAfter: 7 * time.Second, Err: errors.New("429")}, errcode.LLMUnavailable, true, 7 * time.Second},
		{"bad request", &llm.Error{Code: errcode.LLMRejected, Status: 400, Err: errors.New("400")}, errcode.LLMRejected, false, 0},
		{"refused", &llm.Error{Code: errcode.LLMRefused, Err: errors.New("refusal")}, errcode.LLMRefused, false, 0},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			a, _, c := setupTurn(t, activities.Config{})
			c.err = tc.err
			var suite testsuite.WorkflowTestSuite
			env := suite.NewTestActivityEnvironment()
			env.RegisterActivity(a)
			_, err := env.ExecuteActivity(a.LLMTurn, inbound("E1", "hi"))
			appErr, ok := errors.AsType[*temporal.ApplicationError](err)
			require.True(t, ok, "%T", err)
			require.Equal(t, string(tc.code), appErr.Type())
			require.Equal(t, !tc.retryable, appErr.NonRetryable())
			require.Equal(t, tc.delay, appErr.NextRetryDelay())
		})
	}
}

func TestAdmitRejectsIncompleteMessages(t *testing.T) {
	t.Parallel()
	a, _, _ := setupTurn(t, activities.Config{})
	_, err := a.Admit(t.Context(), message.Inbound{ID: "x"})
	appErr, ok := errors.AsType[*temporal.ApplicationError](err)
	require.True(t, ok)
	require.True(t, appErr.NonRetryable())
	require.Equal(t, string(errcode.InvalidArgument), appErr.Type())
}
