package activities_test

import (
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"

	"github.com/wabot/wabot/activities"
	"github.com/wabot/wabot/internal/store"
	"github.com/wabot/wabot/internal/testkit"
)

// A database restart while a turn reads its memory delays the turn; it
// does not fail the attempt (and use up the LLM step's few attempts).
func TestLLMTurnWaitsForARestartingDatabase(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("needs a PostgreSQL server of its own")
	}
	pg := testkit.PrivatePostgres(t)
	pool, err := pgxpool.New(t.Context(), pg.URL())
	require.NoError(t, err)
	t.Cleanup(pool.Close)
	c := &completer{}
	var logs testkit.LockedBuffer
	a, err := activities.New(slog.New(slog.NewTextHandler(&logs, nil)), activities.Config{SystemPrompt: "s", MemoryTokens: 100},
		activities.Deps{Store: store.New(pool), LLM: c, Now: func() time.Time { return now }})
	require.NoError(t, err)

	pg.Stop(t)
	_, err = pool.Exec(t.Context(), "SELECT 1")
	require.True(t, store.IsUnavailable(err), "a stopped server is unavailable: %v", err)
	type result struct {
		res activities.TurnResult
		err error
	}
	done := make(chan result, 1)
	go func() {
		res, err := a.LLMTurn(t.Context(), inbound("M1", "hello"))
		done <- result{res, err}
	}()
	// The turn found the database down and waits (an implementation that
	// gives up returns an error below instead of the answer).
	testkit.WaitFor(t, 30*time.Second, func() bool {
		return strings.Contains(logs.String(), "store unreachable; waiting for it")
	}, "the turn did not notice the outage: %s", &logs)
	pg.Start(t)
	r := <-done
	require.NoError(t, r.err)
	require.Equal(t, "re: hello", r.res.Text)
	require.Len(t, c.reqs, 1, "the LLM is asked once, after the database is back")

	// An error that is not an outage is not waited on.
	_, err = pool.Exec(t.Context(), "SELEC 1")
	require.Error(t, err)
	require.False(t, store.IsUnavailable(err))
}
