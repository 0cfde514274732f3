package activities_test

import (
	"context"
	"encoding/json"
	"log/slog"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"

	"github.com/wabot/wabot/activities"
	"github.com/wabot/wabot/internal/audit"
	"github.com/wabot/wabot/internal/logging"
	"github.com/wabot/wabot/internal/secret"
	"github.com/wabot/wabot/internal/store"
	"github.com/wabot/wabot/internal/testkit"
)

const (
	account = "acct"
	group   = "120363000000000001@g.us"
)

// complianceFixture is a migrated database, a Redis prefix and compliance activities.
type complianceFixture struct {
	ctx    context.Context
	pool   *pgxpool.Pool
	store  *store.Store
	audit  *audit.Log
	redis  *redis.Client
	prefix string
	hasher logging.Hasher
	comp   *activities.Compliance
}

func setupCompliance(t *testing.T, batch int) *complianceFixture {
	t.Helper()
	pool := testkit.Postgres(t)
	rdb, prefix := testkit.Redis(t)
	f := &complianceFixture{ctx: t.Context(), pool: pool, store: store.New(pool), audit: audit.New(pool, nil), redis: rdb, prefix: prefix,
		hasher: logging.NewHasher(secret.New("test-hash-key"))}
	var err error
	f.comp, err = activities.NewCompliance(testkit.Logger(t), activities.ComplianceConfig{SweepBatch: batch, MinDays: 1, MaxDays: 365},
		30*24*time.Hour, activities.ComplianceDeps{
			Store: f.store, Audit: f.audit, Redis: rdb, RedisPrefix: prefix, Hash: f.hasher.Hash,
		})
	require.NoError(t, err)
	return f
}

func jidOf(user string) string { return user + "@s.whatsapp.net" }

// seedPerson gives user one of every kind of data: a DM chat with settings,
// messages both ways, memory, usage, a delivery record, a retention policy, a
// message + memory + usage in a shared group, an audit entry about them and a
// Redis key. Every value holds the user's number, so leaks are easy to spot.
func (f *complianceFixture) seedPerson(t *testing.T, user string) {
	t.Helper()
	ctx, st, jid := f.ctx, f.store, jidOf(user)
	exp := time.Now().Add(time.Hour)
	require.NoError(t, st.EnsureChat(ctx, account, jid, store.ChatDM))
	require.NoError(t, st.SetChatSettings(ctx, account, jid, json.RawMessage(`{"note":"settings-`+user+`"}`)))
	require.NoError(t, st.EnsureChat(ctx, account, group, store.ChatGroup))
	for _, m := range []store.Message{
		{MessageID: "in-" + user, Role: store.RoleUser, SenderJID: jid, ChatJID: jid, Body: "body-" + user},
		{MessageID: "out-" + user, Role: store.RoleAssistant, ChatJID: jid, Body: "reply-" + user},
		{MessageID: "grp-" + user, Role: store.RoleUser, SenderJID: jid, ChatJID: group, Body: "group-" + user},
	} {
		m.Account, m.Kind, m.ExpiresAt = account, "text", exp
		require.NoError(t, st.SaveMessage(ctx, m))
	}
	require.NoError(t, st.AppendMemory(ctx, account, jid, exp, store.MemoryEntry{MessageID: "in-" + user, Role: store.RoleUser, Content: "mem-" + user, Tokens: 1}))
	require.NoError(t, st.AppendMemory(ctx, account, group, exp, store.MemoryEntry{MessageID: "grp-" + user, Role: store.RoleUser, Content: "gmem-" + user, Tokens: 1}))
	for _, u := range []store.Usage{
		{ChatJID: jid, SenderJID: jid, MessageID: "in-" + user},
		{ChatJID: group, SenderJID: jid, MessageID: "grp-" + user},
	} {
		u.Account, u.Model, u.PromptTokens, u.ExpiresAt = account, "model", 7, exp
		require.NoError(t, st.RecordUsage(ctx, u))
	}
	require.NoError(t, st.MarkSent(ctx, account, "out-"+user, jid, time.Now()))
	require.NoError(t, st.SetRetention(ctx, account, jid, 90, f.hasher.Hash(jid)))
	_, err := f.audit.Append(ctx, audit.Entry{Actor: f.hasher.Hash(jid), Action: "test.seed", Target: f.hasher.Hash(jid),
		Outcome: audit.OutcomeOK, Details: map[string]string{"marker": "audit-" + user}})
	require.NoError(t, err)
	require.NoError(t, f.redis.Set(ctx, f.prefix+"ratelimit:"+f.hasher.Hash(jid), "3", time.Hour).Err())
}

// rowsAbout counts, per personal-data table, the rows naming user, plus the
// group memory entries of their group messages.
func (f *complianceFixture) rowsAbout(t *testing.T, user string) map[string]int {
	t.Helper()
	tables, err := f.store.PersonTables(f.ctx)
	require.NoError(t, err)
	out := map[string]int{}
	for _, tb := range tables {
		rows, err := f.store.ExportRows(f.ctx, tb, jidOf(user))
		require.NoError(t, err)
		out[tb.Name] = len(rows)
	}
	rows, err := f.store.ExportRows(f.ctx, store.PersonTable{Name: store.GroupMemoryTable}, jidOf(user))
	require.NoError(t, err)
	out[store.GroupMemoryTable] = len(rows)
	var n int
	require.NoError(t, f.pool.QueryRow(f.ctx, `SELECT count(*) FROM memory WHERE content = $1`, "gmem-"+user).Scan(&n))
	out["memory_in_groups_by_content"] = n
	return out
}

func (f *complianceFixture) redisKeys(t *testing.T) []string {
	t.Helper()
	keys, err := f.redis.Keys(f.ctx, f.prefix+"*").Result()
	require.NoError(t, err)
	return keys
}

func nopLogger(t *testing.T) *slog.Logger { return testkit.Logger(t) }
