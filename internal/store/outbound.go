package store

import (
	"context"
	"fmt"
	"time"
)

const (
	sqlWasSent = `SELECT EXISTS (SELECT 1 FROM outbound WHERE account = $1 AND reply_id = $2)`

	sqlMarkSent = `
INSERT INTO outbound (account, reply_id, chat_jid, sent_at)
VALUES ($1, $2, $3, coalesce($4, now()))
ON CONFLICT (account, reply_id) DO NOTHING`
)

// WasSent reports whether the reply replyID of account was already delivered.
func (s *Store) WasSent(ctx context.Context, account, replyID string) (bool, error) {
	var sent bool
	if err := s.db.QueryRow(ctx, sqlWasSent, account, replyID).Scan(&sent); err != nil {
		return false, fmt.Errorf("checking outbound %s: %w", replyID, translate(err))
	}
	return sent, nil
}

// MarkSent records that the reply replyID was delivered to chatJID at at
// (zero means now). Marking it again keeps the first record.
func (s *Store) MarkSent(ctx context.Context, account, replyID, chatJID string, at time.Time) error {
	if err := required("outbound", field{"account", account != ""}, field{"reply_id", replyID != ""},
		field{"chat_jid", chatJID != ""}); err != nil {
		return err
	}
	if _, err := s.db.Exec(ctx, sqlMarkSent, account, replyID, chatJID, timeOrNull(at)); err != nil {
		return fmt.Errorf("marking %s sent: %w", replyID, translate(err))
	}
	return nil
}
