package store

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode"

	"github.com/jackc/pgx/v5"
)

// Blob is a piece of media kept in PostgreSQL. Workflows pass its Key.
type Blob struct {
	Key       string
	Account   string
	ChatJID   string
	Mime      string
	Data      []byte
	ExpiresAt time.Time
}

// DocumentChunk is a piece of a document's extracted text.
type DocumentChunk struct {
	MessageID string
	FileName  string
	Seq       int
	Content   string
}

const (
	sqlPutBlob = `
INSERT INTO blobs (key, account, chat_jid, mime, size, data, expires_at)
VALUES ($1, $2, $3, $4, $5, $6, $7)
ON CONFLICT (key) DO UPDATE SET mime = EXCLUDED.mime, size = EXCLUDED.size, data = EXCLUDED.data,
    expires_at = EXCLUDED.expires_at`

	sqlGetBlob = `SELECT key, account, chat_jid, mime, data, expires_at FROM blobs WHERE key = $1`

	sqlDeleteChunks = `DELETE FROM document_chunks WHERE account = $1 AND message_id = $2`

	sqlInsertChunk = `
INSERT INTO document_chunks (account, chat_jid, message_id, file_name, seq, content, expires_at)
VALUES ($1, $2, $3, $4, $5, $6, $7)`

	// sqlSearchChunks ranks the chunks of one document (or, with an empty
	// message ID, of the chat's newest document) against an OR query.
	sqlSearchChunks = `
WITH doc AS (
    SELECT coalesce(nullif($3, ''), (
        SELECT message_id FROM document_chunks
        WHERE account = $1 AND chat_jid = $2 ORDER BY id DESC LIMIT 1)) AS message_id
)
SELECT c.message_id, c.file_name, c.seq, c.content
FROM document_chunks c, doc
WHERE c.account = $1 AND c.chat_jid = $2 AND c.message_id = doc.message_id
ORDER BY ts_rank(c.tsv, to_tsquery('english', $4)) DESC, c.seq
LIMIT $5`

	sqlHasDocument = `SELECT EXISTS (SELECT 1 FROM document_chunks WHERE account = $1 AND message_id = $2)`

	sqlSetChatSetting = `
UPDATE chats SET settings = settings || jsonb_build_object($3::text, $4::jsonb), updated_at = now()
WHERE account = $1 AND chat_jid = $2`

	sqlChatSetting = `SELECT settings -> $3 FROM chats WHERE account = $1 AND chat_jid = $2`

	sqlLastReply = `
SELECT body FROM messages
WHERE account = $1 AND chat_jid = $2 AND role = 'assistant' AND body <> ''
ORDER BY id DESC LIMIT 1`
)

// PutBlob stores (or replaces) a blob under its key.
func (s *Store) PutBlob(ctx context.Context, b Blob) error {
	if err := required("blob", field{"key", b.Key != ""}, field{"account", b.Account != ""},
		field{"expires_at", !b.ExpiresAt.IsZero()}); err != nil {
		return err
	}
	if _, err := s.db.Exec(ctx, sqlPutBlob, b.Key, b.Account, b.ChatJID, b.Mime, len(b.Data), b.Data, b.ExpiresAt); err != nil {
		return fmt.Errorf("storing blob: %w", translate(err))
	}
	return nil
}

// GetBlob returns a blob, or ErrNotFound.
func (s *Store) GetBlob(ctx context.Context, key string) (Blob, error) {
	var b Blob
	if err := s.db.QueryRow(ctx, sqlGetBlob, key).Scan(&b.Key, &b.Account, &b.ChatJID, &b.Mime, &b.Data, &b.ExpiresAt); err != nil {
		return Blob{}, fmt.Errorf("loading blob: %w", translate(err))
	}
	return b, nil
}

// SaveDocumentChunks replaces the chunks of the document messageID.
func (s *Store) SaveDocumentChunks(ctx context.Context, account, chatJID string, expires time.Time, chunks []DocumentChunk) error {
	if len(chunks) == 0 {
		return nil
	}
	return s.InTx(ctx, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, sqlDeleteChunks, account, chunks[0].MessageID); err != nil {
			return fmt.Errorf("replacing document chunks: %w", translate(err))
		}
		batch := &pgx.Batch{}
		for _, c := range chunks {
			batch.Queue(sqlInsertChunk, account, chatJID, c.MessageID, c.FileName, c.Seq, c.Content, expires)
		}
		if err := tx.SendBatch(ctx, batch).Close(); err != nil {
			return fmt.Errorf("storing document chunks: %w", translate(err))
		}
		return nil
	})
}

// HasDocument reports whether messageID is a document with extracted text.
func (s *Store) HasDocument(ctx context.Context, account, messageID string) (bool, error) {
	var ok bool
	if err := s.db.QueryRow(ctx, sqlHasDocument, account, messageID).Scan(&ok); err != nil {
		return false, fmt.Errorf("looking for document: %w", translate(err))
	}
	return ok, nil
}

// SearchDocument returns up to limit chunks of the document messageID (the
// chat's newest document when messageID is "") ranked by full-text relevance
// to question. It returns no chunks when the chat has no document.
func (s *Store) SearchDocument(ctx context.Context, account, chatJID, messageID, question string, limit int) ([]DocumentChunk, error) {
	rows, err := s.db.Query(ctx, sqlSearchChunks, account, chatJID, messageID, orQuery(question), limit)
	if err != nil {
		return nil, fmt.Errorf("searching document: %w", translate(err))
	}
	out, err := pgx.CollectRows(rows, pgx.RowToStructByPos[DocumentChunk])
	if err != nil {
		return nil, fmt.Errorf("searching document: %w", translate(err))
	}
	return out, nil
}

// orQuery turns free text into a to_tsquery expression matching any of its
// words (letters and digits only, so the query always parses).
func orQuery(q string) string {
	words := strings.FieldsFunc(q, func(r rune) bool { return !unicode.IsLetter(r) && !unicode.IsDigit(r) })
	if len(words) == 0 {
		return "" // an empty query: every chunk ranks the same
	}
	if len(words) > 64 {
		words = words[:64]
	}
	return strings.Join(words, " | ")
}

// SetChatSetting sets one key of a chat's settings to a JSON value.
func (s *Store) SetChatSetting(ctx context.Context, account, chatJID, key, jsonValue string) error {
	tag, err := s.db.Exec(ctx, sqlSetChatSetting, account, chatJID, key, jsonValue)
	if err != nil {
		return fmt.Errorf("setting chat setting: %w", translate(err))
	}
	if tag.RowsAffected() == 0 {
		return fmt.Errorf("setting chat setting: %w", ErrNotFound)
	}
	return nil
}

// ChatSetting returns one key of a chat's settings as JSON, or "" if unset.
func (s *Store) ChatSetting(ctx context.Context, account, chatJID, key string) (string, error) {
	var v []byte
	err := s.db.QueryRow(ctx, sqlChatSetting, account, chatJID, key).Scan(&v)
	if err != nil {
		if err = translate(err); errors.Is(err, ErrNotFound) {
			return "", nil
		}
		return "", fmt.Errorf("loading chat setting: %w", err)
	}
	return string(v), nil
}

// LastReply is the text of the bot's newest reply in a chat, or ErrNotFound.
func (s *Store) LastReply(ctx context.Context, account, chatJID string) (string, error) {
	var body string
	if err := s.db.QueryRow(ctx, sqlLastReply, account, chatJID).Scan(&body); err != nil {
		return "", fmt.Errorf("loading last reply: %w", translate(err))
	}
	return body, nil
}
