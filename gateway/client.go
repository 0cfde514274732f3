// Package gateway is the bot's edge to WhatsApp. It turns whatsmeow events into
// small Inbound values, starts their workflows (acknowledging a message only
// after Temporal accepted it) and runs the activities that need the WhatsApp
// socket — Send and Presence — on its own task queue.
package gateway

import (
	"context"
	"time"

	"go.mau.fi/whatsmeow"
	"go.mau.fi/whatsmeow/proto/waE2E"
	"go.mau.fi/whatsmeow/types"
)

// Client is the narrow part of *whatsmeow.Client the gateway uses. Tests and
// the local chat page provide their own implementation.
type Client interface {
	SendMessage(ctx context.Context, to types.JID, message *waE2E.Message, extra ...whatsmeow.SendRequestExtra) (whatsmeow.SendResponse, error)
	SendChatPresence(ctx context.Context, jid types.JID, state types.ChatPresence, media types.ChatPresenceMedia) error
	MarkRead(ctx context.Context, ids []types.MessageID, timestamp time.Time, chat, sender types.JID, receiptTypeExtra ...types.ReceiptType) error
	Download(ctx context.Context, msg whatsmeow.DownloadableMessage) ([]byte, error)
	Upload(ctx context.Context, data []byte, appInfo whatsmeow.MediaType) (whatsmeow.UploadResponse, error)
	IsConnected() bool
}

var _ Client = (*whatsmeow.Client)(nil)

// Identity tells the gateway which JIDs are the bot itself: its phone JID and
// its LID. Either may be empty before login.
type Identity interface {
	OwnJIDs() (pn, lid types.JID)
}

// WhatsmeowIdentity reads the bot's own JIDs from a whatsmeow client's store.
type WhatsmeowIdentity struct{ Client *whatsmeow.Client }

// OwnJIDs implements Identity.
func (w WhatsmeowIdentity) OwnJIDs() (pn, lid types.JID) {
	if w.Client == nil || w.Client.Store == nil || w.Client.Store.ID == nil {
		return types.EmptyJID, types.EmptyJID
	}
	return w.Client.Store.ID.ToNonAD(), w.Client.Store.GetLID().ToNonAD()
}

// StaticIdentity is a fixed identity, for the local chat transport and tests.
type StaticIdentity struct{ PN, LID types.JID }

// OwnJIDs implements Identity.
func (s StaticIdentity) OwnJIDs() (pn, lid types.JID) { return s.PN, s.LID }
