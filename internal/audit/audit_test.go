package audit_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"

	"github.com/wabot/wabot/internal/audit"
	"github.com/wabot/wabot/internal/testkit"
)

func setup(t *testing.T, n int) (*audit.Log, *pgxpool.Pool) {
	t.Helper()
	pool := testkit.Postgres(t)
	l := audit.New(pool, nil)
	for i := range n {
		_, err := l.Append(t.Context(), audit.Entry{
			Actor: "id:a1", Action: "config.set", Target: "model", Outcome: audit.OutcomeOK,
			Details: map[string]string{"i": fmt.Sprint(i), "key": "model"},
		})
		require.NoError(t, err)
	}
	return l, pool
}

func TestConcurrentAppendsKeepOneChain(t *testing.T) {
	t.Parallel()
	l, _ := setup(t, 0)
	const writers, each = 20, 100
	var wg sync.WaitGroup
	errs := make(chan error, writers*each)
	for w := range writers {
		wg.Go(func() {
			for i := range each {
				_, err := l.Append(context.Background(), audit.Entry{
					Actor: fmt.Sprintf("id:w%d", w), Action: "role.grant", Outcome: audit.OutcomeOK,
					Details: map[string]string{"n": fmt.Sprint(i)},
				})
				errs <- err
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}
	res, err := l.Verify(t.Context())
	require.NoError(t, err)
	require.Equal(t, audit.Result{Entries: writers * each, OK: true}, res)
}

func TestChainLinksAndGenesis(t *testing.T) {
	t.Parallel()
	l, _ := setup(t, 3)
	recs, err := l.Last(t.Context(), 10)
	require.NoError(t, err)
	require.Len(t, recs, 3)
	require.Equal(t, int64(3), recs[0].Seq)
	require.Equal(t, audit.Genesis, recs[2].PrevHash)
	require.Equal(t, recs[2].Hash, recs[1].PrevHash)
	require.Equal(t, recs[1].Hash, recs[0].PrevHash)
	for _, r := range recs {
		require.Equal(t, audit.Hash(r), r.Hash)
	}
}

func TestPlainUpdateDeleteTruncateAreRefused(t *testing.T) {
	t.Parallel()
	_, pool := setup(t, 2)
	for _, sql := range []string{
		`UPDATE audit_log SET outcome = 'denied' WHERE seq = 1`,
		`DELETE FROM audit_log WHERE seq = 2`,
		`TRUNCATE audit_log`,
	} {
		_, err := pool.Exec(t.Context(), sql)
		require.ErrorContains(t, err, "append-only", sql)
	}
}

func TestTamperingIsDetectedAndNamed(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name    string
		sql     string
		bad     int64
		contain string
	}{
		{"edit details", `UPDATE audit_log SET details = '{"i":"999","key":"model"}' WHERE seq = 4`, 4, "edited"},
		{"edit actor", `UPDATE audit_log SET actor = 'id:someone-else' WHERE seq = 2`, 2, "edited"},
		{"edit with recomputed hash", `UPDATE audit_log SET outcome = 'denied', hash = repeat('a', 64) WHERE seq = 3`, 3, "edited"},
		{"delete a middle entry", `DELETE FROM audit_log WHERE seq = 3`, 4, "deleted"},
		{"delete the first entry", `DELETE FROM audit_log WHERE seq = 1`, 2, "deleted"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			l, pool := setup(t, 6)
			// A superuser bypasses the guard triggers.
			conn, err := pool.Acquire(t.Context())
			require.NoError(t, err)
			defer conn.Release()
			_, err = conn.Exec(t.Context(), `SET session_replication_role = replica`)
			require.NoError(t, err)
			_, err = conn.Exec(t.Context(), tc.sql)
			require.NoError(t, err)
			_, err = conn.Exec(t.Context(), `SET session_replication_role = origin`)
			require.NoError(t, err)

			res, err := l.Verify(t.Context())
			require.NoError(t, err)
			require.False(t, res.OK)
			require.Equal(t, tc.bad, res.FirstBad)
			require.Contains(t, res.Reason, tc.contain)
		})
	}
}

func TestAppendValidatesAndAbout(t *testing.T) {
	t.Parallel()
	l, _ := setup(t, 0)
	_, err := l.Append(t.Context(), audit.Entry{Action: "x"})
	require.ErrorContains(t, err, "actor")
	at := time.Date(2026, 1, 2, 3, 4, 5, 123456789, time.UTC)
	r, err := l.Append(t.Context(), audit.Entry{Actor: "id:x", Action: "wipe.done", Target: "id:y", Outcome: audit.OutcomeOK, At: at})
	require.NoError(t, err)
	require.Equal(t, at.Truncate(time.Microsecond), r.At)
	about, err := l.About(t.Context(), "id:y")
	require.NoError(t, err)
	require.Len(t, about, 1)
	require.Equal(t, r.Hash, about[0].Hash)
	res, err := l.Verify(t.Context())
	require.NoError(t, err)
	require.True(t, res.OK)
}
