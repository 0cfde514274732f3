package gateway

import (
	"strings"
	"unicode/utf8"

	"go.mau.fi/whatsmeow/proto/waE2E"
	"go.mau.fi/whatsmeow/types"
	"go.mau.fi/whatsmeow/types/events"

	"github.com/wabot/wabot/internal/message"
)

// maxQuotedLen bounds the quoted text carried along for context.
const maxQuotedLen = 1000

// normalize turns a whatsmeow message into an Inbound. ok is false for
// messages with nothing to answer (reactions, receipts, protocol messages).
func (g *Gateway) normalize(evt *events.Message) (message.Inbound, bool) {
	msg := evt.Message
	if msg == nil {
		return message.Inbound{}, false
	}
	sender := evt.Info.Sender.ToNonAD()
	if sender.Server == types.HiddenUserServer && !evt.Info.SenderAlt.IsEmpty() {
		sender = evt.Info.SenderAlt.ToNonAD() // LID groups: prefer the phone JID
	}
	chat := evt.Info.Chat.ToNonAD()
	in := message.Inbound{
		Account:    g.cfg.Account,
		ID:         evt.Info.ID,
		Chat:       chat.String(),
		Sender:     sender.String(),
		ChatHash:   g.hasher.Hash(chat.String()),
		SenderHash: g.hasher.Hash(sender.String()),
		IsGroup:    evt.Info.IsGroup,
		Timestamp:  evt.Info.Timestamp,
	}
	if in.ID == "" || chat.IsEmpty() {
		return message.Inbound{}, false
	}

	kind, text, media := classify(msg)
	if kind == "" {
		return message.Inbound{}, false
	}
	in.Kind, in.Media = kind, media
	in.Text = clip(strings.TrimSpace(g.stripOwnMention(text)), message.MaxTextLen)
	if kind == message.KindText && isCommand(in.Text) {
		in.Kind = message.KindCommand
	}
	if ci := contextInfo(msg); ci != nil && ci.GetStanzaID() != "" {
		in.QuotedID = ci.GetStanzaID()
		quotedKind, quotedText, _ := classify(ci.GetQuotedMessage())
		if quotedKind != "" {
			in.QuotedText = clip(quotedText, maxQuotedLen)
			in.QuotedKind = quotedKind
		}
	}
	return in, true
}

// classify finds what a message is, its text or caption and its media.
func classify(msg *waE2E.Message) (message.Kind, string, *message.Media) {
	switch {
	case msg == nil:
		return "", "", nil
	case msg.Conversation != nil:
		return message.KindText, msg.GetConversation(), nil
	case msg.ExtendedTextMessage != nil:
		return message.KindText, msg.GetExtendedTextMessage().GetText(), nil
	case msg.AudioMessage != nil:
		a := msg.GetAudioMessage()
		kind := message.KindAudio
		if a.GetPTT() {
			kind = message.KindVoice
		}
		return kind, "", &message.Media{
			Mimetype: a.GetMimetype(), Size: a.GetFileLength(), Seconds: a.GetSeconds(), PTT: a.GetPTT(),
			URL: a.GetURL(), DirectPath: a.GetDirectPath(), MediaKey: a.GetMediaKey(),
			FileSHA256: a.GetFileSHA256(), FileEncSHA256: a.GetFileEncSHA256(),
		}
	case msg.ImageMessage != nil:
		i := msg.GetImageMessage()
		return message.KindImage, i.GetCaption(), &message.Media{
			Mimetype: i.GetMimetype(), Size: i.GetFileLength(),
			URL: i.GetURL(), DirectPath: i.GetDirectPath(), MediaKey: i.GetMediaKey(),
			FileSHA256: i.GetFileSHA256(), FileEncSHA256: i.GetFileEncSHA256(),
		}
	case msg.DocumentMessage != nil:
		d := msg.GetDocumentMessage()
		return message.KindDocument, d.GetCaption(), &message.Media{
			Mimetype: d.GetMimetype(), Size: d.GetFileLength(), FileName: d.GetFileName(),
			URL: d.GetURL(), DirectPath: d.GetDirectPath(), MediaKey: d.GetMediaKey(),
			FileSHA256: d.GetFileSHA256(), FileEncSHA256: d.GetFileEncSHA256(),
		}
	case msg.StickerMessage != nil:
		return message.KindSticker, "", nil
	case msg.VideoMessage != nil, msg.PtvMessage != nil:
		return message.KindVideo, msg.GetVideoMessage().GetCaption(), nil
	case msg.LocationMessage != nil, msg.LiveLocationMessage != nil:
		return message.KindLocation, "", nil
	case msg.ContactMessage != nil, msg.ContactsArrayMessage != nil:
		return message.KindContact, "", nil
	case msg.PollCreationMessage != nil, msg.PollCreationMessageV2 != nil, msg.PollCreationMessageV3 != nil:
		return message.KindPoll, "", nil
	case msg.ReactionMessage != nil, msg.ProtocolMessage != nil, msg.SenderKeyDistributionMessage != nil,
		msg.PollUpdateMessage != nil, msg.EncReactionMessage != nil, msg.KeepInChatMessage != nil:
		return "", "", nil // nothing to answer
	default:
		return message.KindUnsupported, "", nil
	}
}

// contextInfo returns the ContextInfo of the message types that carry one.
func contextInfo(msg *waE2E.Message) *waE2E.ContextInfo {
	switch {
	case msg.ExtendedTextMessage != nil:
		return msg.GetExtendedTextMessage().GetContextInfo()
	case msg.ImageMessage != nil:
		return msg.GetImageMessage().GetContextInfo()
	case msg.AudioMessage != nil:
		return msg.GetAudioMessage().GetContextInfo()
	case msg.VideoMessage != nil:
		return msg.GetVideoMessage().GetContextInfo()
	case msg.DocumentMessage != nil:
		return msg.GetDocumentMessage().GetContextInfo()
	case msg.StickerMessage != nil:
		return msg.GetStickerMessage().GetContextInfo()
	}
	return nil
}

// addressedInGroup reports whether a group message mentions the bot or
// replies to one of its messages.
func (g *Gateway) addressedInGroup(evt *events.Message) bool {
	ci := contextInfo(evt.Message)
	if ci == nil {
		return false
	}
	pn, lid := g.self.OwnJIDs()
	isSelf := func(s string) bool {
		j, err := types.ParseJID(s)
		if err != nil {
			return false
		}
		j = j.ToNonAD()
		return (!pn.IsEmpty() && j.User == pn.User && j.Server == pn.Server) ||
			(!lid.IsEmpty() && j.User == lid.User && j.Server == lid.Server)
	}
	for _, m := range ci.GetMentionedJID() {
		if isSelf(m) {
			return true
		}
	}
	return ci.GetStanzaID() != "" && isSelf(ci.GetParticipant())
}

// stripOwnMention removes "@<bot number>" from group text.
func (g *Gateway) stripOwnMention(text string) string {
	pn, lid := g.self.OwnJIDs()
	for _, j := range []types.JID{pn, lid} {
		if !j.IsEmpty() {
			text = strings.ReplaceAll(text, "@"+j.User, "")
		}
	}
	return text
}

// isCommand reports whether text is a slash or bang command ("/help", "!gpt").
func isCommand(text string) bool {
	if len(text) < 2 || (text[0] != '/' && text[0] != '!') {
		return false
	}
	r, _ := utf8.DecodeRuneInString(text[1:])
	return r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z'
}

// clip keeps at most n bytes of s, cut at a rune boundary.
func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}
