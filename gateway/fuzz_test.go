package gateway_test

import (
	"encoding/json"
	"strings"
	"testing"

	"go.mau.fi/whatsmeow/proto/waE2E"
	"go.mau.fi/whatsmeow/types"
	"go.mau.fi/whatsmeow/types/events"
	"google.golang.org/protobuf/proto"
)

// FuzzHandleEvent feeds arbitrary protobuf-shaped messages (any bytes that
// unmarshal as a waE2E.Message) through the real handler. It must never
// panic, must acknowledge (the recording starter never fails), and whatever
// it hands to Temporal must be a complete, small, serializable Inbound whose
// workflow ID holds no phone number. Flags put the message in a group (with
// seeds that mention the bot, so group messages get through), mark it as the
// owner's own, leave it wrapped, give it a LID sender, or set whatsmeow's
// view-once and edit flags.
func FuzzHandleEvent(f *testing.F) {
	seeds := []*waE2E.Message{
		{Conversation: proto.String("hello")},
		{ExtendedTextMessage: &waE2E.ExtendedTextMessage{Text: proto.String("@10000000000 hi"),
			ContextInfo: &waE2E.ContextInfo{MentionedJID: []string{bot.String()}, StanzaID: proto.String("Q1"), QuotedMessage: &waE2E.Message{Conversation: proto.String("quoted")}}}},
		{ImageMessage: &waE2E.ImageMessage{Caption: proto.String("look"), Mimetype: proto.String("image/jpeg"), FileLength: proto.Uint64(1234)}},
		{AudioMessage: &waE2E.AudioMessage{PTT: proto.Bool(true), Seconds: proto.Uint32(3), Mimetype: proto.String("audio/ogg")}},
		{DocumentMessage: &waE2E.DocumentMessage{FileName: proto.String("a.pdf"), Mimetype: proto.String("application/pdf")}},
		{EphemeralMessage: &waE2E.FutureProofMessage{Message: &waE2E.Message{Conversation: proto.String("inner")}}},
		{ProtocolMessage: &waE2E.ProtocolMessage{Type: waE2E.ProtocolMessage_REVOKE.Enum()}},
		{ViewOnceMessageV2: &waE2E.FutureProofMessage{Message: &waE2E.Message{ImageMessage: &waE2E.ImageMessage{
			ContextInfo: &waE2E.ContextInfo{MentionedJID: []string{botLID.String()}}}}}},
		{DocumentWithCaptionMessage: &waE2E.FutureProofMessage{Message: &waE2E.Message{DocumentMessage: &waE2E.DocumentMessage{Caption: proto.String("@99990000 sum up")}}}},
		{ExtendedTextMessage: &waE2E.ExtendedTextMessage{Text: proto.String("@10000000000"), ContextInfo: &waE2E.ContextInfo{
			MentionedJID: []string{bot.String()}, StanzaID: proto.String("Q2"), Participant: proto.String(alice.String()),
			QuotedMessage: &waE2E.Message{EphemeralMessage: &waE2E.FutureProofMessage{Message: &waE2E.Message{DocumentWithCaptionMessage: &waE2E.FutureProofMessage{}}}}}}},
		{AlbumMessage: &waE2E.AlbumMessage{}, MessageContextInfo: &waE2E.MessageContextInfo{}},
	}
	for i, m := range seeds {
		b, err := proto.Marshal(m)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b, uint8(i))
		f.Add(b, uint8(i)|1) // the same in a group (mentions make the handler hand it on)
	}
	f.Fuzz(func(t *testing.T, raw []byte, flags uint8) {
		var msg waE2E.Message
		if err := proto.Unmarshal(raw, &msg); err != nil {
			t.Skip("not a waE2E.Message")
		}
		gw, s := setup(t)
		chat, sender := alice, alice
		if flags&1 != 0 {
			chat = group
		}
		evt := &events.Message{
			Info: types.MessageInfo{
				MessageSource: types.MessageSource{Chat: chat, Sender: sender, IsGroup: chat.Server == types.GroupServer, IsFromMe: flags&2 != 0},
				ID:            "FUZZ0000000001", Timestamp: now,
			},
			Message: &msg,
		}
		if flags&4 != 0 {
			evt.Message, evt.RawMessage = nil, &msg // as whatsmeow hands over undecoded wrappers
		}
		if flags&8 != 0 { // a LID group: the sender's phone JID comes separately
			evt.Info.Sender, evt.Info.SenderAlt = types.NewJID("123456789", types.HiddenUserServer), sender
		}
		evt.IsViewOnce, evt.IsEdit = flags&16 != 0, flags&32 != 0
		if !gw.HandleEvent(evt) {
			t.Fatal("HandleEvent did not acknowledge, but the starter never fails")
		}
		for i, in := range s.calls {
			if in.ID == "" || in.Chat == "" || in.Account == "" || in.ChatHash == "" || in.Kind == "" {
				t.Fatalf("incomplete Inbound: %+v", in)
			}
			if strings.Contains(s.ids[i], alice.User) || strings.Contains(s.ids[i], group.User) {
				t.Fatalf("workflow ID %q holds a phone number or group ID", s.ids[i])
			}
			b, err := json.Marshal(in)
			if err != nil {
				t.Fatalf("Inbound does not serialize: %v", err)
			}
			if len(b) > len(raw)+4096 {
				t.Fatalf("Inbound of %d bytes from a %d-byte message: media bytes or more than needed", len(b), len(raw))
			}
		}
	})
}
