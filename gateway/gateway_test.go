package gateway_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.mau.fi/whatsmeow/proto/waE2E"
	"go.mau.fi/whatsmeow/types"
	"go.mau.fi/whatsmeow/types/events"
	"go.temporal.io/sdk/client"
	"google.golang.org/protobuf/proto"

	"github.com/wabot/wabot/gateway"
	"github.com/wabot/wabot/internal/logging"
	"github.com/wabot/wabot/internal/message"
	"github.com/wabot/wabot/internal/secret"
	"github.com/wabot/wabot/workflows"
)

// starter records signal-with-start calls instead of reaching Temporal.
type starter struct {
	mu    sync.Mutex
	calls []message.Inbound
	ids   []string
	owner []workflows.OwnerEvent // takeover signals
	err   error
}

func (s *starter) SignalWithStartWorkflow(_ context.Context, id, signal string, arg any, opts client.StartWorkflowOptions, _ any, _ ...any) (client.WorkflowRun, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.err != nil {
		return nil, s.err
	}
	if signal == workflows.SignalOwner && opts.ID == id {
		s.owner = append(s.owner, arg.(workflows.OwnerEvent))
		return nil, nil
	}
	if signal != workflows.SignalInbound || opts.ID != id {
		return nil, errors.New("unexpected call")
	}
	s.calls = append(s.calls, arg.(message.Inbound))
	s.ids = append(s.ids, id)
	return nil, nil
}

var (
	bot    = types.NewJID("10000000000", types.DefaultUserServer)
	botLID = types.NewJID("99990000", types.HiddenUserServer)
	alice  = types.NewJID("4915112345678", types.DefaultUserServer)
	group  = types.NewJID("120363000000000001", types.GroupServer)
	now    = time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)
	hasher = logging.NewHasher(secret.New("test"))
)

func setup(t *testing.T) (*gateway.Gateway, *starter) {
	t.Helper()
	s := &starter{}
	gw, err := gateway.New(logging.Discard(), gateway.Config{Account: "acct", MaxOfflineAge: time.Hour}, s,
		gateway.StaticIdentity{PN: bot, LID: botLID}, hasher, func() time.Time { return now })
	require.NoError(t, err)
	return gw, s
}

func textEvent(id string, chat, sender types.JID, text string) *events.Message {
	return &events.Message{
		Info: types.MessageInfo{
			MessageSource: types.MessageSource{Chat: chat, Sender: sender, IsGroup: chat.Server == types.GroupServer},
			ID:            id, Timestamp: now,
		},
		Message: &waE2E.Message{Conversation: proto.String(text)},
	}
}

func groupEvent(id string, ci *waE2E.ContextInfo, text string) *events.Message {
	evt := textEvent(id, group, alice, text)
	evt.Message = &waE2E.Message{ExtendedTextMessage: &waE2E.ExtendedTextMessage{Text: proto.String(text), ContextInfo: ci}}
	return evt
}

func TestTextMessageBecomesInbound(t *testing.T) {
	t.Parallel()
	gw, s := setup(t)
	require.True(t, gw.HandleEvent(textEvent("M1", alice, types.JID{User: alice.User, Device: 3, Server: alice.Server}, "  hello  ")))
	require.Len(t, s.calls, 1)
	in := s.calls[0]
	require.Equal(t, message.Inbound{
		Account: "acct", ID: "M1", Chat: alice.String(), Sender: alice.String(),
		ChatHash: hasher.Hash(alice.String()), SenderHash: hasher.Hash(alice.String()),
		Kind: message.KindText, Text: "hello", Timestamp: now,
	}, in)
	require.Equal(t, workflows.ChatWorkflowID("acct", in.ChatHash), s.ids[0])
	require.NotContains(t, s.ids[0], "4915112345678", "workflow IDs hold hashes, not numbers")
}

func TestFilters(t *testing.T) {
	t.Parallel()
	own := textEvent("F1", alice, bot, "echo")
	own.Info.IsFromMe = true
	status := textEvent("F2", types.StatusBroadcastJID, alice, "story")
	old := textEvent("F3", alice, alice, "from last week")
	old.Info.Timestamp = now.Add(-7 * 24 * time.Hour)
	history := textEvent("F4", alice, alice, "synced")
	history.SourceWebMsg = nilWebMsg()
	notMentioned := groupEvent("F5", nil, "chatting among friends")
	mentionsOther := groupEvent("F6", &waE2E.ContextInfo{MentionedJID: []string{alice.String()}}, "@4915112345678 hi")
	reaction := textEvent("F7", alice, alice, "")
	reaction.Message = &waE2E.Message{ReactionMessage: &waE2E.ReactionMessage{Text: proto.String("👍")}}

	for _, evt := range []*events.Message{own, status, old, history, notMentioned, mentionsOther, reaction} {
		gw, s := setup(t)
		require.True(t, gw.HandleEvent(evt), evt.Info.ID)
		require.Empty(t, s.calls, evt.Info.ID)
	}
}

func TestGroupMessagesForTheBot(t *testing.T) {
	t.Parallel()
	cases := map[string]*events.Message{
		"mention by phone JID": groupEvent("G1", &waE2E.ContextInfo{MentionedJID: []string{bot.String()}}, "@10000000000 what time is it?"),
		"mention by LID":       groupEvent("G2", &waE2E.ContextInfo{MentionedJID: []string{botLID.String()}}, "@99990000 what time is it?"),
		"reply to the bot": groupEvent("G3", &waE2E.ContextInfo{
			StanzaID: proto.String("3EB0ABC"), Participant: proto.String(bot.String()),
			QuotedMessage: &waE2E.Message{Conversation: proto.String("It is noon.")},
		}, "what time is it?"),
	}
	for name, evt := range cases {
		gw, s := setup(t)
		require.True(t, gw.HandleEvent(evt), name)
		require.Len(t, s.calls, 1, name)
		in := s.calls[0]
		require.True(t, in.IsGroup, name)
		require.Equal(t, "what time is it?", in.Text, name)
		require.Equal(t, group.String(), in.Chat, name)
	}
}

func TestLIDSenderUsesPhoneJID(t *testing.T) {
	t.Parallel()
	gw, s := setup(t)
	evt := groupEvent("L1", &waE2E.ContextInfo{MentionedJID: []string{bot.String()}}, "hi")
	evt.Info.Sender = types.NewJID("123456789", types.HiddenUserServer)
	evt.Info.SenderAlt = alice
	require.True(t, gw.HandleEvent(evt))
	require.Equal(t, alice.String(), s.calls[0].Sender)
}

func TestKinds(t *testing.T) {
	t.Parallel()
	cases := []struct {
		msg  *waE2E.Message
		kind message.Kind
		text string
	}{
		{&waE2E.Message{Conversation: proto.String("/help")}, message.KindCommand, "/help"},
		{&waE2E.Message{Conversation: proto.String("!gpt hi")}, message.KindCommand, "!gpt hi"},
		{&waE2E.Message{Conversation: proto.String("/ not a command")}, message.KindText, "/ not a command"},
		{&waE2E.Message{AudioMessage: &waE2E.AudioMessage{PTT: proto.Bool(true), Mimetype: proto.String("audio/ogg; codecs=opus"), Seconds: proto.Uint32(3)}}, message.KindVoice, ""},
		{&waE2E.Message{ImageMessage: &waE2E.ImageMessage{Caption: proto.String("what is this?"), Mimetype: proto.String("image/jpeg")}}, message.KindImage, "what is this?"},
		{&waE2E.Message{DocumentMessage: &waE2E.DocumentMessage{FileName: proto.String("a.pdf"), Mimetype: proto.String("application/pdf")}}, message.KindDocument, ""},
		{&waE2E.Message{StickerMessage: &waE2E.StickerMessage{}}, message.KindSticker, ""},
		{&waE2E.Message{LocationMessage: &waE2E.LocationMessage{}}, message.KindLocation, ""},
		{&waE2E.Message{PollCreationMessageV3: &waE2E.PollCreationMessage{}}, message.KindPoll, ""},
		{&waE2E.Message{ButtonsResponseMessage: &waE2E.ButtonsResponseMessage{}}, message.KindUnsupported, ""},
	}
	for _, tc := range cases {
		gw, s := setup(t)
		evt := textEvent("K1", alice, alice, "")
		evt.Message = tc.msg
		require.True(t, gw.HandleEvent(evt))
		require.Len(t, s.calls, 1, tc.kind)
		require.Equal(t, tc.kind, s.calls[0].Kind)
		require.Equal(t, tc.text, s.calls[0].Text)
	}
	gw, s := setup(t)
	evt := textEvent("K2", alice, alice, "")
	evt.Message = &waE2E.Message{AudioMessage: &waE2E.AudioMessage{PTT: proto.Bool(true), URL: proto.String("https://example/x"), MediaKey: []byte{1, 2}, FileLength: proto.Uint64(1234)}}
	require.True(t, gw.HandleEvent(evt))
	require.Equal(t, &message.Media{PTT: true, URL: "https://example/x", MediaKey: []byte{1, 2}, Size: 1234}, s.calls[0].Media)
}

func TestEphemeralIsUnwrapped(t *testing.T) {
	t.Parallel()
	gw, s := setup(t)
	evt := textEvent("E1", alice, alice, "")
	evt.Message = nil
	evt.RawMessage = &waE2E.Message{EphemeralMessage: &waE2E.FutureProofMessage{Message: &waE2E.Message{Conversation: proto.String("vanishing")}}}
	require.True(t, gw.HandleEvent(evt))
	require.Equal(t, "vanishing", s.calls[0].Text)
}

func TestLongTextIsClipped(t *testing.T) {
	t.Parallel()
	gw, s := setup(t)
	long := make([]byte, message.MaxTextLen+100)
	for i := range long {
		long[i] = 'a'
	}
	require.True(t, gw.HandleEvent(textEvent("T1", alice, alice, string(long))))
	require.Len(t, s.calls[0].Text, message.MaxTextLen)
}

func TestNoAckWhenTemporalRefuses(t *testing.T) {
	t.Parallel()
	gw, s := setup(t)
	s.err = errors.New("connection refused")
	require.False(t, gw.HandleEvent(textEvent("N1", alice, alice, "hello")), "no ack: WhatsApp must redeliver")
	s.err = nil
	require.True(t, gw.HandleEvent(textEvent("N1", alice, alice, "hello")))
	require.Len(t, s.calls, 1)
}

// Messages of the linked number itself: typed on the phone they pause the
// bot in that chat ("/bot pause|resume" explicitly); the bot's own replies
// (in the outbound log) and reactions change nothing.
func TestOwnMessagesTakeOver(t *testing.T) {
	t.Parallel()
	gw, s := setup(t)
	l := &ledger{sent: map[string]bool{"acct/3EB0BOTREPLY": true}}
	gw.WithOwnSends(l)
	own := func(id string, msg *waE2E.Message) *events.Message {
		evt := textEvent(id, alice, bot, "")
		evt.Info.IsFromMe, evt.Message = true, msg
		return evt
	}
	for _, evt := range []*events.Message{
		own("P1", &waE2E.Message{Conversation: proto.String("Hi Alice, it's me, not the bot")}),
		own("3EB0BOTREPLY", &waE2E.Message{Conversation: proto.String("the bot's own reply")}),
		own("P2", &waE2E.Message{ReactionMessage: &waE2E.ReactionMessage{Text: proto.String("❤️")}}),
		own("P3", &waE2E.Message{Conversation: proto.String(" /bot  PAUSE ")}),
		own("P4", &waE2E.Message{Conversation: proto.String("/bot resume")}),
	} {
		require.True(t, gw.HandleEvent(evt), evt.Info.ID)
	}
	require.Empty(t, s.calls, "the owner's messages are never answered")
	require.Equal(t, []workflows.OwnerEvent{
		{Action: workflows.OwnerManual, MessageID: "P1"},
		{Action: workflows.OwnerPause, MessageID: "P3"},
		{Action: workflows.OwnerResume, MessageID: "P4"},
	}, s.owner)
}
