package store

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
)

// MemoryEntry is one turn of a chat's conversation memory. Tokens is its
// size as the LLM counts it; a zero CreatedAt means now.
type MemoryEntry struct {
	MessageID string
	Role      string // RoleUser, RoleAssistant or RoleSystem
	Content   string
	Tokens    int
	CreatedAt time.Time
	ID        int64 // set by the store: the memory's order
}

// maxMemoryRows bounds how many recent rows LoadMemory considers, whatever
// the budget, so a chat with a huge history costs one short index scan.
const maxMemoryRows = 1000

const (
	// One statement for any number of entries; WITH ORDINALITY + ORDER BY
	// keeps the ids (the memory's order) in the order of the arguments.
	sqlAppendMemory = `
INSERT INTO memory (account, chat_jid, message_id, role, content, tokens, created_at, expires_at)
SELECT $1, $2, e.message_id, e.role, e.content, e.tokens, coalesce(e.created_at, now()), $3
FROM unnest($4::text[], $5::text[], $6::text[], $7::integer[], $8::timestamptz[])
    WITH ORDINALITY AS e(message_id, role, content, tokens, created_at, ord)
ORDER BY e.ord
ON CONFLICT (account, chat_jid, message_id, role) DO NOTHING`

	// The newest rows first, a running sum over them, and the prefix whose
	// sum fits the budget (tokens >= 0, so the running sum only grows).
	sqlLoadMemory = `
SELECT message_id, role, content, tokens, created_at, id
FROM (
    SELECT id, message_id, role, content, tokens, created_at,
           sum(tokens) OVER (ORDER BY id DESC ROWS UNBOUNDED PRECEDING) AS running
    FROM (
        SELECT id, message_id, role, content, tokens, created_at
        FROM memory
        WHERE account = $1 AND chat_jid = $2 AND expires_at > now() AND id > $5
        ORDER BY id DESC
        LIMIT $4
    ) recent
) budgeted
WHERE running <= $3
ORDER BY id`

	sqlResetMemory = `DELETE FROM memory WHERE account = $1 AND chat_jid = $2`
)

// AppendMemory adds entries, in order, to a chat's memory, all expiring at
// expiresAt, in one statement. An entry whose (MessageID, Role) the chat
// already has is skipped, so a retried append adds nothing twice.
func (s *Store) AppendMemory(ctx context.Context, account, chatJID string, expiresAt time.Time, entries ...MemoryEntry) error {
	if len(entries) == 0 {
		return nil
	}
	if err := required("memory", field{"account", account != ""}, field{"chat_jid", chatJID != ""},
		field{"expires_at", !expiresAt.IsZero()}); err != nil {
		return err
	}
	var (
		ids      = make([]string, len(entries))
		roles    = make([]string, len(entries))
		contents = make([]string, len(entries))
		tokens   = make([]int, len(entries))
		created  = make([]*time.Time, len(entries))
	)
	for i, e := range entries {
		if err := required(fmt.Sprintf("memory entry %d", i),
			field{"message_id", e.MessageID != ""}, field{"role", e.Role != ""}); err != nil {
			return err
		}
		ids[i], roles[i], contents[i], tokens[i], created[i] = e.MessageID, e.Role, e.Content, e.Tokens, timeOrNull(e.CreatedAt)
	}
	_, err := s.db.Exec(ctx, sqlAppendMemory, account, chatJID, expiresAt, ids, roles, contents, tokens, created)
	if err != nil {
		return fmt.Errorf("appending memory: %w", translate(err))
	}
	return nil
}

// LoadMemory returns the most recent unexpired entries of a chat whose
// Tokens add up to at most tokenBudget, oldest first. It walks back from the
// newest entry and stops at the first one that would exceed the budget (so a
// single newest entry larger than the budget yields nothing), and looks at
// no more than the newest 1000 entries. A budget <= 0 yields nothing.
func (s *Store) LoadMemory(ctx context.Context, account, chatJID string, tokenBudget int) ([]MemoryEntry, error) {
	return s.LoadMemoryAfter(ctx, account, chatJID, 0, tokenBudget)
}

// LoadMemoryAfter is LoadMemory over the entries after afterID only (those
// a running summary does not cover yet).
func (s *Store) LoadMemoryAfter(ctx context.Context, account, chatJID string, afterID int64, tokenBudget int) ([]MemoryEntry, error) {
	if tokenBudget <= 0 {
		return nil, nil
	}
	rows, err := s.db.Query(ctx, sqlLoadMemory, account, chatJID, tokenBudget, maxMemoryRows, afterID)
	if err != nil {
		return nil, fmt.Errorf("loading memory: %w", translate(err))
	}
	entries, err := pgx.CollectRows(rows, pgx.RowToStructByPos[MemoryEntry])
	if err != nil {
		return nil, fmt.Errorf("loading memory: %w", translate(err))
	}
	return entries, nil
}

// ResetMemory forgets a chat's whole memory and returns how many entries it
// deleted.
func (s *Store) ResetMemory(ctx context.Context, account, chatJID string) (int64, error) {
	tag, err := s.db.Exec(ctx, sqlResetMemory, account, chatJID)
	if err != nil {
		return 0, fmt.Errorf("resetting memory: %w", translate(err))
	}
	return tag.RowsAffected(), nil
}
