package gateway

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"go.mau.fi/whatsmeow/proto/waCommon"
	"go.mau.fi/whatsmeow/proto/waE2E"
	"go.mau.fi/whatsmeow/types"
	"google.golang.org/protobuf/proto"

	"github.com/wabot/wabot/internal/message"
)

// maxTrackedChats bounds the chats Receipts remembers the newest message of;
// past it the memory starts over (at worst one reply too few quotes).
const maxTrackedChats = 10_000

// receiptTimeout bounds one best-effort receipt or reaction.
const receiptTimeout = 10 * time.Second

// Receipts is what a person sees of the bot's attention besides its replies:
// an optional reaction when a message is accepted (e.g. 👀 while the bot
// works on it), the read receipt ("played" for a voice note) once it is
// answered, and whether a reply must quote its message because others came
// in since. The gateway's handler and its Send activities share one.
type Receipts struct {
	logger   *slog.Logger
	client   Client
	reaction string // "" = no reaction on receipt
	hasher   interface{ Hash(string) string }

	mu      sync.Mutex
	latest  map[string]string        // chat JID → newest accepted message ID
	reacted map[string]chan struct{} // message ID → closed once its reaction was sent
}

// NewReceipts returns the Receipts of one account. reaction may be empty.
func NewReceipts(logger *slog.Logger, c Client, reaction string, hasher interface{ Hash(string) string }) *Receipts {
	return &Receipts{logger: logger, client: c, reaction: reaction, hasher: hasher,
		latest: map[string]string{}, reacted: map[string]chan struct{}{}}
}

// Accepted notes in as its chat's newest message and, if configured, reacts
// to it. The reaction is sent in the background: the handler never waits on it.
func (r *Receipts) Accepted(in message.Inbound) {
	if r == nil {
		return
	}
	r.mu.Lock()
	if len(r.latest) >= maxTrackedChats {
		clear(r.latest)
	}
	r.latest[in.Chat] = in.ID
	if r.reaction == "" || in.Kind == message.KindCommand {
		r.mu.Unlock()
		return
	}
	if len(r.reacted) >= maxTrackedChats {
		clear(r.reacted)
	}
	done := make(chan struct{})
	r.reacted[in.ID] = done
	r.mu.Unlock()
	go func() {
		defer close(done)
		r.react(in.Chat, in.ID, in.Sender, r.reaction)
	}()
}

// NewerThan reports whether a message newer than id was accepted in chat
// since: a reply to id then quotes it, so the person sees what it answers.
func (r *Receipts) NewerThan(chat, id string) bool {
	if r == nil || id == "" {
		return false
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	latest, ok := r.latest[chat]
	return ok && latest != id
}

// Answered sends the read receipt of the answered message and clears the
// reaction. Best effort: failures are logged, never returned, because the
// reply itself went out.
func (r *Receipts) Answered(ctx context.Context, chat string, a message.Answering) {
	if r == nil || a.InReplyTo == "" {
		return
	}
	chatJID, err := types.ParseJID(chat)
	if err != nil {
		return
	}
	sender, _ := types.ParseJID(a.From)
	ctx, cancel := context.WithTimeout(ctx, receiptTimeout)
	defer cancel()
	typ := []types.ReceiptType{}
	if a.Played {
		typ = append(typ, types.ReceiptTypePlayed)
	}
	if chatJID.Server != types.GroupServer {
		sender = types.EmptyJID // whatsmeow wants the sender only in groups
	}
	if err := r.client.MarkRead(ctx, []types.MessageID{a.InReplyTo}, time.Now(), chatJID, sender, typ...); err != nil {
		r.logger.WarnContext(ctx, "read receipt failed", slog.String("chat_hash", r.hasher.Hash(chat)), slog.Any("error", err))
	}
	r.mu.Lock()
	done, reacted := r.reacted[a.InReplyTo]
	delete(r.reacted, a.InReplyTo)
	r.mu.Unlock()
	if reacted {
		select { // the reaction must be there before it is taken back
		case <-done:
		case <-ctx.Done():
		}
		r.react(chat, a.InReplyTo, a.From, "")
	}
}

// react sets (or, with an empty emoji, removes) the bot's reaction to a message.
func (r *Receipts) react(chat, id, from, emoji string) {
	chatJID, err := types.ParseJID(chat)
	if err != nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), receiptTimeout)
	defer cancel()
	key := &waCommon.MessageKey{RemoteJID: proto.String(chat), FromMe: proto.Bool(false), ID: proto.String(id)}
	if chatJID.Server == types.GroupServer {
		key.Participant = proto.String(from)
	}
	msg := &waE2E.Message{ReactionMessage: &waE2E.ReactionMessage{
		Key: key, Text: proto.String(emoji), SenderTimestampMS: proto.Int64(time.Now().UnixMilli()),
	}}
	if _, err := r.client.SendMessage(ctx, chatJID, msg); err != nil {
		r.logger.WarnContext(ctx, "reaction failed", slog.String("chat_hash", r.hasher.Hash(chat)), slog.Any("error", err))
	}
}
