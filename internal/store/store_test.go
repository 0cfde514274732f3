package store_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"

	"github.com/wabot/wabot/internal/store"
	"github.com/wabot/wabot/internal/testkit"
)

const (
	account = "15550001111@s.whatsapp.net"
	chatJID = "15550002222@s.whatsapp.net"
)

type fixture struct {
	ctx   context.Context
	pool  *pgxpool.Pool
	store *store.Store
}

func setup(t *testing.T) fixture {
	t.Helper()
	pool := testkit.Postgres(t)
	return fixture{ctx: t.Context(), pool: pool, store: store.New(pool)}
}

func (f fixture) count(t *testing.T, query string, args ...any) int {
	t.Helper()
	var n int
	require.NoError(t, f.pool.QueryRow(f.ctx, query, args...).Scan(&n))
	return n
}

func TestSaveMessage(t *testing.T) {
	t.Parallel()
	f := setup(t)
	expires := time.Now().Add(24 * time.Hour)
	m := store.Message{
		Account: account, ChatJID: chatJID, MessageID: "ABC123", Role: store.RoleUser,
		SenderJID: chatJID, Kind: "text", Body: "hello", ExpiresAt: expires,
	}
	require.NoError(t, f.store.SaveMessage(f.ctx, m))

	// A retry with the same key is a no-op that keeps the first version.
	changed := m
	changed.Body = "changed"
	require.NoError(t, f.store.SaveMessage(f.ctx, changed))
	require.Equal(t, 1, f.count(t, "SELECT count(*) FROM messages"))
	var body string
	var created time.Time
	require.NoError(t, f.pool.QueryRow(f.ctx, "SELECT body, created_at FROM messages").Scan(&body, &created))
	require.Equal(t, "hello", body)
	require.WithinDuration(t, time.Now(), created, time.Minute, "zero CreatedAt means now")

	// The reply to it shares the message id but not the role.
	reply := m
	reply.Role, reply.Body, reply.CreatedAt = store.RoleAssistant, "hi!", time.Now().Add(-time.Hour)
	require.NoError(t, f.store.SaveMessage(f.ctx, reply))
	require.Equal(t, 2, f.count(t, "SELECT count(*) FROM messages"))
	require.Equal(t, 1, f.count(t, "SELECT count(*) FROM messages WHERE created_at < now() - interval '30 minutes'"))
}

func TestSaveMessageInvalid(t *testing.T) {
	t.Parallel()
	f := setup(t)
	valid := store.Message{
		Account: account, ChatJID: chatJID, MessageID: "M1", Role: store.RoleUser,
		Kind: "text", ExpiresAt: time.Now().Add(time.Hour),
	}
	tests := []struct {
		name   string
		modify func(*store.Message)
		want   string
	}{
		{"no expiry", func(m *store.Message) { m.ExpiresAt = time.Time{} }, "expires_at"},
		{"no ids", func(m *store.Message) { m.Account, m.MessageID = "", "" }, "account, message_id"},
		{"unknown role", func(m *store.Message) { m.Role = "system" }, "messages_role_check"},
		{"odd kind", func(m *store.Message) { m.Kind = "Voice Note" }, "messages_kind_check"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			m := valid
			tt.modify(&m)
			err := f.store.SaveMessage(f.ctx, m)
			require.ErrorIs(t, err, store.ErrInvalid)
			require.ErrorContains(t, err, tt.want)
		})
	}
}

func TestChats(t *testing.T) {
	t.Parallel()
	f := setup(t)

	_, err := f.store.Chat(f.ctx, account, chatJID)
	require.ErrorIs(t, err, store.ErrNotFound)
	require.NotErrorIs(t, err, pgx.ErrNoRows, "pgx.ErrNoRows must not leak")
	err = f.store.SetChatSettings(f.ctx, account, chatJID, json.RawMessage(`{"voice":true}`))
	require.ErrorIs(t, err, store.ErrNotFound)

	require.NoError(t, f.store.EnsureChat(f.ctx, account, chatJID, store.ChatDM))
	require.NoError(t, f.store.EnsureChat(f.ctx, account, chatJID, store.ChatGroup), "existing chat left as is")
	c, err := f.store.Chat(f.ctx, account, chatJID)
	require.NoError(t, err)
	require.Equal(t, store.ChatDM, c.Kind)
	require.JSONEq(t, `{}`, string(c.Settings))
	require.False(t, c.CreatedAt.IsZero())

	require.NoError(t, f.store.SetChatSettings(f.ctx, account, chatJID, json.RawMessage(`{"voice":true}`)))
	c, err = f.store.Chat(f.ctx, account, chatJID)
	require.NoError(t, err)
	require.JSONEq(t, `{"voice":true}`, string(c.Settings))
	require.False(t, c.UpdatedAt.Before(c.CreatedAt))

	require.ErrorIs(t, f.store.SetChatSettings(f.ctx, account, chatJID, json.RawMessage(`{`)), store.ErrInvalid)
	require.ErrorIs(t, f.store.EnsureChat(f.ctx, account, "g@g.us", "channel"), store.ErrInvalid)
}

func TestAppendMemoryIsIdempotent(t *testing.T) {
	t.Parallel()
	f := setup(t)
	expires := time.Now().Add(time.Hour)
	entries := []store.MemoryEntry{
		{MessageID: "M1", Role: store.RoleUser, Content: "hi", Tokens: 2},
		{MessageID: "M1", Role: store.RoleAssistant, Content: "hello!", Tokens: 3},
	}
	require.NoError(t, f.store.AppendMemory(f.ctx, account, chatJID, expires, entries...))
	require.NoError(t, f.store.AppendMemory(f.ctx, account, chatJID, expires, entries...), "retry")
	require.NoError(t, f.store.AppendMemory(f.ctx, account, chatJID, expires, entries[0], entries[0]), "duplicate in one call")
	require.NoError(t, f.store.AppendMemory(f.ctx, account, chatJID, expires), "nothing to append")
	require.Equal(t, 2, f.count(t, "SELECT count(*) FROM memory"))

	// The same message id in another chat is another entry.
	require.NoError(t, f.store.AppendMemory(f.ctx, account, "other@g.us", expires, entries[0]))
	require.Equal(t, 3, f.count(t, "SELECT count(*) FROM memory"))

	got, err := f.store.LoadMemory(f.ctx, account, chatJID, 100)
	require.NoError(t, err)
	require.Len(t, got, 2)
	require.Equal(t, "hi", got[0].Content)
	require.Equal(t, "hello!", got[1].Content)
	require.WithinDuration(t, time.Now(), got[0].CreatedAt, time.Minute)
}

func TestAppendMemoryInvalid(t *testing.T) {
	t.Parallel()
	f := setup(t)
	expires := time.Now().Add(time.Hour)
	ok := store.MemoryEntry{MessageID: "M1", Role: store.RoleUser, Content: "hi", Tokens: 1}

	err := f.store.AppendMemory(f.ctx, account, chatJID, time.Time{}, ok)
	require.ErrorIs(t, err, store.ErrInvalid)
	err = f.store.AppendMemory(f.ctx, account, chatJID, expires, ok, store.MemoryEntry{Role: store.RoleUser})
	require.ErrorIs(t, err, store.ErrInvalid)
	require.ErrorContains(t, err, "memory entry 1 needs message_id")
	err = f.store.AppendMemory(f.ctx, account, chatJID, expires, ok, store.MemoryEntry{MessageID: "M2", Role: "tool"})
	require.ErrorIs(t, err, store.ErrInvalid)
	err = f.store.AppendMemory(f.ctx, account, chatJID, expires, ok, store.MemoryEntry{MessageID: "M3", Role: store.RoleUser, Tokens: -1})
	require.ErrorIs(t, err, store.ErrInvalid)
	require.Zero(t, f.count(t, "SELECT count(*) FROM memory"), "one statement: all or nothing")
}

func TestLoadMemory(t *testing.T) {
	t.Parallel()
	f := setup(t)
	now := time.Now()
	later := now.Add(time.Hour)
	base := now.Add(-time.Hour)
	// Oldest to newest: tokens 5, 4, 3, 2, 1.
	var entries []store.MemoryEntry
	for i, tokens := range []int{5, 4, 3, 2, 1} {
		entries = append(entries, store.MemoryEntry{
			MessageID: fmt.Sprintf("M%d", i), Role: store.RoleUser,
			Content: fmt.Sprintf("c%d", i), Tokens: tokens, CreatedAt: base.Add(time.Duration(i) * time.Minute),
		})
	}
	require.NoError(t, f.store.AppendMemory(f.ctx, account, chatJID, later, entries...))
	// Noise that must never show up: another chat, another account, expired rows.
	require.NoError(t, f.store.AppendMemory(f.ctx, account, "other@g.us", later, entries...))
	require.NoError(t, f.store.AppendMemory(f.ctx, "other-account", chatJID, later, entries...))

	contents := func(es []store.MemoryEntry) []string {
		out := []string{}
		for _, e := range es {
			out = append(out, e.Content)
		}
		return out
	}
	tests := []struct {
		budget int
		want   []string
	}{
		{0, []string{}},
		{-3, []string{}},
		{1, []string{"c4"}},
		{2, []string{"c4"}},       // 1+2 > 2: stop
		{3, []string{"c3", "c4"}}, // exactly the budget
		{5, []string{"c3", "c4"}}, // 1+2+3 > 5
		{6, []string{"c2", "c3", "c4"}},
		{14, []string{"c1", "c2", "c3", "c4"}},
		{15, []string{"c0", "c1", "c2", "c3", "c4"}},
		{1000, []string{"c0", "c1", "c2", "c3", "c4"}},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("budget %d", tt.budget), func(t *testing.T) {
			t.Parallel()
			got, err := f.store.LoadMemory(f.ctx, account, chatJID, tt.budget)
			require.NoError(t, err)
			require.Equal(t, tt.want, contents(got))
		})
	}

	t.Run("fields", func(t *testing.T) {
		t.Parallel()
		got, err := f.store.LoadMemory(f.ctx, account, chatJID, 1)
		require.NoError(t, err)
		require.Len(t, got, 1)
		want := entries[4]
		require.Equal(t, want.MessageID, got[0].MessageID)
		require.Equal(t, want.Role, got[0].Role)
		require.Equal(t, want.Tokens, got[0].Tokens)
		require.WithinDuration(t, want.CreatedAt, got[0].CreatedAt, time.Millisecond)
	})
}

func TestLoadMemoryIgnoresExpired(t *testing.T) {
	t.Parallel()
	f := setup(t)
	now := time.Now()
	require.NoError(t, f.store.AppendMemory(f.ctx, account, chatJID, now.Add(-time.Second),
		store.MemoryEntry{MessageID: "old", Role: store.RoleUser, Content: "old", Tokens: 1}))
	require.NoError(t, f.store.AppendMemory(f.ctx, account, chatJID, now.Add(time.Hour),
		store.MemoryEntry{MessageID: "new", Role: store.RoleUser, Content: "new", Tokens: 1}))
	// An expired row newer than a live one is skipped, not a stop.
	require.NoError(t, f.store.AppendMemory(f.ctx, account, chatJID, now.Add(-time.Second),
		store.MemoryEntry{MessageID: "newer-but-expired", Role: store.RoleUser, Content: "gone", Tokens: 1}))

	got, err := f.store.LoadMemory(f.ctx, account, chatJID, 100)
	require.NoError(t, err)
	require.Len(t, got, 1)
	require.Equal(t, "new", got[0].Content)
}

func TestLoadMemoryLooksAtBoundedRows(t *testing.T) {
	t.Parallel()
	f := setup(t)
	entries := make([]store.MemoryEntry, 1500)
	for i := range entries {
		entries[i] = store.MemoryEntry{MessageID: fmt.Sprintf("M%04d", i), Role: store.RoleUser, Content: "x", Tokens: 0}
	}
	require.NoError(t, f.store.AppendMemory(f.ctx, account, chatJID, time.Now().Add(time.Hour), entries...))
	got, err := f.store.LoadMemory(f.ctx, account, chatJID, 10)
	require.NoError(t, err)
	require.Len(t, got, 1000)
	require.Equal(t, "M0500", got[0].MessageID, "the newest 1000, oldest first")
	require.Equal(t, "M1499", got[999].MessageID)
}

func TestResetMemory(t *testing.T) {
	t.Parallel()
	f := setup(t)
	expires := time.Now().Add(time.Hour)
	require.NoError(t, f.store.AppendMemory(f.ctx, account, chatJID, expires,
		store.MemoryEntry{MessageID: "M1", Role: store.RoleUser, Content: "a", Tokens: 1},
		store.MemoryEntry{MessageID: "M1", Role: store.RoleAssistant, Content: "b", Tokens: 1}))
	require.NoError(t, f.store.AppendMemory(f.ctx, account, "other@g.us", expires,
		store.MemoryEntry{MessageID: "M1", Role: store.RoleUser, Content: "a", Tokens: 1}))

	n, err := f.store.ResetMemory(f.ctx, account, chatJID)
	require.NoError(t, err)
	require.EqualValues(t, 2, n)
	n, err = f.store.ResetMemory(f.ctx, account, chatJID)
	require.NoError(t, err)
	require.Zero(t, n)

	got, err := f.store.LoadMemory(f.ctx, account, chatJID, 100)
	require.NoError(t, err)
	require.Empty(t, got)
	got, err = f.store.LoadMemory(f.ctx, account, "other@g.us", 100)
	require.NoError(t, err)
	require.Len(t, got, 1, "other chats keep their memory")
}

func TestRecordUsage(t *testing.T) {
	t.Parallel()
	f := setup(t)
	u := store.Usage{
		Account: account, ChatJID: chatJID, SenderJID: chatJID, MessageID: "M1",
		Model: "gpt-4o-mini", PromptTokens: 120, CompletionTokens: 30,
	}
	require.NoError(t, f.store.RecordUsage(f.ctx, u))
	retry := u
	retry.PromptTokens = 999
	require.NoError(t, f.store.RecordUsage(f.ctx, retry))
	other := u
	other.Model, other.ExpiresAt = "whisper-1", time.Now().Add(time.Hour)
	require.NoError(t, f.store.RecordUsage(f.ctx, other))

	require.Equal(t, 2, f.count(t, "SELECT count(*) FROM usage"))
	require.Equal(t, 120, f.count(t, "SELECT prompt_tokens FROM usage WHERE model = 'gpt-4o-mini'"))
	require.Equal(t, 1, f.count(t, "SELECT count(*) FROM usage WHERE expires_at IS NULL"), "zero ExpiresAt keeps the row")

	err := f.store.RecordUsage(f.ctx, store.Usage{Account: account, ChatJID: chatJID, MessageID: "M2"})
	require.ErrorIs(t, err, store.ErrInvalid)
	require.ErrorContains(t, err, "model")
	bad := u
	bad.MessageID, bad.CompletionTokens = "M3", -1
	require.ErrorIs(t, f.store.RecordUsage(f.ctx, bad), store.ErrInvalid)
}

func TestOutbound(t *testing.T) {
	t.Parallel()
	f := setup(t)
	sent, err := f.store.WasSent(f.ctx, account, "R1")
	require.NoError(t, err)
	require.False(t, sent)

	at := time.Now().Add(-time.Minute).Truncate(time.Microsecond)
	require.NoError(t, f.store.MarkSent(f.ctx, account, "R1", chatJID, at))
	require.NoError(t, f.store.MarkSent(f.ctx, account, "R1", chatJID, time.Now()), "retry keeps the first record")

	sent, err = f.store.WasSent(f.ctx, account, "R1")
	require.NoError(t, err)
	require.True(t, sent)
	sent, err = f.store.WasSent(f.ctx, "other-account", "R1")
	require.NoError(t, err)
	require.False(t, sent, "reply ids are per account")

	var got time.Time
	require.NoError(t, f.pool.QueryRow(f.ctx, "SELECT sent_at FROM outbound").Scan(&got))
	require.True(t, at.Equal(got), "want %v, got %v", at, got)

	require.ErrorIs(t, f.store.MarkSent(f.ctx, account, "", chatJID, at), store.ErrInvalid)
}

func TestInTx(t *testing.T) {
	t.Parallel()
	f := setup(t)
	msg := store.Message{
		Account: account, ChatJID: chatJID, MessageID: "M1", Role: store.RoleUser,
		Kind: "text", ExpiresAt: time.Now().Add(time.Hour),
	}
	boom := errors.New("boom")

	err := f.store.InTx(f.ctx, func(tx pgx.Tx) error {
		ts := f.store.WithTx(tx)
		require.NoError(t, ts.EnsureChat(f.ctx, account, chatJID, store.ChatDM))
		require.NoError(t, ts.SaveMessage(f.ctx, msg))
		return boom
	})
	require.ErrorIs(t, err, boom)
	require.Zero(t, f.count(t, "SELECT count(*) FROM messages"), "rolled back")
	_, err = f.store.Chat(f.ctx, account, chatJID)
	require.ErrorIs(t, err, store.ErrNotFound)

	err = f.store.InTx(f.ctx, func(tx pgx.Tx) error {
		ts := f.store.WithTx(tx)
		if err := ts.EnsureChat(f.ctx, account, chatJID, store.ChatDM); err != nil {
			return err
		}
		// A nested InTx is a savepoint: its rollback keeps the outer work.
		err := ts.InTx(f.ctx, func(sp pgx.Tx) error {
			require.NoError(t, f.store.WithTx(sp).SaveMessage(f.ctx, msg))
			return boom
		})
		require.ErrorIs(t, err, boom)
		return nil
	})
	require.NoError(t, err)
	require.Zero(t, f.count(t, "SELECT count(*) FROM messages"))
	_, err = f.store.Chat(f.ctx, account, chatJID)
	require.NoError(t, err)
}
