package gateway_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.mau.fi/whatsmeow"
	"go.mau.fi/whatsmeow/proto/waE2E"
	"go.mau.fi/whatsmeow/types"
	"google.golang.org/protobuf/proto"

	"github.com/wabot/wabot/gateway"
	"github.com/wabot/wabot/internal/logging"
	"github.com/wabot/wabot/internal/message"
	"github.com/wabot/wabot/internal/testkit"
)

// recClient records what the gateway sends and marks read.
type recClient struct {
	gateway.Client // nil: calls beyond the ones below panic
	mu             sync.Mutex
	sent           []*waE2E.Message
	reads          []string // "<id> <receipt type>"
}

func (c *recClient) SendMessage(_ context.Context, _ types.JID, m *waE2E.Message, _ ...whatsmeow.SendRequestExtra) (whatsmeow.SendResponse, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.sent = append(c.sent, m)
	return whatsmeow.SendResponse{}, nil
}

func (c *recClient) MarkRead(_ context.Context, ids []types.MessageID, _ time.Time, _, _ types.JID, t ...types.ReceiptType) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	typ := "read"
	if len(t) > 0 {
		typ = string(t[0])
	}
	for _, id := range ids {
		c.reads = append(c.reads, id+" "+typ)
	}
	return nil
}

func (c *recClient) snapshot() ([]*waE2E.Message, []string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]*waE2E.Message(nil), c.sent...), append([]string(nil), c.reads...)
}

// A voice note gets 👀 on receipt; its answer, sent after a second message
// came in, quotes it, marks it played and takes the 👀 back; the answer to
// the second message quotes nothing and marks it read.
func TestReceiptsReactionsAndQuotes(t *testing.T) {
	t.Parallel()
	gw, s := setup(t)
	rc := &recClient{}
	receipts := gateway.NewReceipts(logging.Discard(), rc, "👀", hasher)
	gw.WithReceipts(receipts)
	acts := gateway.NewActivities(logging.Discard(), "acct", rc, &ledger{sent: map[string]bool{}}, hasher).WithReceipts(receipts)

	voice := dm(&waE2E.Message{AudioMessage: &waE2E.AudioMessage{PTT: proto.Bool(true)}})
	voice.Info.ID = "V1"
	require.True(t, gw.HandleEvent(voice))
	testkit.WaitFor(t, 5*time.Second, func() bool { sent, _ := rc.snapshot(); return len(sent) == 1 }, "no reaction on receipt")
	sent, _ := rc.snapshot()
	require.Equal(t, "👀", sent[0].GetReactionMessage().GetText())
	require.Equal(t, "V1", sent[0].GetReactionMessage().GetKey().GetID())

	require.True(t, gw.HandleEvent(textEvent("T2", alice, alice, "and another thing")))
	testkit.WaitFor(t, 5*time.Second, func() bool { sent, _ := rc.snapshot(); return len(sent) == 2 }, "no reaction to the second message")
	require.Len(t, s.calls, 2)

	require.NoError(t, acts.Send(t.Context(), message.ReplyTo(s.calls[0], 0, "answer to the voice note")))
	sent, reads := rc.snapshot()
	require.Len(t, sent, 4)
	require.Equal(t, "answer to the voice note", sent[2].GetExtendedTextMessage().GetText())
	require.Equal(t, "V1", sent[2].GetExtendedTextMessage().GetContextInfo().GetStanzaID(), "overtaken: quoted")
	require.Equal(t, "", sent[3].GetReactionMessage().GetText(), "the reaction is taken back")
	require.Equal(t, []string{"V1 played"}, reads)

	require.NoError(t, acts.Send(t.Context(), message.ReplyTo(s.calls[1], 0, "answer to the text")))
	sent, reads = rc.snapshot()
	require.Equal(t, "answer to the text", sent[4].GetConversation(), "the newest message: not quoted")
	require.Equal(t, []string{"V1 played", "T2 read"}, reads)
}
