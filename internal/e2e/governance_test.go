package e2e_test

import (
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/wabot/wabot/internal/errcode"
)

// TestGlobalOverloadAnswersEveryMessageLater: with a small global limit,
// messages over it wait on durable timers; the chats hear once that the bot
// is busy, and every message is answered.
func TestGlobalOverloadAnswersEveryMessageLater(t *testing.T) {
	t.Parallel()
	const limit, users = 12, 14 // 12 at once, then one every 5s
	h := setup(t, options{inProcessWorker: true, env: []string{fmt.Sprintf("RATE_GLOBAL_PER_MINUTE=%d", limit)}})
	var wg sync.WaitGroup
	for i := range users {
		wg.Go(func() {
			user := fmt.Sprintf("49151000100%02d", i)
			if !h.gw.HandleEvent(textEvent(fmt.Sprintf("E2EGLOB%06d", i), user, fmt.Sprintf("question %d", i))) {
				t.Error("gateway refused the message")
			}
		})
	}
	wg.Wait()
	busy := 0
	for i := range users {
		user := fmt.Sprintf("49151000100%02d", i)
		h.waitClosed(h.messageWorkflowID(user, fmt.Sprintf("E2EGLOB%06d", i)), 2*waitReply)
		got := texts(h.sentTo(user))
		require.NotEmpty(t, got, user)
		require.Contains(t, got[len(got)-1], fmt.Sprintf("question %d", i), "every message is answered")
		switch len(got) {
		case 1:
		case 2:
			require.Equal(t, errcode.UserMessage(errcode.Busy), got[0], "told once, first")
			busy++
		default:
			t.Fatalf("%s got %d messages: %q", user, len(got), got)
		}
	}
	// GCRA refills one slot every 5s while the first ones run, so between one
	// and users-limit messages had to wait.
	require.GreaterOrEqual(t, busy, 1, "some messages waited")
	require.LessOrEqual(t, busy, users-limit)
	require.Len(t, h.chatRequests(), users)
}

// TestPerUserOverloadOneNoticeNoStorm: over the per-user limit the user gets
// one polite reply with when to try again; the rest are recorded, unanswered.
func TestPerUserOverloadOneNoticeNoStorm(t *testing.T) {
	t.Parallel()
	h := setup(t, options{inProcessWorker: true, env: []string{"RATE_USER_PER_MINUTE=2"}})
	const user, n = "4915100002001", 6
	began := time.Now()
	for i := range n {
		require.True(t, h.gw.HandleEvent(textEvent(fmt.Sprintf("E2EUSER%06d", i), user, fmt.Sprintf("spam %d", i))))
	}
	for i := range n {
		h.waitClosed(h.messageWorkflowID(user, fmt.Sprintf("E2EUSER%06d", i)), waitReply)
	}
	got := texts(h.sentTo(user))
	// Two answers and one notice; a token refills every 30 s, so a machine
	// slow enough to span a refill answers one more (and notices once more).
	refills := int(time.Since(began)/(30*time.Second)) + 1
	answers, notices := 0, 0
	for _, text := range got {
		switch {
		case strings.HasPrefix(text, errcode.UserMessage(errcode.RateLimited)):
			require.Contains(t, text, "Please try again in")
			notices++
		default:
			require.Contains(t, text, "spam", "an answer")
			answers++
		}
	}
	require.Contains(t, got[0], "spam 0")
	require.Contains(t, got[1], "spam 1")
	if refills == 1 { // no refill was possible: the third message was the first over the limit
		require.True(t, strings.HasPrefix(got[2], errcode.UserMessage(errcode.RateLimited)), "the first message over the limit gets the notice: %q", got)
	}
	require.GreaterOrEqual(t, notices, 1)
	require.LessOrEqual(t, notices, refills, "one polite reply per window, no storm: %q", got)
	require.LessOrEqual(t, answers, 2+refills, "%q", got)
	require.Len(t, h.chatRequests(), answers)
	var stored int
	require.NoError(t, h.pool.QueryRow(h.ctx, `SELECT count(*) FROM messages WHERE role = 'user'`).Scan(&stored))
	require.Equal(t, n, stored, "every message is recorded")
}

// TestSettingsTakeEffectOnTheNextMessage: an owner opens a session, sets the
// system prompt and the model from chat; the very next LLM request uses
// them, with no restart. A secret key is refused.
func TestSettingsTakeEffectOnTheNextMessage(t *testing.T) {
	t.Parallel()
	const owner, user = "4915100003001", "4915100003002"
	h := setup(t, options{inProcessWorker: true, env: []string{"BOT_OWNERS=+" + owner}})
	say := func(from, id, text string) string {
		t.Helper()
		before := len(h.sentTo(from))
		require.True(t, h.gw.HandleEvent(textEvent(id, from, text)))
		h.waitClosed(h.messageWorkflowID(from, id), waitReply)
		sent := h.sentTo(from)
		require.Len(t, sent, before+1, text)
		return sent[len(sent)-1].Text
	}
	require.Equal(t, errcode.UserMessage(errcode.SessionRequired), say(owner, "E2ECFG000001", "/config set model m2"))
	require.Contains(t, say(owner, "E2ECFG000002", "/sudo"), "Admin session open")
	require.Contains(t, say(owner, "E2ECFG000003", "/config set system_prompt You are a pirate."), "in effect from the next message")
	require.Contains(t, say(owner, "E2ECFG000004", "!config set model pirate-model"), "pirate-model")
	secret := say(owner, "E2ECFG000005", "/config set openai_api_key sk-live-abc")
	require.Contains(t, secret, errcode.UserMessage(errcode.Forbidden))
	require.NotContains(t, secret, "sk-live-abc")
	require.Empty(t, h.chatRequests(), "commands do not reach the LLM")

	reply := say(user, "E2ECFG000006", "ahoy")
	require.Contains(t, reply, "ahoy")
	reqs := h.chatRequests()
	require.Len(t, reqs, 1)
	require.Equal(t, "pirate-model", reqs[0].Chat.Model)
	require.Equal(t, "system", reqs[0].Chat.Messages[0].Role)
	require.Equal(t, "You are a pirate.", reqs[0].Chat.Messages[0].Text)

	// A user cannot change settings, session or not; the refusal is audited.
	require.Equal(t, errcode.UserMessage(errcode.Forbidden), say(user, "E2ECFG000007", "/config set model x"))
	var denied int
	require.NoError(t, h.pool.QueryRow(h.ctx, `SELECT count(*) FROM audit_log WHERE outcome = 'denied'`).Scan(&denied))
	require.Equal(t, 3, denied, "session required, secret, forbidden")
	require.Contains(t, say(owner, "E2ECFG000008", "/audit verify"), "hash chain intact")
}
