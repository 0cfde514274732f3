package store

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
)

// Chat kinds.
const (
	ChatDM    = "dm"
	ChatGroup = "group"
)

// Chat is a conversation of one bot account: a direct chat or a group.
type Chat struct {
	Account   string
	ChatJID   string
	Kind      string // ChatDM or ChatGroup
	Settings  json.RawMessage
	CreatedAt time.Time
	UpdatedAt time.Time
}

const (
	sqlEnsureChat = `
INSERT INTO chats (account, chat_jid, kind)
VALUES ($1, $2, $3)
ON CONFLICT (account, chat_jid) DO NOTHING`

	sqlChat = `
SELECT account, chat_jid, kind, settings, created_at, updated_at
FROM chats
WHERE account = $1 AND chat_jid = $2`

	sqlSetChatSettings = `
UPDATE chats
SET settings = $3, updated_at = now()
WHERE account = $1 AND chat_jid = $2`
)

// EnsureChat records the chat if it is new; an existing chat is left as is.
func (s *Store) EnsureChat(ctx context.Context, account, chatJID, kind string) error {
	if err := required("chat", field{"account", account != ""}, field{"chat_jid", chatJID != ""},
		field{"kind", kind != ""}); err != nil {
		return err
	}
	if _, err := s.db.Exec(ctx, sqlEnsureChat, account, chatJID, kind); err != nil {
		return fmt.Errorf("ensuring chat: %w", translate(err))
	}
	return nil
}

// Chat returns one chat, or ErrNotFound.
func (s *Store) Chat(ctx context.Context, account, chatJID string) (Chat, error) {
	rows, err := s.db.Query(ctx, sqlChat, account, chatJID)
	if err != nil {
		return Chat{}, fmt.Errorf("loading chat: %w", translate(err))
	}
	c, err := pgx.CollectExactlyOneRow(rows, pgx.RowToStructByPos[Chat])
	if err != nil {
		return Chat{}, fmt.Errorf("loading chat: %w", translate(err))
	}
	return c, nil
}

// SetChatSettings replaces the settings of an existing chat (a JSON object),
// or returns ErrNotFound.
func (s *Store) SetChatSettings(ctx context.Context, account, chatJID string, settings json.RawMessage) error {
	if !json.Valid(settings) {
		return fmt.Errorf("%w: chat settings are not valid JSON", ErrInvalid)
	}
	tag, err := s.db.Exec(ctx, sqlSetChatSettings, account, chatJID, string(settings))
	if err != nil {
		return fmt.Errorf("setting chat settings: %w", translate(err))
	}
	if tag.RowsAffected() == 0 {
		return fmt.Errorf("setting chat settings: %w", ErrNotFound)
	}
	return nil
}
