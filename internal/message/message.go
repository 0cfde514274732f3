// Package message holds the small, serializable values that travel between the
// gateway, the workflows and the activities: an inbound message as the bot sees
// it, and a reply to send. They go into Temporal history, so they carry no media
// bytes and nothing the workflow does not need.
package message

import (
	"crypto/sha256"
	"encoding/hex"
	"strconv"
	"strings"
	"time"
)

// Kind says what an inbound message is.
type Kind string

// The kinds the bot tells apart.
const (
	KindText        Kind = "text"
	KindCommand     Kind = "command"
	KindVoice       Kind = "voice"
	KindAudio       Kind = "audio"
	KindImage       Kind = "image"
	KindDocument    Kind = "document"
	KindSticker     Kind = "sticker"
	KindVideo       Kind = "video"
	KindLocation    Kind = "location"
	KindContact     Kind = "contact"
	KindPoll        Kind = "poll"
	KindUnsupported Kind = "unsupported"
	// KindViewOnce is view-once media the bot does not open (GATEWAY_VIEW_ONCE
	// off): no media descriptor travels with it.
	KindViewOnce Kind = "view_once"
)

// Inbound is one message the bot should answer.
type Inbound struct {
	Account    string    // the bot's account (gateway) that received it; names the gateway task queue
	ID         string    // WhatsApp message ID
	Chat       string    // chat JID (user or group), without device
	Sender     string    // sender JID, phone form when known
	ChatHash   string    // keyed hash of Chat, safe for logs, IDs and search attributes
	SenderHash string    // keyed hash of Sender
	IsGroup    bool      // group chat
	Kind       Kind      // what it is
	Text       string    // text, or a media caption
	QuotedID   string    // ID of the message this one replies to, if any
	QuotedText string    // text of the quoted message, trimmed
	QuotedKind Kind      // kind of the quoted message (a reply to a document asks about it)
	Media      *Media    // descriptor of attached media, if any (never bytes)
	Timestamp  time.Time // when WhatsApp says it was sent

	// Set by the chat's inbox, not by the gateway:
	// Burst holds the earlier messages of a burst this one answers together
	// (oldest first); the LLM sees them and this one as one turn.
	Burst []BurstPart `json:",omitempty"`
	// Hold, when set, says why this message is recorded but not answered:
	// HoldBurst (AnsweredBy answers it) or HoldPaused (a person took over).
	Hold       string `json:",omitempty"`
	AnsweredBy string `json:",omitempty"` // the message whose run answers this one's burst
}

// BurstPart is one earlier message of a burst.
type BurstPart struct {
	ID   string
	Text string
}

// Why a message is recorded but not answered (Inbound.Hold).
const (
	HoldBurst  = "burst"  // answered together with a later message of its burst
	HoldPaused = "paused" // the owner took the chat over
)

// Prompt is the user turn as the LLM sees it: the burst's earlier messages,
// then the text it replies to (if any), then its text.
func (in Inbound) Prompt() string {
	var b strings.Builder
	for _, p := range in.Burst {
		b.WriteString(strings.TrimSpace(p.Text) + "\n")
	}
	if in.QuotedText != "" {
		b.WriteString("(replying to: " + in.QuotedText + ")\n")
	}
	b.WriteString(strings.TrimSpace(in.Text))
	return b.String()
}

// Media describes attached media well enough to download it later.
type Media struct {
	Mimetype      string
	FileName      string
	Size          uint64
	Seconds       uint32
	PTT           bool // a voice note
	URL           string
	DirectPath    string
	MediaKey      []byte
	FileSHA256    []byte
	FileEncSHA256 []byte
}

// MaxTextLen bounds the text the bot takes from one message; WhatsApp allows
// about 65k characters, the LLM does not need more.
const MaxTextLen = 16 << 10

// Reply is one message the bot sends.
type Reply struct {
	Account  string // gateway account to send through
	Chat     string // chat JID
	ID       string // WhatsApp message ID, fixed before the first attempt
	Text     string
	QuotedID string // message to quote, if any
	Quoted   string // sender JID of the quoted message (groups)
	Answering
}

// Answering names the inbound message a reply answers, so the gateway can
// send its read receipt, clear its "working" reaction and quote it when other
// messages came in since. Empty for messages that answer nothing (notices).
type Answering struct {
	InReplyTo string `json:",omitempty"` // the inbound message's ID
	From      string `json:",omitempty"` // its sender JID
	Played    bool   `json:",omitempty"` // a voice note: a "played" receipt rather than "read"
}

// AnsweringOf is the Answering of a reply to in.
func AnsweringOf(in Inbound) Answering {
	return Answering{InReplyTo: in.ID, From: in.Sender, Played: in.Kind == KindVoice}
}

// ReplyTo is the n-th text reply to in: quoting it in groups, answering it.
func ReplyTo(in Inbound, n int, text string) Reply {
	r := Reply{Account: in.Account, Chat: in.Chat, ID: ReplyID(in.Account, in.ID, n), Text: text, Answering: AnsweringOf(in)}
	if in.IsGroup {
		r.QuotedID, r.Quoted = in.ID, in.Sender
	}
	return r
}

// ReplyID derives the WhatsApp message ID of the n-th reply to an inbound
// message. It is a pure function of its inputs, so every retry of a send (and
// every replay of the workflow) uses the same ID, and WhatsApp plus our own
// outbound record treat a repeated send as the same message. The shape
// ("3EB0" + 18 upper-case hex digits) is the one whatsmeow generates.
func ReplyID(account, inboundID string, n int) string {
	sum := sha256.Sum256([]byte("wabot-reply\x00" + account + "\x00" + inboundID + "\x00" + strconv.Itoa(n)))
	return "3EB0" + strings.ToUpper(hex.EncodeToString(sum[:9]))
}
