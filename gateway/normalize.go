package gateway

import (
	"strings"
	"unicode/utf8"

	"go.mau.fi/whatsmeow/proto/waE2E"
	"go.mau.fi/whatsmeow/types"
	"go.mau.fi/whatsmeow/types/events"
	"google.golang.org/protobuf/reflect/protoreflect"

	"github.com/wabot/wabot/internal/message"
)

// maxQuotedLen bounds the quoted text carried along for context.
const maxQuotedLen = 1000

// maxWrapDepth bounds how many wrappers unwrap peels off (WhatsApp nests at
// most three or four; a crafted message could nest thousands).
const maxWrapDepth = 8

// content is a message with WhatsApp's wrapper types peeled off.
type content struct {
	msg      *waE2E.Message
	viewOnce bool // it came in a view-once wrapper (or carries the view-once flag)
	edit     bool // it is an edit of an earlier message
}

// unwrap peels off WhatsApp's wrapper types — sent-by-own-device, bot
// invocation, disappearing, view-once, document-with-caption, edited, group
// mention, forwarded-by-bot, animated sticker — as whatsmeow's
// events.Message.UnwrapRaw does for the top level, so quoted messages and
// messages fed to the handler un-unwrapped are seen the same way.
func unwrap(msg *waE2E.Message) content {
	c := content{msg: msg}
	for range maxWrapDepth {
		m := c.msg
		var inner *waE2E.FutureProofMessage
		switch {
		case m == nil:
			return c
		case m.GetDeviceSentMessage().GetMessage() != nil:
			c.msg = m.GetDeviceSentMessage().GetMessage()
			continue
		case m.EphemeralMessage != nil:
			inner = m.EphemeralMessage
		case m.ViewOnceMessage != nil, m.ViewOnceMessageV2 != nil, m.ViewOnceMessageV2Extension != nil:
			inner, c.viewOnce = firstNonNil(m.ViewOnceMessage, m.ViewOnceMessageV2, m.ViewOnceMessageV2Extension), true
		case m.DocumentWithCaptionMessage != nil:
			inner = m.DocumentWithCaptionMessage
		case m.EditedMessage != nil:
			inner, c.edit = m.EditedMessage, true
		case m.BotInvokeMessage != nil:
			inner = m.BotInvokeMessage
		case m.GroupMentionedMessage != nil:
			inner = m.GroupMentionedMessage
		case m.BotForwardedMessage != nil:
			inner = m.BotForwardedMessage
		case m.LottieStickerMessage != nil:
			inner = m.LottieStickerMessage
		default:
			c.viewOnce = c.viewOnce || m.GetImageMessage().GetViewOnce() || m.GetVideoMessage().GetViewOnce() || m.GetAudioMessage().GetViewOnce()
			return c
		}
		if inner.GetMessage() == nil {
			return content{} // an empty wrapper: nothing inside to answer
		}
		c.msg = inner.GetMessage()
	}
	return content{} // nested deeper than WhatsApp ever does
}

func firstNonNil(ms ...*waE2E.FutureProofMessage) *waE2E.FutureProofMessage {
	for _, m := range ms {
		if m != nil {
			return m
		}
	}
	return nil
}

// normalize turns a whatsmeow message into an Inbound. ok is false for
// messages with nothing a person expects an answer to (see classify), for
// edits, and for empty text that quotes nothing (a bare @mention).
func (g *Gateway) normalize(evt *events.Message, c content) (message.Inbound, bool) {
	if c.msg == nil || c.edit {
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
	if in.ID == "" || chat.IsEmpty() || sender.IsEmpty() {
		return message.Inbound{}, false
	}

	kind, text, media := classify(c.msg)
	if kind == "" {
		return message.Inbound{}, false
	}
	in.Kind, in.Media = kind, media
	in.Text = clip(strings.TrimSpace(g.stripOwnMention(text)), message.MaxTextLen)
	if kind == message.KindText && isCommand(in.Text) {
		in.Kind = message.KindCommand
	}
	if c.viewOnce && kind != message.KindText && !g.cfg.ViewOnce {
		// Meant to be seen once, by a person: never downloaded, never shown
		// to a model, unless the operator allows it (GATEWAY_VIEW_ONCE).
		in.Kind, in.Media, in.Text = message.KindViewOnce, nil, ""
	}
	if ci := contextInfo(c.msg); ci != nil && ci.GetStanzaID() != "" {
		in.QuotedID = ci.GetStanzaID()
		quoted := unwrap(ci.GetQuotedMessage())
		if quotedKind, quotedText, _ := classify(quoted.msg); quotedKind != "" {
			in.QuotedText = clip(strings.TrimSpace(quotedText), maxQuotedLen)
			in.QuotedKind = quotedKind
		}
	}
	if in.Kind == message.KindText && in.Text == "" && in.QuotedText == "" {
		return message.Inbound{}, false // whitespace, or a bare @mention with nothing to ask about
	}
	return in, true
}

// classify finds what a message is, its text or caption and its media. An
// empty kind means the message carries nothing a person expects an answer
// to: protocol and key-distribution messages, reactions, poll votes, pins,
// keep-in-chat, album headers, event responses, history notices, call logs,
// status notices, an HD copy of media already sent (associated child), a
// message with no field this version of WhatsApp's schema knows. Content
// the bot cannot handle yet is KindUnsupported (the polite
// UNSUPPORTED_MEDIA reply).
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
	case msg.VideoMessage != nil:
		return message.KindVideo, msg.GetVideoMessage().GetCaption(), nil
	case msg.PtvMessage != nil:
		return message.KindVideo, msg.GetPtvMessage().GetCaption(), nil
	case msg.LocationMessage != nil, msg.LiveLocationMessage != nil:
		return message.KindLocation, "", nil
	case msg.ContactMessage != nil, msg.ContactsArrayMessage != nil:
		return message.KindContact, "", nil
	case msg.PollCreationMessage != nil, msg.PollCreationMessageV2 != nil, msg.PollCreationMessageV3 != nil,
		msg.PollCreationMessageV4 != nil, msg.PollCreationMessageV5 != nil:
		return message.KindPoll, "", nil
	case silent(msg):
		return "", "", nil
	case hasContent(msg):
		return message.KindUnsupported, "", nil
	}
	return "", "", nil
}

// silent reports the message types that carry nothing to answer.
func silent(m *waE2E.Message) bool {
	return m.ProtocolMessage != nil || m.SenderKeyDistributionMessage != nil ||
		m.FastRatchetKeySenderKeyDistributionMessage != nil ||
		m.ReactionMessage != nil || m.EncReactionMessage != nil ||
		m.PollUpdateMessage != nil || m.PollResultSnapshotMessage != nil || m.PollResultSnapshotMessageV3 != nil ||
		m.KeepInChatMessage != nil || m.PinInChatMessage != nil ||
		m.AlbumMessage != nil || m.AssociatedChildMessage != nil || m.EventCoverImage != nil ||
		m.EncEventResponseMessage != nil || m.EncCommentMessage != nil || m.SecretEncryptedMessage != nil ||
		m.MessageHistoryNotice != nil || m.MessageHistoryBundle != nil || m.PlaceholderMessage != nil ||
		m.Call != nil || m.CallLogMesssage != nil || m.BcallMessage != nil || m.ScheduledCallEditMessage != nil ||
		m.StickerSyncRmrMessage != nil || m.Chat != nil ||
		m.DeclinePaymentRequestMessage != nil || m.CancelPaymentRequestMessage != nil ||
		m.StatusNotificationMessage != nil || m.StatusMentionMessage != nil || m.GroupStatusMentionMessage != nil ||
		m.StatusStickerInteractionMessage != nil || m.QuestionResponseMessage != nil ||
		m.LimitSharingMessage != nil || m.EditedMessage != nil
}

// hasContent reports whether any field besides MessageContextInfo is set.
// Fields of a schema newer than this build are unknown fields, which
// protoreflect does not range over: such a message counts as empty.
func hasContent(m *waE2E.Message) bool {
	found := false
	m.ProtoReflect().Range(func(fd protoreflect.FieldDescriptor, _ protoreflect.Value) bool {
		found = fd.Name() != "messageContextInfo"
		return !found
	})
	return found
}

// contextInfo returns the ContextInfo of whichever content field of msg is
// set (every message type that can quote or mention has one, and WhatsApp
// adds types often, so it is found by reflection rather than a list).
func contextInfo(msg *waE2E.Message) *waE2E.ContextInfo {
	if msg == nil {
		return nil
	}
	var ci *waE2E.ContextInfo
	msg.ProtoReflect().Range(func(fd protoreflect.FieldDescriptor, v protoreflect.Value) bool {
		if fd.Kind() != protoreflect.MessageKind || fd.IsList() || fd.IsMap() || fd.Name() == "messageContextInfo" {
			return true
		}
		f := fd.Message().Fields().ByName("contextInfo")
		if f == nil || f.Kind() != protoreflect.MessageKind || !v.Message().Has(f) {
			return true
		}
		ci, _ = v.Message().Get(f).Message().Interface().(*waE2E.ContextInfo)
		return ci == nil
	})
	return ci
}

// addressedInGroup reports whether a group message mentions the bot or
// replies to one of its messages.
func (g *Gateway) addressedInGroup(msg *waE2E.Message) bool {
	ci := contextInfo(msg)
	if ci == nil {
		return false
	}
	for _, m := range ci.GetMentionedJID() {
		if g.isSelf(m) {
			return true
		}
	}
	return ci.GetStanzaID() != "" && g.isSelf(ci.GetParticipant())
}

// isSelf reports whether a JID string is the bot (phone JID or LID).
func (g *Gateway) isSelf(s string) bool {
	pn, lid := g.self.OwnJIDs()
	j, err := types.ParseJID(s)
	if err != nil {
		return false
	}
	j = j.ToNonAD()
	return (!pn.IsEmpty() && j.User == pn.User && j.Server == pn.Server) ||
		(!lid.IsEmpty() && j.User == lid.User && j.Server == lid.Server)
}

// stripOwnMention removes "@<bot number>" and "@<bot LID>" from text.
func (g *Gateway) stripOwnMention(text string) string {
	pn, lid := g.self.OwnJIDs()
	for _, j := range []types.JID{pn, lid} {
		if !j.IsEmpty() && j.User != "" {
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
