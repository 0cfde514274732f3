package store_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net/url"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"github.com/wabot/wabot/internal/secret"
	"github.com/wabot/wabot/internal/store"
	"github.com/wabot/wabot/internal/testkit"
)

func TestOpen(t *testing.T) {
	t.Parallel()
	_, dsn := testkit.PostgresURL(t)

	pool, err := store.Open(t.Context(), store.Config{URL: secret.New(dsn), MaxConns: 3})
	require.NoError(t, err)
	t.Cleanup(pool.Close)
	require.EqualValues(t, 3, pool.Config().MaxConns)
	require.NoError(t, pool.Ping(t.Context()))
}

func TestOpenErrorsHideThePassword(t *testing.T) {
	t.Parallel()
	const pw = "s3cr3t-Pa55w0rd"
	tests := []struct {
		name string
		cfg  store.Config
		want string
	}{
		{"unparsable", store.Config{URL: secret.New("postgres://wabot:" + pw + "@127.0.0.1:notaport/wabot")}, "cannot parse"},
		{"unreachable", store.Config{URL: secret.New("postgres://wabot:" + pw + "@127.0.0.1:1/wabot?connect_timeout=5")}, "connecting to the database"},
		{"unknown database", store.Config{URL: secret.New("postgres://wabot:" + pw + "@127.0.0.1:5432/wabot_does_not_exist_" + pw)}, "connecting to the database"},
		{"empty", store.Config{}, "URL (DATABASE_URL) is empty"},
		{"negative max conns", store.Config{URL: secret.New("postgres://x:" + pw + "@h/db"), MaxConns: -1}, "MaxConns (DATABASE_MAX_CONNS)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			pool, err := store.Open(t.Context(), tt.cfg)
			require.Error(t, err)
			require.Nil(t, pool)
			require.Contains(t, err.Error(), tt.want)
			require.NotContains(t, err.Error(), pw)
			require.NotContains(t, fmt.Sprintf("%+v", err), pw)
		})
	}
}

func TestEnsureDatabase(t *testing.T) {
	t.Parallel()
	pool, dsn := testkit.EmptyPostgres(t)
	name := "wabot_ensure_" + randomHex(t)
	u, err := url.Parse(dsn)
	require.NoError(t, err)
	u.Path = "/" + name
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		_, err := pool.Exec(ctx, "DROP DATABASE IF EXISTS "+pgx.Identifier{name}.Sanitize()+" WITH (FORCE)")
		require.NoError(t, err)
	})

	// Several processes starting at once all succeed.
	var wg sync.WaitGroup
	errs := make([]error, 4)
	for i := range errs {
		wg.Go(func() { errs[i] = store.EnsureDatabase(t.Context(), u.String()) })
	}
	wg.Wait()
	for _, err := range errs {
		require.NoError(t, err)
	}
	var exists bool
	require.NoError(t, pool.QueryRow(t.Context(),
		"SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)", name).Scan(&exists))
	require.True(t, exists)

	// And again, when it exists.
	require.NoError(t, store.EnsureDatabase(t.Context(), u.String()))
}

func TestEnsureDatabaseErrorsHideThePassword(t *testing.T) {
	t.Parallel()
	const pw = "an0ther-s3cret"
	err := store.EnsureDatabase(t.Context(), "postgres://wabot:"+pw+"@127.0.0.1:1/wabot?connect_timeout=5")
	require.Error(t, err)
	require.NotContains(t, err.Error(), pw)

	err = store.EnsureDatabase(t.Context(), "postgres://wabot:"+pw+"@127.0.0.1:bad/wabot")
	require.Error(t, err)
	require.NotContains(t, err.Error(), pw)
}

func randomHex(t *testing.T) string {
	t.Helper()
	b := make([]byte, 6)
	_, err := rand.Read(b)
	require.NoError(t, err)
	return hex.EncodeToString(b)
}
