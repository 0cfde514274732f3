package gateway_test

import (
	"os"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	"go.mau.fi/whatsmeow/proto/waAICommon"
	"go.mau.fi/whatsmeow/proto/waCommon"
	"go.mau.fi/whatsmeow/proto/waE2E"
	"go.mau.fi/whatsmeow/types"
	"go.mau.fi/whatsmeow/types/events"
	"google.golang.org/protobuf/proto"

	"github.com/wabot/wabot/internal/message"
)

// fidelityCase is one row of the README table "What WhatsApp sends → what
// the bot does": a message as whatsmeow emits it and what the real handler
// hands to Temporal (kind "" = nothing: no run, no reply, no LLM call).
type fidelityCase struct {
	name  string // the row's first column in the README
	evt   *events.Message
	kind  message.Kind
	check func(t *testing.T, in message.Inbound)
}

func dm(msg *waE2E.Message) *events.Message {
	evt := textEvent("W1", alice, alice, "")
	evt.Message = msg
	return evt
}

func inGroup(msg *waE2E.Message) *events.Message {
	evt := dm(msg)
	evt.Info.Chat, evt.Info.IsGroup = group, true
	return evt
}

func from(chat types.JID, msg *waE2E.Message) *events.Message {
	evt := dm(msg)
	evt.Info.Chat, evt.Info.Sender = chat, chat
	return evt
}

func text(s string) *waE2E.Message { return &waE2E.Message{Conversation: proto.String(s)} }

func future(m *waE2E.Message) *waE2E.FutureProofMessage { return &waE2E.FutureProofMessage{Message: m} }

func quoting(m *waE2E.Message, body string) *waE2E.Message {
	return &waE2E.Message{ExtendedTextMessage: &waE2E.ExtendedTextMessage{Text: proto.String(body),
		ContextInfo: &waE2E.ContextInfo{StanzaID: proto.String("Q1"), Participant: proto.String(alice.String()), QuotedMessage: m}}}
}

func mentionBot() *waE2E.ContextInfo {
	return &waE2E.ContextInfo{MentionedJID: []string{bot.String()}}
}

func doc(caption string) *waE2E.Message {
	d := &waE2E.DocumentMessage{FileName: proto.String("report.pdf"), Mimetype: proto.String("application/pdf"),
		URL: proto.String("https://mmg.whatsapp.net/d/x"), MediaKey: []byte{1}, FileLength: proto.Uint64(2048)}
	if caption != "" {
		d.Caption = proto.String(caption)
	}
	return &waE2E.Message{DocumentMessage: d}
}

func image(caption string) *waE2E.ImageMessage {
	return &waE2E.ImageMessage{Caption: proto.String(caption), Mimetype: proto.String("image/jpeg"),
		URL: proto.String("https://mmg.whatsapp.net/i/x"), MediaKey: []byte{2}, FileLength: proto.Uint64(4096)}
}

func protocol(t waE2E.ProtocolMessage_Type) *waE2E.Message {
	return &waE2E.Message{ProtocolMessage: &waE2E.ProtocolMessage{Type: t.Enum(),
		Key: &waCommon.MessageKey{RemoteJID: proto.String(alice.String()), ID: proto.String("OLD1")}}}
}

func textIs(want string) func(t *testing.T, in message.Inbound) {
	return func(t *testing.T, in message.Inbound) { require.Equal(t, want, in.Text) }
}

func fidelityCases() []fidelityCase {
	fromMe := dm(text("I'll answer this one myself"))
	fromMe.Info.IsFromMe = true
	edited := dm(protocol(waE2E.ProtocolMessage_MESSAGE_EDIT))
	edited.IsEdit = true
	metaAIInGroup := inGroup(&waE2E.Message{
		ExtendedTextMessage: &waE2E.ExtendedTextMessage{Text: proto.String("@10000000000 here is my answer"), ContextInfo: mentionBot()},
		MessageContextInfo:  &waE2E.MessageContextInfo{BotMetadata: &waAICommon.BotMetadata{}},
	})
	viewOnceFlag := dm(&waE2E.Message{ImageMessage: image("")})
	viewOnceFlag.Message.ImageMessage.ViewOnce = proto.Bool(true)
	viewOnceUnwrapped := dm(&waE2E.Message{ImageMessage: image("secret")})
	viewOnceUnwrapped.IsViewOnce = true // as whatsmeow's UnwrapRaw leaves it

	return []fidelityCase{
		// Content: answered.
		{name: "text", evt: dm(text("  hello  ")), kind: message.KindText, check: textIs("hello")},
		{name: "text with a link preview or formatting", evt: dm(&waE2E.Message{ExtendedTextMessage: &waE2E.ExtendedTextMessage{Text: proto.String("see https://example.org")}}), kind: message.KindText},
		{name: "disappearing-mode text", evt: dm(&waE2E.Message{EphemeralMessage: future(text("vanishing"))}), kind: message.KindText, check: textIs("vanishing")},
		{name: "command", evt: dm(text("/help")), kind: message.KindCommand},
		{name: "voice note", evt: dm(&waE2E.Message{AudioMessage: &waE2E.AudioMessage{PTT: proto.Bool(true), Mimetype: proto.String("audio/ogg; codecs=opus")}}), kind: message.KindVoice},
		{name: "audio file", evt: dm(&waE2E.Message{AudioMessage: &waE2E.AudioMessage{Mimetype: proto.String("audio/mpeg")}}), kind: message.KindAudio},
		{name: "image", evt: dm(&waE2E.Message{ImageMessage: image("what is this?")}), kind: message.KindImage, check: func(t *testing.T, in message.Inbound) {
			require.Equal(t, "what is this?", in.Text)
			require.NotNil(t, in.Media)
		}},
		{name: "document", evt: dm(doc("")), kind: message.KindDocument, check: func(t *testing.T, in message.Inbound) {
			require.Equal(t, "report.pdf", in.Media.FileName)
		}},
		{name: "document with a caption", evt: dm(&waE2E.Message{DocumentWithCaptionMessage: future(doc("summarise it"))}), kind: message.KindDocument, check: textIs("summarise it")},
		{name: "reply to a document", evt: dm(quoting(doc(""), "what does page 2 say?")), kind: message.KindText, check: func(t *testing.T, in message.Inbound) {
			require.Equal(t, message.KindDocument, in.QuotedKind)
			require.Equal(t, "Q1", in.QuotedID)
		}},
		{name: "reply to a captioned document", evt: dm(quoting(&waE2E.Message{DocumentWithCaptionMessage: future(doc("Q3 numbers"))}, "total?")), kind: message.KindText, check: func(t *testing.T, in message.Inbound) {
			require.Equal(t, message.KindDocument, in.QuotedKind)
			require.Equal(t, "Q3 numbers", in.QuotedText)
		}},
		{name: "reply to a disappearing document", evt: dm(quoting(&waE2E.Message{EphemeralMessage: future(&waE2E.Message{DocumentWithCaptionMessage: future(doc(""))})}, "and the date?")), kind: message.KindText, check: func(t *testing.T, in message.Inbound) {
			require.Equal(t, message.KindDocument, in.QuotedKind)
		}},
		{name: "reply to a text", evt: dm(quoting(&waE2E.Message{EphemeralMessage: future(text("the meeting is at 5"))}, "move it to 6")), kind: message.KindText, check: func(t *testing.T, in message.Inbound) {
			require.Equal(t, "the meeting is at 5", in.QuotedText)
			require.Equal(t, "move it to 6", in.Text)
		}},
		{name: "image reply quoting a text", evt: dm(&waE2E.Message{ImageMessage: &waE2E.ImageMessage{Caption: proto.String("like this?"),
			ContextInfo: &waE2E.ContextInfo{StanzaID: proto.String("Q2"), QuotedMessage: text("send me a photo")}}}), kind: message.KindImage, check: func(t *testing.T, in message.Inbound) {
			require.Equal(t, "send me a photo", in.QuotedText)
		}},
		// Content the bot cannot handle: the polite UNSUPPORTED_MEDIA reply.
		{name: "sticker", evt: dm(&waE2E.Message{StickerMessage: &waE2E.StickerMessage{}}), kind: message.KindSticker},
		{name: "video or video note", evt: dm(&waE2E.Message{PtvMessage: &waE2E.VideoMessage{}}), kind: message.KindVideo},
		{name: "location", evt: dm(&waE2E.Message{LiveLocationMessage: &waE2E.LiveLocationMessage{}}), kind: message.KindLocation},
		{name: "contact card", evt: dm(&waE2E.Message{ContactMessage: &waE2E.ContactMessage{}}), kind: message.KindContact},
		{name: "poll", evt: dm(&waE2E.Message{PollCreationMessageV3: &waE2E.PollCreationMessage{}}), kind: message.KindPoll},
		{name: "event invitation, buttons, lists, payments, other content", evt: dm(&waE2E.Message{EventMessage: &waE2E.EventMessage{}}), kind: message.KindUnsupported},
		// View-once: a polite VIEW_ONCE reply, never downloaded.
		{name: "view-once photo, video or voice note", evt: dm(&waE2E.Message{ViewOnceMessageV2: future(&waE2E.Message{ImageMessage: image("look")})}), kind: message.KindViewOnce, check: func(t *testing.T, in message.Inbound) {
			require.Nil(t, in.Media, "no descriptor: it cannot be downloaded")
			require.Empty(t, in.Text)
		}},
		{name: "view-once flag on the media itself", evt: viewOnceFlag, kind: message.KindViewOnce},
		{name: "view-once as whatsmeow unwraps it", evt: viewOnceUnwrapped, kind: message.KindViewOnce},
		// Nothing a person expects an answer to: no run, no reply, no LLM call.
		{name: "empty or whitespace-only text", evt: dm(text(" \n\t ")), kind: ""},
		{name: "reaction", evt: dm(&waE2E.Message{ReactionMessage: &waE2E.ReactionMessage{Text: proto.String("👍")}}), kind: ""},
		{name: "encrypted reaction", evt: dm(&waE2E.Message{EncReactionMessage: &waE2E.EncReactionMessage{}}), kind: ""},
		{name: "delete for everyone (revoke)", evt: dm(protocol(waE2E.ProtocolMessage_REVOKE)), kind: ""},
		{name: "edit", evt: edited, kind: ""},
		{name: "edit, still wrapped", evt: dm(&waE2E.Message{EditedMessage: future(text("fixed typo"))}), kind: ""},
		{name: "poll vote", evt: dm(&waE2E.Message{PollUpdateMessage: &waE2E.PollUpdateMessage{}}), kind: ""},
		{name: "pin", evt: dm(&waE2E.Message{PinInChatMessage: &waE2E.PinInChatMessage{}}), kind: ""},
		{name: "keep in chat", evt: dm(&waE2E.Message{KeepInChatMessage: &waE2E.KeepInChatMessage{}}), kind: ""},
		{name: "album header", evt: dm(&waE2E.Message{AlbumMessage: &waE2E.AlbumMessage{ExpectedImageCount: proto.Uint32(4)}}), kind: ""},
		{name: "HD copy of a photo already sent", evt: dm(&waE2E.Message{AssociatedChildMessage: future(&waE2E.Message{ImageMessage: image("")})}), kind: ""},
		{name: "event response", evt: dm(&waE2E.Message{EncEventResponseMessage: &waE2E.EncEventResponseMessage{}}), kind: ""},
		{name: "history sync notice", evt: dm(protocol(waE2E.ProtocolMessage_HISTORY_SYNC_NOTIFICATION)), kind: ""},
		{name: "history notice or bundle", evt: dm(&waE2E.Message{MessageHistoryNotice: &waE2E.MessageHistoryNotice{}}), kind: ""},
		{name: "disappearing-messages setting", evt: dm(protocol(waE2E.ProtocolMessage_EPHEMERAL_SETTING)), kind: ""},
		{name: "key distribution", evt: dm(&waE2E.Message{SenderKeyDistributionMessage: &waE2E.SenderKeyDistributionMessage{}}), kind: ""},
		{name: "call log", evt: dm(&waE2E.Message{CallLogMesssage: &waE2E.CallLogMessage{}}), kind: ""},
		{name: "message of an unknown newer type", evt: dm(&waE2E.Message{MessageContextInfo: &waE2E.MessageContextInfo{}}), kind: ""},
		{name: "empty wrapper", evt: dm(&waE2E.Message{EphemeralMessage: &waE2E.FutureProofMessage{}}), kind: ""},
		// Chats that are not people: never answered, so no bot-to-bot loop.
		{name: "Meta AI", evt: from(types.MetaAIJID, text("Hi, I'm Meta AI")), kind: ""},
		{name: "other bots (@bot)", evt: from(types.NewMetaAIJID, text("beep")), kind: ""},
		{name: "a bot's reply in a group", evt: metaAIInGroup, kind: ""},
		{name: "WhatsApp service notices", evt: from(types.PSAJID, text("Security code changed")), kind: ""},
		{name: "channel (newsletter)", evt: from(types.NewJID("120363000000000009", types.NewsletterServer), text("news")), kind: ""},
		{name: "status update", evt: from(types.StatusBroadcastJID, text("my story")), kind: ""},
		{name: "broadcast list", evt: from(types.NewJID("1700000000", types.BroadcastServer), text("to all")), kind: ""},
		{name: "own message from the phone", evt: fromMe, kind: ""},
		// Groups: only when addressed.
		{name: "group message not for the bot", evt: inGroup(text("lunch?")), kind: ""},
		{name: "group mention", evt: inGroup(&waE2E.Message{ExtendedTextMessage: &waE2E.ExtendedTextMessage{Text: proto.String("@10000000000 what time is it?"), ContextInfo: mentionBot()}}), kind: message.KindText, check: textIs("what time is it?")},
		{name: "group mention of the bot's LID", evt: inGroup(&waE2E.Message{ImageMessage: &waE2E.ImageMessage{Caption: proto.String("@99990000 what bird?"), ContextInfo: &waE2E.ContextInfo{MentionedJID: []string{botLID.String()}}}}), kind: message.KindImage, check: textIs("what bird?")},
		{name: "bare mention", evt: inGroup(&waE2E.Message{ExtendedTextMessage: &waE2E.ExtendedTextMessage{Text: proto.String("@10000000000 "), ContextInfo: mentionBot()}}), kind: ""},
		{name: "bare mention replying to a message", evt: inGroup(&waE2E.Message{ExtendedTextMessage: &waE2E.ExtendedTextMessage{Text: proto.String("@10000000000"),
			ContextInfo: &waE2E.ContextInfo{MentionedJID: []string{bot.String()}, StanzaID: proto.String("Q9"), Participant: proto.String(alice.String()), QuotedMessage: text("is the earth flat?")}}}), kind: message.KindText, check: func(t *testing.T, in message.Inbound) {
			require.Empty(t, in.Text)
			require.Equal(t, "is the earth flat?", in.QuotedText)
		}},
		{name: "group reply to the bot", evt: inGroup(&waE2E.Message{ExtendedTextMessage: &waE2E.ExtendedTextMessage{Text: proto.String("and tomorrow?"),
			ContextInfo: &waE2E.ContextInfo{StanzaID: proto.String("3EB0ABC"), Participant: proto.String(bot.String()), QuotedMessage: text("Sunny.")}}}), kind: message.KindText},
	}
}

// TestWhatWhatsAppSends feeds every row of the README table through the
// real handler and checks what reaches Temporal.
func TestWhatWhatsAppSends(t *testing.T) {
	t.Parallel()
	for _, tc := range fidelityCases() {
		t.Run(tc.name, func(t *testing.T) {
			gw, s := setup(t)
			require.True(t, gw.HandleEvent(tc.evt), "always acknowledged")
			if tc.kind == "" {
				require.Empty(t, s.calls, "no run")
				require.LessOrEqual(t, len(s.owner), 1, "at most a takeover signal")
				return
			}
			require.Len(t, s.calls, 1)
			require.Equal(t, tc.kind, s.calls[0].Kind)
			if tc.check != nil {
				tc.check(t, s.calls[0])
			}
		})
	}
}

// TestREADMETableMatchesCases keeps the README table and the cases above in
// step: every row is a case, every case a row.
func TestREADMETableMatchesCases(t *testing.T) {
	t.Parallel()
	readme, err := os.ReadFile("../README.md")
	require.NoError(t, err)
	_, table, ok := strings.Cut(string(readme), "<!-- whatsapp-table -->")
	require.True(t, ok, "README lacks the whatsapp-table marker")
	table, _, _ = strings.Cut(table, "<!-- /whatsapp-table -->")
	row := regexp.MustCompile(`(?m)^\| ([^|]+?) \|`)
	var rows []string
	for _, m := range row.FindAllStringSubmatch(table, -1) {
		if name := m[1]; name != "WhatsApp sends" && !strings.HasPrefix(name, "---") {
			rows = append(rows, name)
		}
	}
	var names []string
	for _, tc := range fidelityCases() {
		names = append(names, tc.name)
	}
	require.ElementsMatch(t, names, rows)
}
