package localchat_test

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"
	"go.mau.fi/whatsmeow"
	"go.mau.fi/whatsmeow/proto/waE2E"
	"go.mau.fi/whatsmeow/types"
	"go.mau.fi/whatsmeow/types/events"
	"google.golang.org/protobuf/proto"

	"github.com/wabot/wabot/gateway/localchat"
	"github.com/wabot/wabot/internal/logging"
)

// handler records events like the gateway would and can refuse to ack.
type handler struct {
	mu     sync.Mutex
	events []*events.Message
	ack    bool
}

func (h *handler) handle(evt any) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.events = append(h.events, evt.(*events.Message))
	return h.ack
}

func setup(t *testing.T) (*localchat.Transport, *handler, *httptest.Server) {
	t.Helper()
	tr := localchat.New(nil)
	h := &handler{ack: true}
	tr.SetHandler(h.handle)
	srv := httptest.NewServer(tr.Handler(localchat.Options{Status: localchat.Status{Banner: "offline"}, Logger: logging.Discard()}))
	t.Cleanup(srv.Close)
	return tr, h, srv
}

// sessionToken fetches the per-process token as the page does.
func sessionToken(t *testing.T, srv *httptest.Server) string {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, srv.URL+"/api/status", nil)
	require.NoError(t, err)
	req.Header.Set("Sec-Fetch-Site", "same-origin")
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer func() { _ = resp.Body.Close() }()
	require.Equal(t, http.StatusOK, resp.StatusCode)
	var st struct {
		Token  string `json:"token"`
		Banner string `json:"banner"`
	}
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&st))
	require.NotEmpty(t, st.Token)
	return st.Token
}

// post sends a message as the page does: JSON, same origin, with the token.
func post(t *testing.T, srv *httptest.Server, body any) (int, map[string]string) {
	t.Helper()
	b, err := json.Marshal(body)
	require.NoError(t, err)
	req, err := http.NewRequestWithContext(t.Context(), http.MethodPost, srv.URL+"/api/send", bytes.NewReader(b))
	require.NoError(t, err)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Origin", srv.URL)
	req.Header.Set("Sec-Fetch-Site", "same-origin")
	req.Header.Set(localchat.TokenHeader, sessionToken(t, srv))
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer func() { _ = resp.Body.Close() }()
	var out map[string]string
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&out))
	return resp.StatusCode, out
}

func TestSendBecomesAWhatsAppMessage(t *testing.T) {
	t.Parallel()
	tr, h, srv := setup(t)
	code, out := post(t, srv, map[string]string{"from": "+15550100", "name": "Ann", "text": "hello", "id": "LOCALABC"})
	require.Equal(t, http.StatusAccepted, code)
	require.Equal(t, "LOCALABC", out["id"])
	require.Len(t, h.events, 1)
	evt := h.events[0]
	require.Equal(t, "hello", evt.Message.GetConversation())
	require.Equal(t, types.NewJID("15550100", types.DefaultUserServer), evt.Info.Chat)
	require.Equal(t, "Ann", evt.Info.PushName)

	// The bot's reply arrives through gateway.Client and shows in the chat.
	_, err := tr.SendMessage(t.Context(), evt.Info.Chat, &waE2E.Message{Conversation: proto.String("hi Ann")}, whatsmeow.SendRequestExtra{ID: "3EB0REPLY"})
	require.NoError(t, err)
	_, err = tr.SendMessage(t.Context(), evt.Info.Chat, &waE2E.Message{Conversation: proto.String("hi Ann")}, whatsmeow.SendRequestExtra{ID: "3EB0REPLY"})
	require.NoError(t, err)
	msgs, _ := tr.Messages("15550100", 0)
	require.Len(t, msgs, 2, "a repeated message ID shows once, as on WhatsApp")
	require.Equal(t, localchat.In, msgs[0].Direction)
	require.Equal(t, localchat.Out, msgs[1].Direction)
	require.Equal(t, "hi Ann", msgs[1].Text)
	require.Len(t, tr.SentMessages(), 2, "but both sends are recorded")

	req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, srv.URL+"/api/messages?chat=15550100&after=1", nil)
	require.NoError(t, err)
	req.Header.Set(localchat.TokenHeader, sessionToken(t, srv))
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer func() { _ = resp.Body.Close() }()
	var page struct {
		Messages []localchat.ChatMessage
	}
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&page))
	require.Len(t, page.Messages, 1)
	require.Equal(t, "3EB0REPLY", page.Messages[0].ID)
}

func TestNotAcceptedAsksForRetry(t *testing.T) {
	t.Parallel()
	tr, h, srv := setup(t)
	h.ack = false
	code, out := post(t, srv, map[string]string{"from": "15550101", "text": "hello", "id": "LOCALRETRY"})
	require.Equal(t, http.StatusServiceUnavailable, code)
	require.Equal(t, "LOCALRETRY", out["id"])
	msgs, _ := tr.Messages("15550101", 0)
	require.Empty(t, msgs, "an unacknowledged message is not shown as sent")
}

func TestBadInput(t *testing.T) {
	t.Parallel()
	_, _, srv := setup(t)
	for _, body := range []map[string]string{
		{"from": "not-a-number", "text": "x"},
		{"from": "15550100", "text": "   "},
		{"from": "", "text": "x"},
	} {
		code, out := post(t, srv, body)
		require.Equal(t, http.StatusBadRequest, code, body)
		require.NotEmpty(t, out["error"])
	}
}

func TestFailNextSend(t *testing.T) {
	t.Parallel()
	tr := localchat.New(nil)
	tr.FailNextSend(whatsmeow.ErrNotConnected)
	to := types.NewJID("15550100", types.DefaultUserServer)
	_, err := tr.SendMessage(context.Background(), to, &waE2E.Message{Conversation: proto.String("x")})
	require.ErrorIs(t, err, whatsmeow.ErrNotConnected)
	_, err = tr.SendMessage(context.Background(), to, &waE2E.Message{Conversation: proto.String("x")})
	require.NoError(t, err)
}

// Without history the transport still delivers both ways, but keeps no
// chat lines and no sent log: its memory stays flat under load.
func TestDiscardHistoryKeepsNothing(t *testing.T) {
	t.Parallel()
	tr, h, srv := setup(t)
	tr.DiscardHistory()
	code, _ := post(t, srv, map[string]string{"from": "+15550100", "text": "hello", "id": "LOCALDISC"})
	require.Equal(t, http.StatusAccepted, code)
	require.Len(t, h.events, 1, "the message still reaches the gateway")
	resp, err := tr.SendMessage(t.Context(), h.events[0].Info.Chat, &waE2E.Message{Conversation: proto.String("hi")}, whatsmeow.SendRequestExtra{ID: "3EB0DISC"})
	require.NoError(t, err)
	require.Equal(t, "3EB0DISC", resp.ID)
	msgs, _ := tr.Messages("15550100", 0)
	require.Empty(t, msgs)
	require.Empty(t, tr.SentMessages())
}
