package activities_test

import (
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/wabot/wabot/activities"
	"github.com/wabot/wabot/internal/audit"
	"github.com/wabot/wabot/internal/errcode"
	"github.com/wabot/wabot/internal/governance"
)

func TestCommands(t *testing.T) {
	t.Parallel()
	f := setup(t, governance.Config{})
	ctx := t.Context()
	require.NoError(t, f.gov.OpenSession(ctx, f.hasher.Hash(adminNum)))
	cases := []struct {
		name, from, text string
		code             errcode.Code
		contains         string
		askLLM           string
	}{
		{"help user", userNum, "/help", "", "/reset", ""},
		{"help hides privileged", userNum, "/help", "", "Commands for you (user)", ""},
		{"old bot gpt", userNum, "!gpt what is  Go?", "", "", "what is  Go?"},
		{"gpt needs text", userNum, "!gpt", errcode.InvalidArgument, "Usage: /gpt <question>", ""},
		{"unknown", userNum, "/dance", errcode.UnknownCommand, "/help", ""},
		{"group usage", userNum, "/role", errcode.InvalidArgument, "/role grant <number> <admin|operator>", ""},
		{"reset", userNum, "!reset", "", "forgot", ""},
		{"reset takes no args", userNum, "/reset now", errcode.InvalidArgument, "Usage: /reset", ""},
		{"usage", userNum, "/usage", "", "0 answers", ""},
		{"bad setting value", adminNum, "/config set max_tokens lots", errcode.InvalidArgument, "max_tokens: want a whole number", ""},
		{"unknown setting", adminNum, "/config set colour blue", errcode.InvalidArgument, "no setting", ""},
		{"secret refused", adminNum, "/config set openai_api_key sk-live-123", errcode.Forbidden, "can never be set from chat", ""},
		{"secret url refused", adminNum, "/config set database_url postgres://u:p@h/db", errcode.Forbidden, "audit log", ""},
		{"set prompt keeps spacing", adminNum, "/config set system_prompt Be  brief.", "", "system_prompt = Be  brief.", ""},
		{"grant owner refused", ownerNum, "/role grant " + adminNum + " owner", errcode.SessionRequired, "", ""},
		{"bad number", adminNum, "/allow add nobody", errcode.InvalidArgument, "not a phone number", ""},
		{"help admin", adminNum, "/help", "", "/config set <key> <value>", ""},
		{"audit verify", adminNum, "/audit verify", "", "hash chain intact", ""},
	}
	for _, tc := range cases { // sequential: they share one database and session
		res, err := f.acts.RunCommand(ctx, f.inbound(tc.from, tc.text))
		require.NoError(t, err, tc.name)
		require.Equal(t, tc.code, res.Code, "%s: %s", tc.name, res.Text)
		require.Contains(t, res.Text, tc.contains, tc.name)
		require.Equal(t, tc.askLLM, res.AskLLM, tc.name)
		require.NotContains(t, res.Text, "sk-live", tc.name)
	}
	// Admin commands are refused in groups, even with a session.
	in := f.inbound(adminNum, "/config list")
	in.IsGroup, in.Chat = true, "120363000000000001@g.us"
	res, err := f.acts.RunCommand(ctx, in)
	require.NoError(t, err)
	require.Equal(t, errcode.Forbidden, res.Code)
	require.Contains(t, res.Text, "direct chat")

	// Every secret attempt is in the audit log, without the value.
	recs, err := f.log.Last(ctx, 100)
	require.NoError(t, err)
	secrets := 0
	for _, r := range recs {
		require.NotContains(t, r.Details["value"], "sk-live")
		if r.Action == "config.set" && r.Outcome == audit.OutcomeDenied {
			secrets++
		}
	}
	require.Equal(t, 2, secrets)
}

func TestSettingsApplyToTheNextTurn(t *testing.T) {
	t.Parallel()
	f := setup(t, governance.Config{})
	ctx := t.Context()
	require.NoError(t, f.gov.OpenSession(ctx, f.hasher.Hash(adminNum)))
	res, err := f.acts.RunCommand(ctx, f.inbound(adminNum, "/config set memory_tokens 0"))
	require.NoError(t, err)
	require.Empty(t, res.Code, res.Text)
	s, err := f.gov.Settings(ctx)
	require.NoError(t, err)
	require.Equal(t, 0, s.MemoryTokens)
}

func TestAdmitPerUserLimitNoticesOnce(t *testing.T) {
	t.Parallel()
	f := setup(t, governance.Config{UserPerMinute: 3})
	ctx := t.Context()
	began := time.Now()
	var answered, notices, silent int
	for range 10 {
		adm, err := f.acts.Admit(ctx, f.inbound(userNum, "hi"))
		require.NoError(t, err)
		switch {
		case adm.Answer:
			answered++
		case adm.Notice != "":
			notices++
			require.Equal(t, errcode.RateLimited, adm.Code)
			require.Contains(t, adm.Notice, "Please try again in")
		default:
			silent++
			require.Equal(t, errcode.RateLimited, adm.Code)
		}
	}
	// A token refills every 20 s; on a slow machine one may refill mid-burst
	// (and then a new window gets its own notice).
	refills := refillsSince(began, 3)
	require.GreaterOrEqual(t, answered, 3)
	require.LessOrEqual(t, answered, 3+refills)
	require.GreaterOrEqual(t, notices, 1, "one polite reply")
	require.LessOrEqual(t, notices, 1+refills, "no storm")
	require.Equal(t, 10, answered+notices+silent)
	// Admins are not limited.
	for range 5 {
		adm, err := f.acts.Admit(ctx, f.inbound(adminNum, "hi"))
		require.NoError(t, err)
		require.True(t, adm.Answer)
	}
}

func TestAdmitUnderConcurrencyAdmitsTheLimit(t *testing.T) {
	t.Parallel()
	f := setup(t, governance.Config{UserPerMinute: 7, ChatPerMinute: 1000})
	ctx := t.Context()
	began := time.Now()
	var mu sync.Mutex
	var answered, notices int
	var wg sync.WaitGroup
	for range 40 {
		in := f.inbound(userNum, "hi")
		wg.Go(func() {
			adm, err := f.acts.Admit(ctx, in)
			if err != nil {
				t.Error(err)
				return
			}
			mu.Lock()
			defer mu.Unlock()
			if adm.Answer {
				answered++
			} else if adm.Notice != "" {
				notices++
			}
		})
	}
	wg.Wait()
	refills := refillsSince(began, 7)
	require.GreaterOrEqual(t, answered, 7)
	require.LessOrEqual(t, answered, 7+refills, "the limit plus the tokens refilled meanwhile")
	require.GreaterOrEqual(t, notices, 1)
	require.LessOrEqual(t, notices, 1+refills)
}

// refillsSince bounds the tokens a per-minute bucket regained since began
// (a refill every minute/perMinute, plus one for the boundary): what a
// machine slow enough to span a refill may admit beyond the burst.
func refillsSince(began time.Time, perMinute int) int {
	return int(time.Since(began)/(time.Minute/time.Duration(perMinute))) + 1
}

func TestAdmitGlobalLimitWaitsAndTellsOnce(t *testing.T) {
	t.Parallel()
	f := setup(t, governance.Config{GlobalPerMinute: 1})
	ctx := t.Context()
	first, err := f.acts.Admit(ctx, f.inbound(userNum, "one"))
	require.NoError(t, err)
	require.Equal(t, activities.Admission{Answer: true}, first)
	second, err := f.acts.Admit(ctx, f.inbound(userNum, "two"))
	require.NoError(t, err)
	require.True(t, second.Answer, "backpressure, not loss")
	require.Positive(t, second.Wait)
	require.Equal(t, errcode.UserMessage(errcode.Busy), second.BusyNotice)
	third, err := f.acts.Admit(ctx, f.inbound(userNum, "three"))
	require.NoError(t, err)
	require.Positive(t, third.Wait)
	require.Empty(t, third.BusyNotice, "told once")
	again, err := f.acts.Throttle(ctx, f.inbound(userNum, "two"))
	require.NoError(t, err)
	require.Positive(t, again.Wait)
	require.Empty(t, again.BusyNotice)
	// Commands other than !gpt do not wait for the LLM's limit.
	cmd, err := f.acts.Admit(ctx, f.inbound(userNum, "/help"))
	require.NoError(t, err)
	require.Equal(t, activities.Admission{Answer: true}, cmd)
}

func TestAdmitPolicy(t *testing.T) {
	t.Parallel()
	f := setup(t, governance.Config{DenyList: []string{userNum}, Answer: governance.AnswerAllowList})
	ctx := t.Context()
	cases := []struct {
		from   string
		answer bool
		reason string
	}{
		{userNum, false, "denylist"},
		{"4915100000055", false, "not_allowlisted"},
		{operatorNum, true, ""},
		{ownerNum, true, ""},
	}
	for _, tc := range cases {
		adm, err := f.acts.Admit(ctx, f.inbound(tc.from, "hi"))
		require.NoError(t, err)
		require.Equal(t, tc.answer, adm.Answer, tc.from)
		require.Equal(t, tc.reason, adm.Reason, tc.from)
	}
}
