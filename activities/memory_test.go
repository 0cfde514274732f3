package activities_test

import (
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/wabot/wabot/activities"
	"github.com/wabot/wabot/internal/errcode"
	"github.com/wabot/wabot/internal/governance"
	"github.com/wabot/wabot/internal/llm"
	"github.com/wabot/wabot/internal/logging"
	"github.com/wabot/wabot/internal/message"
	"github.com/wabot/wabot/internal/openaifake"
	"github.com/wabot/wabot/internal/secret"
	"github.com/wabot/wabot/internal/store"
	"github.com/wabot/wabot/internal/testkit"
)

// tokens is the activities' estimate of a message's prompt cost (text
// tokens at about four bytes each, plus four for the message).
func tokens(s string) int { return len(s)/4 + 1 + 4 }

// summarizer stands in for the model's summarizing: it keeps the summary so
// far, then the start of each new user turn (a real model compresses
// harder; the fake's max_tokens truncation bounds it either way).
func summarizer(cr openaifake.ChatRequest) (string, bool) {
	if !strings.HasPrefix(cr.Messages[0].Text, "You keep the running summary") {
		return "", false
	}
	in := cr.Messages[len(cr.Messages)-1].Text
	prev, turns, _ := strings.Cut(strings.TrimPrefix(in, "Summary so far:\n"), "\n\nNew turns:\n")
	var b strings.Builder
	if prev != "(none yet)" {
		b.WriteString(prev)
	}
	for line := range strings.Lines(turns) {
		if u, ok := strings.CutPrefix(line, "user: "); ok {
			b.WriteString(" " + u[:min(len(u), 60)])
		}
	}
	return strings.TrimSpace(b.String()), true
}

// TestMemoryOver500Turns: one chat, 500 turns through LLMTurn, RecordTurn
// and FoldMemory (as MessageWorkflow runs them) against the fake OpenAI
// server: every prompt stays within the budget, the pinned facts are in
// every prompt, and a fact told at turn 3 is still in the prompt at turn
// 500, through the running summary.
func TestMemoryOver500Turns(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	fake := openaifake.New()
	t.Cleanup(fake.Close)
	var mu sync.Mutex
	var last openaifake.ChatRequest
	folds := 0
	fake.SetReply(func(cr openaifake.ChatRequest) string {
		mu.Lock()
		defer mu.Unlock()
		if s, ok := summarizer(cr); ok {
			folds++
			return s
		}
		last = cr
		return "Noted: " + cr.Messages[len(cr.Messages)-1].Text[:40]
	})
	lc, err := llm.New(logging.Discard(), llm.Config{BaseURL: fake.URL(), APIKey: secret.New("k"), Model: "gpt-test"})
	require.NoError(t, err)
	st := store.New(testkit.Postgres(t))
	cfg := activities.Config{SystemPrompt: "You are wabot.", MemoryTokens: 1000, PinnedTokens: 120, Retention: 24 * time.Hour}
	a, err := activities.New(logging.Discard(), cfg, activities.Deps{Store: st, LLM: lc})
	require.NoError(t, err)

	pinned := []string{"The user is vegetarian.", "Answer in metric units."}
	for i, f := range pinned {
		ref := store.ChatRef{Account: "acct", Chat: "15550100@s.whatsapp.net", Sender: "15550100@s.whatsapp.net", MessageID: fmt.Sprintf("PIN%d", i)}
		require.NoError(t, st.PinFact(ctx, ref, f, tokens(f), 100))
	}
	const turns = 500
	bound := 0
	for i := 1; i <= turns; i++ {
		text := fmt.Sprintf("Turn %d. Tell me more about the weather in Berlin today, and the trains, and the museums.", i)
		if i == 3 {
			text = "Turn 3. My sister is called Ottilie and lives in Graz."
		}
		in := inbound(fmt.Sprintf("T%04d", i), text)
		in.Timestamp = time.Now()
		_, err := a.Admit(ctx, in)
		require.NoError(t, err)
		res, err := a.LLMTurn(ctx, in)
		require.NoError(t, err)
		reply := message.Reply{Account: in.Account, Chat: in.Chat, ID: message.ReplyID(in.Account, in.ID, 0), Text: res.Text}
		require.NoError(t, a.RecordTurn(ctx, activities.RecordInput{Inbound: in, Reply: reply, Turn: res}))
		if res.Fold {
			_, err := a.FoldMemory(ctx, activities.FoldInput{Account: in.Account, Chat: in.Chat, ChatHash: in.ChatHash})
			require.NoError(t, err)
		}

		// The fake's own count: 3 + per message 4 + ceil(runes/4).
		bound = 3 + tokens(cfg.SystemPrompt) + cfg.PinnedTokens + cfg.MemoryTokens + tokens(text)
		require.LessOrEqual(t, res.PromptTokens, bound, "turn %d", i)
		mu.Lock()
		system := last.Messages[0].Text
		mu.Unlock()
		for _, f := range pinned {
			require.Contains(t, system, f, "turn %d", i)
		}
		if i > 20 {
			require.Contains(t, system, "Ottilie", "turn %d: the summary carries turn 3", i)
		}
	}
	mu.Lock()
	final := last
	mu.Unlock()
	for _, m := range final.Messages[1:] {
		require.NotContains(t, m.Text, "Ottilie", "turn 3 is long out of the window: only the summary has it")
	}
	require.Greater(t, folds, 0)
	require.Less(t, folds, turns/4, "folding costs far fewer calls than turns")
	t.Logf("%d turns: %d summarizing calls (%.1f per 100 turns); prompt bound %d tokens", turns, folds, float64(folds)*100/turns, bound)

	// A retried fold changes nothing and calls nobody.
	before := folds
	res, err := a.FoldMemory(ctx, activities.FoldInput{Account: "acct", Chat: "15550100@s.whatsapp.net", ChatHash: "h"})
	require.NoError(t, err)
	require.Zero(t, res.Folded)
	require.Equal(t, before, folds)
}

// TestMemoryCommands: /remember, /memories, /forget, /reset [all] and
// /todo, with bad input answered by a usage line and a stable code, and a
// retried command (same message) changing nothing twice.
func TestMemoryCommands(t *testing.T) {
	t.Parallel()
	f := setup(t, governance.Config{})
	ctx := t.Context()
	run := func(in message.Inbound) activities.CommandResult {
		t.Helper()
		res, err := f.acts.RunCommand(ctx, in)
		require.NoError(t, err)
		return res
	}
	say := func(text string) activities.CommandResult { t.Helper(); return run(f.inbound(userNum, text)) }

	require.Contains(t, say("/memories").Text, "Nothing pinned")
	require.Contains(t, say("/remember My cat is called Tom.").Text, "Pinned")
	require.Contains(t, say("/remember I live in Lyon.").Text, "Pinned")
	require.Contains(t, say("/memories").Text, "1. My cat is called Tom.\n2. I live in Lyon.")

	forget := f.inbound(userNum, "/forget 1")
	require.Equal(t, "Forgot: My cat is called Tom.", run(forget).Text)
	require.Equal(t, "Forgot: My cat is called Tom.", run(forget).Text, "a retry answers the same")
	require.Contains(t, say("/memories").Text, "1. I live in Lyon.", "and forgot nothing else")

	for _, tc := range []struct{ text, want string }{
		{"/remember", "Usage: /remember <fact>"},
		{"/forget", "Usage: /forget <n|all>"},
		{"/forget two", "Give the number from the list"},
		{"/forget 9", "There is no pinned fact 9"},
		{"/remember " + strings.Repeat("x", 501), "too long"},
		{"/reset everything", "Usage: /reset [all]"},
		{"/todo", "Usage: /todo add <text> | list | done <n> | clear"},
		{"/todo fly", "Usage: /todo"},
		{"/todo add", "Usage: /todo"},
		{"/todo done 0", "Give the number"},
		{"/todo done 5", "There is no item 5"},
	} {
		res := say(tc.text)
		require.Equal(t, errcode.InvalidArgument, res.Code, tc.text)
		require.Contains(t, res.Text, tc.want, tc.text)
		require.Contains(t, res.Text, "(error INVALID_ARGUMENT)", tc.text)
	}

	// The cap: the facts' tokens are bounded; past it, a clear refusal.
	full := ""
	for i := range 20 {
		if res := say(fmt.Sprintf("/remember fact number %d is %s", i, strings.Repeat("long ", 40))); res.Code != "" {
			full = res.Text
			break
		}
	}
	require.Contains(t, full, "pinned memory for this chat is full")

	require.Contains(t, say("/reset").Text, "Pinned facts stay")
	require.NotContains(t, say("/memories").Text, "Nothing pinned")
	require.Contains(t, say("/reset all").Text, "pinned facts")
	require.Contains(t, say("/memories").Text, "Nothing pinned")

	require.Contains(t, say("/todo add buy milk").Text, "Added")
	done := f.inbound(userNum, "/todo add call  mum")
	run(done)
	run(done)
	require.Equal(t, "To do:\n1. buy milk\n2. call  mum", say("/todo list").Text, "added once, spacing kept")
	require.Equal(t, "Done: buy milk", say("/todo done 1").Text)
	require.Equal(t, "To do:\n1. ~buy milk~ ✓\n2. call  mum", say("/todo list").Text)
	require.Equal(t, "Cleared the list (2 items).", say("/todo clear").Text)
	require.Contains(t, say("/todo list").Text, "empty")
}
