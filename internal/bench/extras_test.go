package bench

import (
	"flag"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/wabot/wabot/activities"
	"github.com/wabot/wabot/internal/config"
	"github.com/wabot/wabot/internal/llm"
	"github.com/wabot/wabot/internal/message"
	"github.com/wabot/wabot/internal/openaifake"
	"github.com/wabot/wabot/internal/ratelimit"
	"github.com/wabot/wabot/internal/store"
	"github.com/wabot/wabot/internal/testkit"
)

var (
	flagExtras       = flag.Bool("extras", false, "run the component benchmarks (rate limiter, retention sweep, prompt tokens)")
	flagSweepRows    = flag.Int("retention-rows", 1_000_000, "expired rows the retention sweep deletes")
	flagSweepBatch   = flag.Int("retention-batch", 5000, "rows per DELETE of the retention sweep")
	flagTurns        = flag.Int("turns", 500, "turns of the prompt-token chat")
	flagLimiterSecs  = flag.Float64("limiter-seconds", 3, "length of each rate-limiter run")
	flagMemoryTokens = flag.Int("memory-tokens", 3000, "BOT_MEMORY_TOKENS of the prompt-token chat")
)

func skipUnlessExtras(t *testing.T) {
	t.Helper()
	if !*flagExtras {
		t.Skip("component benchmarks run with -extras (make bench)")
	}
}

// TestRateLimiterDecisions measures the bot's own limiter (internal/ratelimit:
// redis_rate's GCRA, one atomic script per decision) against Redis.
func TestRateLimiterDecisions(t *testing.T) {
	skipUnlessExtras(t)
	rdb, prefix := testkit.Redis(t)
	ctx := t.Context()
	var b strings.Builder
	limiter, err := ratelimit.New(rdb, prefix)
	require.NoError(t, err)
	b.WriteString("`internal/ratelimit` (redis_rate GCRA, one Lua script per decision), 30 per minute per user, keys of 1,000 users.\n\n")
	b.WriteString("| concurrent callers | users | decisions/s | p50 µs | p99 µs |\n| ---: | ---: | ---: | ---: | ---: |\n")
	for _, conc := range []int{1, 16, 64} {
		var n atomic.Int64
		var mu sync.Mutex
		var lat []time.Duration
		deadline := time.Now().Add(time.Duration(*flagLimiterSecs * float64(time.Second)))
		var wg sync.WaitGroup
		for g := range conc {
			wg.Go(func() {
				var mine []time.Duration
				for i := 0; time.Now().Before(deadline); i++ {
					user := strconv.Itoa((g*7919 + i) % 1000)
					start := time.Now()
					if _, err := limiter.Allow(ctx, "user", user, 30); err != nil {
						t.Error(err)
						return
					}
					mine = append(mine, time.Since(start))
					n.Add(1)
				}
				mu.Lock()
				lat = append(lat, mine...)
				mu.Unlock()
			})
		}
		wg.Wait()
		r := Summarize(Result{}, lat)
		fmt.Fprintf(&b, "| %d | 1000 | %.0f | %.0f | %.0f |\n", conc, float64(n.Load()) / *flagLimiterSecs,
			float64(r.P50)/float64(time.Microsecond), float64(r.P99)/float64(time.Microsecond))
	}
	report(t, "ratelimit", b.String())
}

// TestRetentionSweep deletes expired rows from the messages table the way a
// retention sweep would: batches of ctids, each its own short transaction,
// while live rows stay.
func TestRetentionSweep(t *testing.T) {
	skipUnlessExtras(t)
	pool := testkit.Postgres(t)
	ctx := t.Context()
	rows, live := *flagSweepRows, *flagSweepRows/10
	fill := time.Now()
	_, err := pool.Exec(ctx, `
INSERT INTO messages (account, chat_jid, message_id, role, sender_jid, kind, body, created_at, expires_at)
SELECT 'bench', 'chat' || (g % 1000) || '@s.whatsapp.net', 'M' || g, 'user', '', 'text',
       repeat('x', 80), now() - interval '40 days', now() - interval '10 days'
FROM generate_series(1, $1) g`, rows)
	require.NoError(t, err)
	_, err = pool.Exec(ctx, `
INSERT INTO messages (account, chat_jid, message_id, role, sender_jid, kind, body, expires_at)
SELECT 'bench', 'chat' || (g % 1000) || '@s.whatsapp.net', 'L' || g, 'user', '', 'text', repeat('y', 80), now() + interval '30 days'
FROM generate_series(1, $1) g`, live)
	require.NoError(t, err)
	_, err = pool.Exec(ctx, `ANALYZE messages`)
	require.NoError(t, err)
	fillTime := time.Since(fill)

	const sweep = `DELETE FROM messages WHERE ctid IN (
    SELECT ctid FROM messages WHERE expires_at < now() LIMIT $1)`
	start := time.Now()
	var batches []time.Duration
	deleted := int64(0)
	for {
		bs := time.Now()
		tag, err := pool.Exec(ctx, sweep, *flagSweepBatch)
		require.NoError(t, err)
		batches = append(batches, time.Since(bs))
		deleted += tag.RowsAffected()
		if tag.RowsAffected() == 0 {
			break
		}
	}
	total := time.Since(start)
	var left int64
	require.NoError(t, pool.QueryRow(ctx, `SELECT count(*) FROM messages`).Scan(&left))
	require.Equal(t, int64(rows), deleted)
	require.Equal(t, int64(live), left)
	r := Summarize(Result{}, batches)
	report(t, "retention", fmt.Sprintf(
		"`DELETE FROM messages WHERE ctid IN (SELECT ctid FROM messages WHERE expires_at < now() LIMIT %d)` until nothing is left, "+
			"over %d expired and %d live rows (filled in %s, not counted).\n\n"+
			"| rows deleted | batches | total | rows/s | batch p50 ms | batch p99 ms | batch max ms | live rows left |\n"+
			"| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |\n"+
			"| %d | %d | %s | %.0f | %s | %s | %s | %d |\n",
		*flagSweepBatch, rows, live, fillTime.Round(time.Second), deleted, len(batches), total.Round(time.Millisecond),
		float64(deleted)/total.Seconds(), ms(r.P50), ms(r.P99), ms(r.Max), left))
}

// TestPromptTokens drives LLMTurn and RecordTurn directly, turn after turn in
// one chat, and reads the prompt tokens the fake LLM reports: the memory
// budget must keep them flat once the chat is long enough.
func TestPromptTokens(t *testing.T) {
	skipUnlessExtras(t)
	ctx := t.Context()
	pool := testkit.Postgres(t)
	fake := openaifake.New()
	t.Cleanup(fake.Close)
	cfg, err := config.Load([]string{
		"OPENAI_BASE_URL=" + fake.URL(), "OPENAI_API_KEY=bench-key",
		fmt.Sprintf("BOT_MEMORY_TOKENS=%d", *flagMemoryTokens),
	})
	require.NoError(t, err)
	logger := slog.New(slog.DiscardHandler)
	lc, err := llm.New(logger, cfg.OpenAI)
	require.NoError(t, err)
	acts, err := activities.New(logger, cfg.Bot, activities.Deps{Store: store.New(pool), LLM: lc})
	require.NoError(t, err)

	const chat = "4915199999999@s.whatsapp.net"
	var b strings.Builder
	fmt.Fprintf(&b, "One chat, %d turns, `BOT_MEMORY_TOKENS=%d`, each user message ~60 words; prompt tokens as the fake LLM counts them (its usage figures).\n\n", *flagTurns, *flagMemoryTokens)
	b.WriteString("| turn | prompt tokens | memory entries in prompt |\n| ---: | ---: | ---: |\n")
	maxPrompt, sum := 0, 0
	for i := 1; i <= *flagTurns; i++ {
		in := message.Inbound{
			Account: "bench", Chat: chat, ChatHash: "h", Sender: chat, SenderHash: "h",
			ID: fmt.Sprintf("TOK%06d", i), Kind: message.KindText, Timestamp: time.Now(),
			Text: fmt.Sprintf("turn %d: %s", i, strings.Repeat("tell me more about the weather in Berlin today ", 6)),
		}
		_, err := acts.Admit(ctx, in)
		require.NoError(t, err)
		turn, err := acts.LLMTurn(ctx, in)
		require.NoError(t, err)
		reply := message.Reply{Account: in.Account, Chat: chat, ID: message.ReplyID(in.Account, in.ID, 0), Text: turn.Text}
		require.NoError(t, acts.RecordTurn(ctx, activities.RecordInput{Inbound: in, Reply: reply, Turn: turn}))
		maxPrompt = max(maxPrompt, turn.PromptTokens)
		sum += turn.PromptTokens
		if i == 1 || i == 2 || i == 5 || i%50 == 0 || i == 10 || i == 25 {
			fmt.Fprintf(&b, "| %d | %d | %d |\n", i, turn.PromptTokens, turn.MemoryEntries)
		}
	}
	fmt.Fprintf(&b, "\nMaximum %d prompt tokens per turn, mean %.0f: bounded by the budget (the fake counts tokens a little differently from the bot's 4-bytes-a-token estimate, and the system prompt and the new message come on top).\n",
		maxPrompt, float64(sum)/float64(*flagTurns))
	report(t, "tokens", b.String())
}

// report prints a component result and, with -out, writes it into its
// section of BENCHMARKS.md.
func report(t *testing.T, name, body string) {
	t.Helper()
	fmt.Println(body)
	if *flagOut != "" {
		require.NoError(t, writeSection(*flagOut, name, body))
	}
}
