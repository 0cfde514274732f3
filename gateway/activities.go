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
	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/worker"
	"google.golang.org/protobuf/proto"

	"github.com/wabot/wabot/internal/errcode"
	"github.com/wabot/wabot/internal/message"
	"github.com/wabot/wabot/workflows"
)

// sentLog remembers which replies went out, so a retried Send is a no-op.
type sentLog interface {
	WasSent(ctx context.Context, account, replyID string) (bool, error)
	MarkSent(ctx context.Context, account, replyID, chatJID string, at time.Time) error
}

// Activities are the activities that need the WhatsApp socket. They run on
// the gateway's own task queue (workflows.GatewayTaskQueue).
type Activities struct {
	logger  *slog.Logger
	account string
	client  Client
	sent    sentLog
	hasher  interface{ Hash(string) string }
	exports exportStore // for SendDocument; see WithExports
	forget  forgetter   // for ForgetContact; see WithForgetter
	receipt *Receipts   // read receipts, reactions, quoting; see WithReceipts
}

// WithReceipts makes Send mark answered messages read and quote a message
// that others overtook; r is the one the gateway's handler notes messages in.
func (a *Activities) WithReceipts(r *Receipts) *Activities {
	a.receipt = r
	return a
}

// NewActivities returns the gateway activities for one account.
func NewActivities(logger *slog.Logger, account string, c Client, sent sentLog, hasher interface{ Hash(string) string }) *Activities {
	return &Activities{logger: logger, account: account, client: c, sent: sent, hasher: hasher}
}

// Register registers the activities under the names workflows call.
func (a *Activities) Register(r worker.ActivityRegistry) {
	r.RegisterActivityWithOptions(a.Send, activity.RegisterOptions{Name: workflows.ActivitySend})
	r.RegisterActivityWithOptions(a.Presence, activity.RegisterOptions{Name: workflows.ActivityPresence})
	r.RegisterActivityWithOptions(a.SendDocument, activity.RegisterOptions{Name: workflows.ActivitySendDocument})
	r.RegisterActivityWithOptions(a.ForgetContact, activity.RegisterOptions{Name: workflows.ActivityForgetContact})
}

// Send delivers a reply. Its message ID was fixed before the first attempt:
// a reply already recorded as sent is not sent again, and a reply sent but not
// recorded (a crash in between) goes out again under the same ID, which
// WhatsApp treats as the same message.
func (a *Activities) Send(ctx context.Context, r message.Reply) error {
	to, err := types.ParseJID(r.Chat)
	if err != nil || r.ID == "" {
		return temporal.NewNonRetryableApplicationError("bad reply address or id", string(errcode.InvalidArgument), err)
	}
	if done, err := a.sent.WasSent(ctx, r.Account, r.ID); err != nil {
		return fmt.Errorf("checking outbound log: %w", err)
	} else if done {
		a.logger.InfoContext(ctx, "reply already sent", slog.String("reply_id", r.ID))
		return nil
	}
	r.QuotedID, r.Quoted = quoteOvertaken(a.receipt, r.Chat, r.QuotedID, r.Quoted, r.Answering)
	if _, err := a.client.SendMessage(ctx, to, textMessage(r), whatsmeow.SendRequestExtra{ID: r.ID}); err != nil {
		if errors.Is(err, whatsmeow.ErrNotLoggedIn) {
			return temporal.NewApplicationErrorWithOptions("whatsapp not logged in", "NOT_LOGGED_IN",
				temporal.ApplicationErrorOptions{Cause: err, NextRetryDelay: 30 * time.Second})
		}
		return fmt.Errorf("sending reply %s: %w", r.ID, err)
	}
	if err := a.sent.MarkSent(ctx, r.Account, r.ID, r.Chat, time.Now()); err != nil {
		return fmt.Errorf("recording reply %s as sent: %w", r.ID, err)
	}
	a.logger.InfoContext(ctx, "reply sent", slog.String("chat_hash", a.hasher.Hash(r.Chat)), slog.String("reply_id", r.ID))
	a.receipt.Answered(ctx, r.Chat, r.Answering)
	return nil
}

// quoteOvertaken returns the quote of a reply: the one asked for, or the
// answered message when other messages came in after it (in a direct chat,
// where replies otherwise quote nothing), so the person sees what it answers.
func quoteOvertaken(rc *Receipts, chat, quotedID, quoted string, a message.Answering) (string, string) {
	if quotedID == "" && rc.NewerThan(chat, a.InReplyTo) {
		return a.InReplyTo, a.From
	}
	return quotedID, quoted
}

// Presence shows or clears "typing…" in a chat. Best effort.
func (a *Activities) Presence(ctx context.Context, account, chat string, typing bool) error {
	jid, err := types.ParseJID(chat)
	if err != nil {
		return temporal.NewNonRetryableApplicationError("bad chat jid", string(errcode.InvalidArgument), err)
	}
	state := types.ChatPresencePaused
	if typing {
		state = types.ChatPresenceComposing
	}
	return a.client.SendChatPresence(ctx, jid, state, types.ChatPresenceMediaText)
}

// textMessage builds the WhatsApp message for a text reply, quoting the
// message it answers when asked to (groups).
func textMessage(r message.Reply) *waE2E.Message {
	if r.QuotedID == "" {
		return &waE2E.Message{Conversation: proto.String(r.Text)}
	}
	ci := &waE2E.ContextInfo{StanzaID: proto.String(r.QuotedID), QuotedMessage: &waE2E.Message{Conversation: proto.String("")}}
	if r.Quoted != "" {
		ci.Participant = proto.String(r.Quoted)
	}
	return &waE2E.Message{ExtendedTextMessage: &waE2E.ExtendedTextMessage{Text: proto.String(r.Text), ContextInfo: ci}}
}
