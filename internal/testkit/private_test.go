package testkit

import (
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"
)

func TestPrivatePostgresRestart(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	pg := PrivatePostgres(t)

	conn, err := pgx.Connect(ctx, pg.URL())
	require.NoError(t, err)
	var n int
	require.NoError(t, conn.QueryRow(ctx, "SELECT count(*) FROM schema_migrations").Scan(&n))
	require.Positive(t, n, "the database is migrated")
	_, err = conn.Exec(ctx, "INSERT INTO chats (account, chat_jid, kind) VALUES ('a', 'before-restart', 'dm')")
	require.NoError(t, err)

	pg.Stop(t)
	require.Error(t, conn.Ping(ctx), "the server ended the open session")
	_, err = pgx.Connect(ctx, pg.URL())
	require.Error(t, err, "a stopped server refuses connections")

	pg.Start(t)
	again, err := pgx.Connect(ctx, pg.URL())
	require.NoError(t, err)
	t.Cleanup(func() { _ = again.Close(ctx) })
	var jid string
	require.NoError(t, again.QueryRow(ctx, "SELECT chat_jid FROM chats").Scan(&jid))
	require.Equal(t, "before-restart", jid, "committed rows survive the restart")

	pg.Restart(t)
	require.Error(t, again.Ping(ctx), "a restart ends open sessions")
	conn, err = pgx.Connect(ctx, pg.URL())
	require.NoError(t, err)
	require.NoError(t, conn.Ping(ctx))
	require.NoError(t, conn.Close(ctx))
}

func TestPrivateRedisStopStart(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	r := PrivateRedis(t)
	opts, err := redis.ParseURL(r.URL())
	require.NoError(t, err)
	opts.MaxRetries = -1 // see each failure, not go-redis's retries
	client := redis.NewClient(opts)
	t.Cleanup(func() { _ = client.Close() })
	require.NoError(t, client.Set(ctx, "k", "v", 0).Err())

	r.Stop(t)
	require.Error(t, client.Ping(ctx).Err(), "a stopped server refuses connections")

	r.Start(t)
	require.NoError(t, client.Ping(ctx).Err(), "the client reconnects to the same port")
	require.ErrorIs(t, client.Get(ctx, "k").Err(), redis.Nil, "nothing is kept on disk: the keys are gone")
}
