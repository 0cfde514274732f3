package store

import (
	"context"
	"fmt"
	"time"
)

// UsageTotal sums the LLM usage of one sender.
type UsageTotal struct {
	Messages         int
	PromptTokens     int
	CompletionTokens int
}

const sqlSenderUsage = `
SELECT count(DISTINCT message_id), coalesce(sum(prompt_tokens), 0), coalesce(sum(completion_tokens), 0)
FROM usage
WHERE account = $1 AND sender_jid = $2 AND created_at >= $3`

// SenderUsage sums the usage of senderJID on account since a time.
func (s *Store) SenderUsage(ctx context.Context, account, senderJID string, since time.Time) (UsageTotal, error) {
	var u UsageTotal
	if err := s.db.QueryRow(ctx, sqlSenderUsage, account, senderJID, since).Scan(&u.Messages, &u.PromptTokens, &u.CompletionTokens); err != nil {
		return UsageTotal{}, fmt.Errorf("summing usage: %w", translate(err))
	}
	return u, nil
}
