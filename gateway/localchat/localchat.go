// Package localchat is a WhatsApp stand-in for a browser: a page where a
// person chats with the bot as a simulated WhatsApp user, and a small JSON API
// for tests and benchmarks. Messages typed on the page become real
// *events.Message values fed to the gateway's handler, and the bot's replies
// arrive through the gateway.Client interface, exactly as with WhatsApp.
package localchat

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"go.mau.fi/whatsmeow"
	"go.mau.fi/whatsmeow/proto/waE2E"
	"go.mau.fi/whatsmeow/types"
	"go.mau.fi/whatsmeow/types/events"

	"github.com/wabot/wabot/gateway"
)

// BotJID is the bot's own JID on the local transport.
var BotJID = types.NewJID("10000000000", types.DefaultUserServer)

// Direction of a chat message.
const (
	In  = "in"  // user → bot
	Out = "out" // bot → user
)

// ChatMessage is one line of a chat as the page shows it.
type ChatMessage struct {
	Seq       int       `json:"seq"`
	ID        string    `json:"id"`
	Direction string    `json:"direction"`
	Text      string    `json:"text"`
	QuotedID  string    `json:"quoted_id,omitempty"`
	Media     *Media    `json:"media,omitempty"`
	Document  string    `json:"document,omitempty"` // download path of a sent document
	At        time.Time `json:"at"`
}

// Sent is one raw SendMessage call, duplicates included.
type Sent struct {
	To    types.JID
	ID    string
	Text  string // text, or a media message's caption
	Media *SentMedia
	At    time.Time
	// FileName and Document are a sent document's name and bytes (as uploaded).
	FileName string
	Document []byte
}

// Transport is the local chat transport. It implements gateway.Client.
type Transport struct {
	mu      sync.Mutex
	handler func(evt any) bool
	seq     int
	chats   map[string][]ChatMessage // by user JID
	ids     map[string]bool          // message IDs already in a chat (WhatsApp shows a repeated ID once)
	typing  map[string]bool
	sent    []Sent
	waiters []chan struct{}
	nextID  int
	now     func() time.Time
	sendErr error             // the next SendMessage fails with it, once (fault injection)
	media   map[string]stored // media by URL: uploads and user attachments
	noLog   bool              // keep no chat lines and no sent log (DiscardHistory)
}

// DiscardHistory makes the transport keep no chat lines and no log of sent
// messages, so its memory stays flat under load (the benchmark measures the
// gateway's own memory). The chat page then shows nothing; SentMessages is empty.
func (t *Transport) DiscardHistory() {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.noLog = true
}

var _ gateway.Client = (*Transport)(nil)

// New returns a Transport. now may be nil (time.Now).
func New(now func() time.Time) *Transport {
	if now == nil {
		now = time.Now
	}
	return &Transport{chats: map[string][]ChatMessage{}, ids: map[string]bool{}, typing: map[string]bool{}, media: map[string]stored{}, now: now}
}

// SetHandler sets the event handler (gateway.Gateway.HandleEvent).
func (t *Transport) SetHandler(h func(evt any) bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.handler = h
}

// ErrNotAccepted means the gateway did not acknowledge the message: the
// caller should retry it with the same ID, as WhatsApp would redeliver it.
var ErrNotAccepted = errors.New("localchat: message not accepted; retry it")

// Incoming is a message typed by a local user.
type Incoming struct {
	From     string // phone number, digits (with or without +)
	PushName string
	Text     string // the text, or the caption of Media
	ID       string // optional; a retry must reuse the ID of the first try
	Media    *Attachment
}

// Receive feeds a user's message to the gateway as a WhatsApp message and
// returns its ID. It fails with ErrNotAccepted when the gateway did not ack.
func (t *Transport) Receive(ctx context.Context, in Incoming) (string, error) {
	user := strings.TrimPrefix(strings.TrimSpace(in.From), "+")
	if user == "" || strings.Trim(user, "0123456789") != "" || len(user) > 15 {
		return "", fmt.Errorf("localchat: %q is not a phone number (digits only)", in.From)
	}
	if strings.TrimSpace(in.Text) == "" && in.Media == nil {
		return "", errors.New("localchat: empty message")
	}
	jid := types.NewJID(user, types.DefaultUserServer)
	t.mu.Lock()
	h := t.handler
	id := in.ID
	if id == "" {
		t.nextID++
		id = fmt.Sprintf("LOCAL%012X%04X", t.now().UnixNano()&0xFFFFFFFFFFFF, t.nextID&0xFFFF)
	}
	t.mu.Unlock()
	if h == nil {
		return "", errors.New("localchat: no gateway attached")
	}
	msg, line, err := t.incomingMessage(id, in)
	if err != nil {
		return "", err
	}
	evt := &events.Message{
		Info: types.MessageInfo{
			MessageSource: types.MessageSource{Chat: jid, Sender: jid},
			ID:            id, PushName: in.PushName, Timestamp: t.now(), Type: "text",
		},
		Message: msg,
	}
	if in.Media != nil {
		evt.Info.Type = "media"
	}
	evt.RawMessage = evt.Message
	if !h(evt) {
		return id, ErrNotAccepted
	}
	line.At = evt.Info.Timestamp
	t.appendLine(jid.String(), line)
	return id, nil
}

func (t *Transport) appendLine(chat string, m ChatMessage) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.noLog {
		return
	}
	key := m.Direction + "/" + m.ID
	if t.ids[key] {
		return
	}
	t.ids[key] = true
	t.seq++
	m.Seq = t.seq
	t.chats[chat] = append(t.chats[chat], m)
	for _, w := range t.waiters {
		close(w)
	}
	t.waiters = nil
}

// Messages returns a chat's lines after seq, and whether the bot is typing.
func (t *Transport) Messages(user string, after int) ([]ChatMessage, bool) {
	chat := types.NewJID(strings.TrimPrefix(user, "+"), types.DefaultUserServer).String()
	t.mu.Lock()
	defer t.mu.Unlock()
	var out []ChatMessage
	for _, m := range t.chats[chat] {
		if m.Seq > after {
			out = append(out, m)
		}
	}
	return out, t.typing[chat]
}

// Changed returns a channel closed at the next new chat line.
func (t *Transport) Changed() <-chan struct{} {
	t.mu.Lock()
	defer t.mu.Unlock()
	ch := make(chan struct{})
	t.waiters = append(t.waiters, ch)
	return ch
}

// document returns a sent document by its message ID.
func (t *Transport) document(id string) (Sent, bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	for _, s := range t.sent {
		if s.ID == id && s.FileName != "" {
			return s, true
		}
	}
	return Sent{}, false
}

// SentMessages returns every SendMessage call so far, duplicates included.
func (t *Transport) SentMessages() []Sent {
	t.mu.Lock()
	defer t.mu.Unlock()
	return append([]Sent(nil), t.sent...)
}

// FailNextSend makes the next SendMessage fail with err (fault injection).
func (t *Transport) FailNextSend(err error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.sendErr = err
}

// SendMessage implements gateway.Client.
func (t *Transport) SendMessage(ctx context.Context, to types.JID, msg *waE2E.Message, extra ...whatsmeow.SendRequestExtra) (whatsmeow.SendResponse, error) {
	if err := ctx.Err(); err != nil {
		return whatsmeow.SendResponse{}, err
	}
	id := ""
	if len(extra) > 0 {
		id = extra[0].ID
	}
	t.mu.Lock()
	if err := t.sendErr; err != nil {
		t.sendErr = nil
		t.mu.Unlock()
		return whatsmeow.SendResponse{}, err
	}
	if id == "" {
		t.nextID++
		id = fmt.Sprintf("3EB0LOCAL%013X", t.nextID)
	}
	now := t.now()
	text := msg.GetConversation()
	quoted := ""
	if et := msg.GetExtendedTextMessage(); et != nil {
		text, quoted = et.GetText(), et.GetContextInfo().GetStanzaID()
	}
	sm, info := t.outgoingMedia(msg)
	if sm != nil {
		text = sm.Caption
	}
	s := Sent{To: to, ID: id, Text: text, Media: sm, At: now}
	line := ChatMessage{ID: id, Direction: Out, Text: text, QuotedID: quoted, Media: info, At: now}
	if doc := msg.GetDocumentMessage(); doc != nil {
		s.FileName, s.Document = doc.GetFileName(), sm.Data
		line.Document = "/api/document/" + id
	}
	if !t.noLog {
		t.sent = append(t.sent, s)
	}
	delete(t.typing, to.String())
	t.mu.Unlock()
	t.appendLine(to.String(), line)
	return whatsmeow.SendResponse{ID: id, Timestamp: now}, nil
}

// SendChatPresence implements gateway.Client: the page shows "typing…".
func (t *Transport) SendChatPresence(_ context.Context, jid types.JID, state types.ChatPresence, _ types.ChatPresenceMedia) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.typing[jid.String()] = state == types.ChatPresenceComposing
	return nil
}

// MarkRead implements gateway.Client.
func (t *Transport) MarkRead(context.Context, []types.MessageID, time.Time, types.JID, types.JID, ...types.ReceiptType) error {
	return nil
}

// IsConnected implements gateway.Client.
func (t *Transport) IsConnected() bool { return true }
