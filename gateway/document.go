package gateway

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"go.mau.fi/whatsmeow"
	"go.mau.fi/whatsmeow/proto/waE2E"
	"go.mau.fi/whatsmeow/types"
	"go.temporal.io/sdk/temporal"
	"google.golang.org/protobuf/proto"

	"github.com/wabot/wabot/internal/errcode"
	"github.com/wabot/wabot/internal/message"
)

// exportStore is where SendDocument finds the bytes of a document.
type exportStore interface {
	ExportZip(ctx context.Context, id string) ([]byte, error)
}

// WithExports lets SendDocument read export ZIPs from s.
func (a *Activities) WithExports(s exportStore) *Activities {
	a.exports = s
	return a
}

// SendDocument uploads a document (an export ZIP) and sends it. Like Send it
// is idempotent by the document's message ID: recorded as sent → not again.
func (a *Activities) SendDocument(ctx context.Context, d message.Document) error {
	to, err := types.ParseJID(d.Chat)
	if err != nil || d.ID == "" {
		return temporal.NewNonRetryableApplicationError("bad document address or id", string(errcode.InvalidArgument), err)
	}
	if a.exports == nil {
		return temporal.NewNonRetryableApplicationError("gateway has no export store", string(errcode.Internal), nil)
	}
	if done, err := a.sent.WasSent(ctx, d.Account, d.ID); err != nil {
		return fmt.Errorf("checking outbound log: %w", err)
	} else if done {
		return nil
	}
	data, err := a.exports.ExportZip(ctx, d.ExportID)
	if err != nil {
		return fmt.Errorf("loading export %s: %w", d.ExportID, err)
	}
	up, err := a.client.Upload(ctx, data, whatsmeow.MediaDocument)
	if err != nil {
		if errors.Is(err, whatsmeow.ErrNotLoggedIn) {
			return temporal.NewApplicationErrorWithOptions("whatsapp not logged in", "NOT_LOGGED_IN",
				temporal.ApplicationErrorOptions{Cause: err, NextRetryDelay: 30 * time.Second})
		}
		return fmt.Errorf("uploading document: %w", err)
	}
	msg := &waE2E.Message{DocumentMessage: &waE2E.DocumentMessage{
		URL: proto.String(up.URL), DirectPath: proto.String(up.DirectPath), MediaKey: up.MediaKey,
		FileEncSHA256: up.FileEncSHA256, FileSHA256: up.FileSHA256, FileLength: proto.Uint64(up.FileLength),
		Mimetype: proto.String(d.Mimetype), FileName: proto.String(d.FileName), Title: proto.String(d.FileName),
		Caption: proto.String(d.Caption),
	}}
	if _, err := a.client.SendMessage(ctx, to, msg, whatsmeow.SendRequestExtra{ID: d.ID}); err != nil {
		return fmt.Errorf("sending document %s: %w", d.ID, err)
	}
	if err := a.sent.MarkSent(ctx, d.Account, d.ID, d.Chat, time.Now()); err != nil {
		return fmt.Errorf("recording document %s as sent: %w", d.ID, err)
	}
	a.logger.InfoContext(ctx, "document sent", slog.String("chat_hash", a.hasher.Hash(d.Chat)),
		slog.String("reply_id", d.ID), slog.Int("bytes", len(data)))
	return nil
}
