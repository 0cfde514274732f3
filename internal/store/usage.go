package store

import (
	"context"
	"fmt"
	"time"
)

// Usage is the LLM token usage of one model call for one message. A zero
// CreatedAt means now; a zero ExpiresAt keeps the row until a retention
// policy removes it.
type Usage struct {
	Account          string
	ChatJID          string
	SenderJID        string
	MessageID        string
	Model            string
	PromptTokens     int
	CompletionTokens int
	CreatedAt        time.Time
	ExpiresAt        time.Time
}

const sqlRecordUsage = `
INSERT INTO usage (account, chat_jid, sender_jid, message_id, model, prompt_tokens, completion_tokens, created_at, expires_at)
VALUES ($1, $2, $3, $4, $5, $6, $7, coalesce($8, now()), $9)
ON CONFLICT (account, message_id, model) DO NOTHING`

// RecordUsage stores u once per (Account, MessageID, Model); recording it
// again is a no-op that keeps the first numbers.
func (s *Store) RecordUsage(ctx context.Context, u Usage) error {
	if err := required("usage",
		field{"account", u.Account != ""}, field{"chat_jid", u.ChatJID != ""},
		field{"message_id", u.MessageID != ""}, field{"model", u.Model != ""},
	); err != nil {
		return err
	}
	_, err := s.db.Exec(ctx, sqlRecordUsage, u.Account, u.ChatJID, u.SenderJID, u.MessageID, u.Model,
		u.PromptTokens, u.CompletionTokens, timeOrNull(u.CreatedAt), timeOrNull(u.ExpiresAt))
	if err != nil {
		return fmt.Errorf("recording usage: %w", translate(err))
	}
	return nil
}
