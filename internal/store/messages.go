package store

import (
	"context"
	"fmt"
	"time"
)

// Message roles.
const (
	RoleUser      = "user"
	RoleAssistant = "assistant"
	RoleSystem    = "system" // memory only
)

// Message is one message the bot received (RoleUser) or sent (RoleAssistant).
// Kind is free-form lower-case ("text", "voice", "image", "document",
// "command", …). A zero CreatedAt means now; ExpiresAt is required.
type Message struct {
	Account   string
	ChatJID   string
	MessageID string // WhatsApp message id (for replies: the reply id)
	Role      string
	SenderJID string
	Kind      string
	Body      string
	CreatedAt time.Time
	ExpiresAt time.Time
}

const sqlSaveMessage = `
INSERT INTO messages (account, chat_jid, message_id, role, sender_jid, kind, body, created_at, expires_at)
VALUES ($1, $2, $3, $4, $5, $6, $7, coalesce($8, now()), $9)
ON CONFLICT (account, message_id, role) DO NOTHING`

// SaveMessage stores m once: saving the same (Account, MessageID, Role) again
// is a no-op that keeps the first version.
func (s *Store) SaveMessage(ctx context.Context, m Message) error {
	if err := required("message",
		field{"account", m.Account != ""}, field{"chat_jid", m.ChatJID != ""},
		field{"message_id", m.MessageID != ""}, field{"role", m.Role != ""},
		field{"kind", m.Kind != ""}, field{"expires_at", !m.ExpiresAt.IsZero()},
	); err != nil {
		return err
	}
	_, err := s.db.Exec(ctx, sqlSaveMessage, m.Account, m.ChatJID, m.MessageID, m.Role, m.SenderJID,
		m.Kind, m.Body, timeOrNull(m.CreatedAt), m.ExpiresAt)
	if err != nil {
		return fmt.Errorf("saving message: %w", translate(err))
	}
	return nil
}
