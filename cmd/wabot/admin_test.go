package main

import (
	"bytes"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/wabot/wabot/internal/audit"
	"github.com/wabot/wabot/internal/testkit"
)

// `wabot admin audit verify` checks the chain and names the first broken
// entry after a superuser edited one behind the guard.
func TestAdminAuditVerifyNamesTheBrokenEntry(t *testing.T) {
	pool, dsn := testkit.PostgresURL(t)
	t.Setenv("DATABASE_URL", dsn)
	log := audit.New(pool, nil)
	for range 5 {
		_, err := log.Append(t.Context(), audit.Entry{Actor: "a", Action: "config.set", Target: "model", Outcome: audit.OutcomeOK})
		require.NoError(t, err)
	}
	var out, errb bytes.Buffer
	require.NoError(t, realMain(t.Context(), []string{"admin", "audit", "verify"}, &out, &errb))
	require.Contains(t, out.String(), "OK: 5 entries")

	conn, err := pool.Acquire(t.Context())
	require.NoError(t, err)
	_, err = conn.Exec(t.Context(), `SET session_replication_role = replica`)
	require.NoError(t, err)
	_, err = conn.Exec(t.Context(), `UPDATE audit_log SET target = 'system_prompt' WHERE seq = 3`)
	require.NoError(t, err)
	_, err = conn.Exec(t.Context(), `SET session_replication_role = origin`)
	require.NoError(t, err)
	conn.Release()

	out.Reset()
	err = realMain(t.Context(), []string{"admin", "audit", "verify"}, &out, &errb)
	require.ErrorIs(t, err, errAuditBroken)
	require.Contains(t, out.String(), "BROKEN at entry #3")

	out.Reset()
	require.NoError(t, realMain(t.Context(), []string{"admin", "audit", "last", "2"}, &out, &errb))
	require.Contains(t, out.String(), "#5 ")
}

func TestAdminRoles(t *testing.T) {
	_, dsn := testkit.PostgresURL(t)
	t.Setenv("DATABASE_URL", dsn)
	t.Setenv("BOT_OWNERS", "+4915100009999")
	var out, errb bytes.Buffer
	require.NoError(t, realMain(t.Context(), []string{"admin", "roles", "grant", "+4915100009001", "admin"}, &out, &errb))
	require.Contains(t, out.String(), "+49…9001 is now admin")
	out.Reset()
	require.NoError(t, realMain(t.Context(), []string{"admin", "roles", "list"}, &out, &errb))
	require.Contains(t, out.String(), "owner    +49…9999")
	require.Contains(t, out.String(), "admin    +49…9001")
	require.ErrorIs(t, realMain(t.Context(), []string{"admin", "roles", "grant", "+4915100009001", "owner"}, &out, &errb), errUsage)
	out.Reset()
	require.NoError(t, realMain(t.Context(), []string{"admin", "audit", "last"}, &out, &errb))
	require.Contains(t, out.String(), "role.grant")
	require.Contains(t, out.String(), "actor=operator")
}
