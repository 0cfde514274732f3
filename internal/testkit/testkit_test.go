package testkit

import (
	"fmt"
	"net/url"
	"sync/atomic"
	"testing"
	"testing/fstest"
	"time"

	"github.com/stretchr/testify/require"
)

func TestPostgresIsolation(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	poolA, dsnA := PostgresURL(t)
	poolB, dsnB := PostgresURL(t)
	require.NotEqual(t, dsnA, dsnB)

	// Both start from the migrated template…
	var n int
	require.NoError(t, poolA.QueryRow(ctx, "SELECT count(*) FROM schema_migrations").Scan(&n))
	require.Positive(t, n)
	require.NoError(t, poolB.QueryRow(ctx, "SELECT count(*) FROM schema_migrations").Scan(&n))
	require.Positive(t, n)

	// …and neither sees the other's rows.
	_, err := poolA.Exec(ctx, "INSERT INTO chats (account, chat_jid, kind) VALUES ('a', 'only-in-a', 'dm')")
	require.NoError(t, err)
	_, err = poolB.Exec(ctx, "INSERT INTO chats (account, chat_jid, kind) VALUES ('a', 'only-in-b', 'dm')")
	require.NoError(t, err)
	var jid string
	require.NoError(t, poolA.QueryRow(ctx, "SELECT string_agg(chat_jid, ',') FROM chats").Scan(&jid))
	require.Equal(t, "only-in-a", jid)
	require.NoError(t, poolB.QueryRow(ctx, "SELECT string_agg(chat_jid, ',') FROM chats").Scan(&jid))
	require.Equal(t, "only-in-b", jid)
}

func TestPostgresCleanupDropsTheDatabase(t *testing.T) {
	t.Parallel()
	var name string
	t.Run("user", func(t *testing.T) {
		_, dsn := PostgresURL(t)
		u, err := url.Parse(dsn)
		require.NoError(t, err)
		name = u.Path[1:]
		require.Regexp(t, `^wabot_t_[0-9a-f]{16}$`, name)
	})
	admin := Postgres(t) // any connection to the same server will do
	var exists bool
	require.NoError(t, admin.QueryRow(t.Context(),
		"SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)", name).Scan(&exists))
	require.False(t, exists, "database %s outlived its test", name)
}

func TestEmptyPostgres(t *testing.T) {
	t.Parallel()
	pool, _ := EmptyPostgres(t)
	var n int
	require.NoError(t, pool.QueryRow(t.Context(),
		"SELECT count(*) FROM pg_tables WHERE schemaname = 'public'").Scan(&n))
	require.Zero(t, n)
}

func TestTemplateNameFollowsTheMigrations(t *testing.T) {
	t.Parallel()
	a := fstest.MapFS{"00001_a.up.sql": {Data: []byte("CREATE TABLE a ();")}, "00001_a.down.sql": {Data: []byte("DROP TABLE a;")}}
	b := fstest.MapFS{"00001_a.up.sql": {Data: []byte("CREATE TABLE b ();")}, "00001_a.down.sql": {Data: []byte("DROP TABLE a;")}}
	ha, err := migrationsHash(a)
	require.NoError(t, err)
	require.Regexp(t, `^[0-9a-f]{8}$`, ha)
	hb, err := migrationsHash(b)
	require.NoError(t, err)
	require.NotEqual(t, ha, hb)
	again, err := migrationsHash(a)
	require.NoError(t, err)
	require.Equal(t, ha, again)
}

func TestRedis(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	var prefixA string
	t.Run("user", func(t *testing.T) {
		client, prefix := Redis(t)
		_, prefixB := Redis(t)
		require.NotEqual(t, prefix, prefixB)
		prefixA = prefix
		for _, k := range []string{"a", "b", "c"} {
			require.NoError(t, client.Set(ctx, prefix+k, "1", time.Hour).Err())
		}
	})

	client, _ := Redis(t)
	keys, err := client.Keys(ctx, prefixA+"*").Result()
	require.NoError(t, err)
	require.Empty(t, keys, "cleanup deletes the test's keys")
}

func TestRedisCleanupLeavesOtherKeys(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	keeper, keeperPrefix := Redis(t)
	require.NoError(t, keeper.Set(ctx, keeperPrefix+"keep", "1", time.Hour).Err())
	t.Run("user", func(t *testing.T) {
		client, prefix := Redis(t)
		require.NoError(t, client.Set(ctx, prefix+"x", "1", time.Hour).Err())
	})
	require.NoError(t, keeper.Get(ctx, keeperPrefix+"keep").Err(), "another test's key survives")
}

func TestWaitFor(t *testing.T) {
	t.Parallel()
	var done atomic.Bool
	start := make(chan struct{})
	go func() {
		<-start
		done.Store(true)
	}()
	close(start)
	WaitFor(t, 5*time.Second, done.Load, "the goroutine to finish")
	require.True(t, done.Load())
}

// recorder is a testing.TB that records Fatalf instead of stopping.
type recorder struct {
	testing.TB
	failed string
}

func (r *recorder) Helper() {}
func (r *recorder) Fatalf(format string, args ...any) {
	r.failed = fmt.Sprintf(format, args...)
}

func TestWaitForTimesOut(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name       string
		msgAndArgs []any
		want       string
	}{
		{"no message", nil, "condition not met within 30ms: (no description)"},
		{"message", []any{"the reply"}, "within 30ms: the reply"},
		{"format", []any{"%d replies", 2}, "within 30ms: 2 replies"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			r := &recorder{TB: t}
			calls := 0
			WaitFor(r, 30*time.Millisecond, func() bool { calls++; return false }, tt.msgAndArgs...)
			require.Contains(t, r.failed, tt.want)
			require.Greater(t, calls, 1, "it polls")
		})
	}
}
