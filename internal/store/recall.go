package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
)

// ErrFull is returned when an addition would pass a cap (pinned facts' tokens).
var ErrFull = errors.New("store: full")

// Summary is a chat's running summary: its memory up to ThroughID folded
// into one text.
type Summary struct {
	Text      string
	Tokens    int
	ThroughID int64
	Folds     int
	CreatedAt time.Time // of the newest turn it covers
}

const (
	sqlSummary = `
SELECT summary, tokens, through_id, folds, created_at FROM memory_summaries
WHERE account = $1 AND chat_jid = $2 AND expires_at > now()`

	// A compare-and-swap on through_id: a fold whose starting point moved
	// (another attempt already folded) writes nothing.
	sqlSaveSummary = `
INSERT INTO memory_summaries (account, chat_jid, summary, tokens, through_id, folds, created_at, expires_at)
VALUES ($1, $2, $3, $4, $5, 1, $6, $7)
ON CONFLICT (account, chat_jid) DO UPDATE
SET summary = excluded.summary, tokens = excluded.tokens, through_id = excluded.through_id,
    folds = memory_summaries.folds + 1, created_at = excluded.created_at, expires_at = excluded.expires_at, updated_at = now()
WHERE memory_summaries.through_id = $8`

	sqlUnfoldedTokens = `
SELECT coalesce(sum(tokens), 0) FROM memory
WHERE account = $1 AND chat_jid = $2 AND expires_at > now() AND id > $3`

	sqlMemoryRange = `
SELECT message_id, role, content, tokens, created_at, id FROM memory
WHERE account = $1 AND chat_jid = $2 AND expires_at > now() AND id > $3
ORDER BY id LIMIT $4`

	sqlResetSummary = `DELETE FROM memory_summaries WHERE account = $1 AND chat_jid = $2`
)

// Summary returns a chat's running summary, or ErrNotFound.
func (s *Store) Summary(ctx context.Context, account, chatJID string) (Summary, error) {
	var sum Summary
	err := s.db.QueryRow(ctx, sqlSummary, account, chatJID).Scan(&sum.Text, &sum.Tokens, &sum.ThroughID, &sum.Folds, &sum.CreatedAt)
	if err != nil {
		return Summary{}, fmt.Errorf("loading summary: %w", translate(err))
	}
	return sum, nil
}

// SaveSummary stores sum as the chat's summary if the stored one still
// covers through prevThrough (0: none yet); saved is false when it moved.
func (s *Store) SaveSummary(ctx context.Context, account, chatJID string, prevThrough int64, sum Summary, expiresAt time.Time) (saved bool, err error) {
	tag, err := s.db.Exec(ctx, sqlSaveSummary, account, chatJID, sum.Text, sum.Tokens, sum.ThroughID, sum.CreatedAt, expiresAt, prevThrough)
	if err != nil {
		return false, fmt.Errorf("saving summary: %w", translate(err))
	}
	return tag.RowsAffected() == 1, nil
}

// UnfoldedTokens sums the tokens of a chat's memory after afterID.
func (s *Store) UnfoldedTokens(ctx context.Context, account, chatJID string, afterID int64) (int, error) {
	var n int
	if err := s.db.QueryRow(ctx, sqlUnfoldedTokens, account, chatJID, afterID).Scan(&n); err != nil {
		return 0, fmt.Errorf("summing memory: %w", translate(err))
	}
	return n, nil
}

// MemoryAfter returns up to limit of a chat's memory entries after afterID,
// oldest first.
func (s *Store) MemoryAfter(ctx context.Context, account, chatJID string, afterID int64, limit int) ([]MemoryEntry, error) {
	rows, err := s.db.Query(ctx, sqlMemoryRange, account, chatJID, afterID, min(limit, maxMemoryRows))
	if err != nil {
		return nil, fmt.Errorf("loading memory: %w", translate(err))
	}
	out, err := pgx.CollectRows(rows, pgx.RowToStructByPos[MemoryEntry])
	if err != nil {
		return nil, fmt.Errorf("loading memory: %w", translate(err))
	}
	return out, nil
}

// ResetSummary forgets a chat's running summary.
func (s *Store) ResetSummary(ctx context.Context, account, chatJID string) error {
	if _, err := s.db.Exec(ctx, sqlResetSummary, account, chatJID); err != nil {
		return fmt.Errorf("resetting summary: %w", translate(err))
	}
	return nil
}

// Item is one numbered entry of a chat's list: a pinned fact or a to-do.
type Item struct {
	ID        int64
	Text      string
	Tokens    int
	Done      bool
	CreatedAt time.Time
}

// ChatRef names a command's chat, sender and message (whose ID makes the
// command's effect happen once).
type ChatRef struct {
	Account, Chat, Sender, MessageID string
	ExpiresAt                        time.Time // of the effect's record (retention)
}

// lists are the tables of Items: the text column and the order.
var lists = map[string]struct{ table, text, tokens, done string }{
	"facts": {"pinned_facts", "fact", "tokens", "false"},
	"todos": {"todos", "item", "0", "done_at IS NOT NULL"},
}

// Items lists a chat's pinned facts ("facts") or to-dos ("todos"), oldest first.
func (s *Store) Items(ctx context.Context, list, account, chatJID string) ([]Item, error) {
	l := lists[list]
	q := fmt.Sprintf(`SELECT id, %s, %s, %s, created_at FROM %s WHERE account = $1 AND chat_jid = $2 ORDER BY id`, l.text, l.tokens, l.done, l.table)
	rows, err := s.db.Query(ctx, q, account, chatJID)
	if err != nil {
		return nil, fmt.Errorf("listing %s: %w", list, translate(err))
	}
	out, err := pgx.CollectRows(rows, pgx.RowToStructByPos[Item])
	if err != nil {
		return nil, fmt.Errorf("listing %s: %w", list, translate(err))
	}
	return out, nil
}

// PinFact pins a fact of tokens tokens, unless the chat's facts would then
// pass capTokens (ErrFull). Once per ref.MessageID.
func (s *Store) PinFact(ctx context.Context, ref ChatRef, fact string, tokens, capTokens int) error {
	return s.once(ctx, ref, nil, func(tx pgx.Tx) (any, error) {
		// Serialize the chat's pins so two cannot both fit under the cap.
		if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock(hashtext($1 || '/' || $2))`, ref.Account, ref.Chat); err != nil {
			return nil, err
		}
		var used int
		if err := tx.QueryRow(ctx, `SELECT coalesce(sum(tokens), 0) FROM pinned_facts WHERE account = $1 AND chat_jid = $2`,
			ref.Account, ref.Chat).Scan(&used); err != nil {
			return nil, err
		}
		if used+tokens > capTokens {
			return nil, ErrFull
		}
		_, err := tx.Exec(ctx, `INSERT INTO pinned_facts (account, chat_jid, sender_jid, message_id, fact, tokens) VALUES ($1, $2, $3, $4, $5, $6)`,
			ref.Account, ref.Chat, ref.Sender, ref.MessageID, fact, tokens)
		return nil, err
	})
}

// AddTodo adds a to-do item. Once per ref.MessageID.
func (s *Store) AddTodo(ctx context.Context, ref ChatRef, item string) error {
	return s.once(ctx, ref, nil, func(tx pgx.Tx) (any, error) {
		_, err := tx.Exec(ctx, `INSERT INTO todos (account, chat_jid, sender_jid, message_id, item) VALUES ($1, $2, $3, $4, $5)`,
			ref.Account, ref.Chat, ref.Sender, ref.MessageID, item)
		return nil, err
	})
}

// RemoveItem deletes the n-th (from 1) pinned fact or to-do of the chat, or
// all of them when n is 0, and returns what it removed (ErrNotFound when
// there is no n-th). Once per ref.MessageID: a retry returns the same.
func (s *Store) RemoveItem(ctx context.Context, ref ChatRef, list string, n int) ([]Item, error) {
	var removed []Item
	err := s.once(ctx, ref, &removed, func(tx pgx.Tx) (any, error) {
		items, err := s.WithTx(tx).Items(ctx, list, ref.Account, ref.Chat)
		if err != nil {
			return nil, err
		}
		if n > 0 {
			if n > len(items) {
				return nil, ErrNotFound
			}
			items = items[n-1 : n]
		}
		ids := make([]int64, len(items))
		for i, it := range items {
			ids[i] = it.ID
		}
		_, err = tx.Exec(ctx, `DELETE FROM `+lists[list].table+` WHERE id = ANY($1)`, ids)
		return items, err
	})
	return removed, err
}

// CompleteTodo marks the n-th (from 1) to-do done and returns it. Once per
// ref.MessageID.
func (s *Store) CompleteTodo(ctx context.Context, ref ChatRef, n int) (Item, error) {
	var done Item
	err := s.once(ctx, ref, &done, func(tx pgx.Tx) (any, error) {
		items, err := s.WithTx(tx).Items(ctx, "todos", ref.Account, ref.Chat)
		if err != nil {
			return nil, err
		}
		if n < 1 || n > len(items) {
			return nil, ErrNotFound
		}
		it := items[n-1]
		it.Done = true
		_, err = tx.Exec(ctx, `UPDATE todos SET done_at = coalesce(done_at, now()) WHERE id = $1`, it.ID)
		return it, err
	})
	return done, err
}

// once runs apply in a transaction together with a record of its effect
// under ref.MessageID; when the record exists (a retried command) it decodes
// the recorded effect into out instead and applies nothing.
func (s *Store) once(ctx context.Context, ref ChatRef, out any, apply func(pgx.Tx) (any, error)) error {
	if ref.Account == "" || ref.Chat == "" || ref.MessageID == "" {
		return fmt.Errorf("%w: account, chat and message id are required", ErrInvalid)
	}
	return s.InTx(ctx, func(tx pgx.Tx) error {
		var prev []byte
		err := tx.QueryRow(ctx, `SELECT effect FROM command_effects WHERE account = $1 AND chat_jid = $2 AND message_id = $3`,
			ref.Account, ref.Chat, ref.MessageID).Scan(&prev)
		switch err := translate(err); {
		case err == nil:
			if out == nil {
				return nil
			}
			return json.Unmarshal(prev, out)
		case !errors.Is(err, ErrNotFound):
			return fmt.Errorf("checking command effect: %w", err)
		}
		eff, err := apply(tx)
		if err != nil {
			if errors.Is(err, ErrFull) || errors.Is(err, ErrNotFound) {
				return err
			}
			return fmt.Errorf("applying command: %w", translate(err))
		}
		b, err := json.Marshal(eff)
		if err != nil {
			return err
		}
		expires := ref.ExpiresAt
		if expires.IsZero() {
			expires = time.Now().Add(30 * 24 * time.Hour)
		}
		if _, err := tx.Exec(ctx, `INSERT INTO command_effects (account, chat_jid, message_id, effect, expires_at) VALUES ($1, $2, $3, $4, $5)`,
			ref.Account, ref.Chat, ref.MessageID, b, expires); err != nil {
			return fmt.Errorf("recording command effect: %w", translate(err))
		}
		if out != nil {
			return json.Unmarshal(b, out)
		}
		return nil
	})
}
