package localchat_test

import (
	"encoding/base64"
	"net/http"
	"net/http/httptest"
	"strings"
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

// TestMediaRoundTrip: an attachment posted to the API becomes a real media
// *events.Message whose Download returns the bytes; media the bot uploads
// and sends shows on the page and is served from /media/.
func TestMediaRoundTrip(t *testing.T) {
	t.Parallel()
	tr := localchat.New(nil)
	var got *events.Message
	tr.SetHandler(func(evt any) bool { got = evt.(*events.Message); return true })
	srv := httptest.NewServer(tr.Handler(localchat.Options{Logger: logging.Discard()}))
	t.Cleanup(srv.Close)

	pdf := []byte("%PDF-1.4 hello")
	code, _ := post(t, srv, map[string]any{"from": "15550100", "text": "read this", "media": map[string]any{
		"kind": "document", "mime": "application/pdf", "name": "a.pdf", "data": base64.StdEncoding.EncodeToString(pdf)}})
	require.Equal(t, http.StatusAccepted, code)

	doc := got.Message.GetDocumentMessage()
	require.NotNil(t, doc)
	require.Equal(t, "a.pdf", doc.GetFileName())
	require.Equal(t, "read this", doc.GetCaption())
	data, err := tr.Download(t.Context(), doc)
	require.NoError(t, err)
	require.Equal(t, pdf, data)
	_, err = tr.Download(t.Context(), &waE2E.ImageMessage{URL: proto.String("/media/999")})
	require.ErrorIs(t, err, whatsmeow.ErrMediaDownloadFailedWith404, "unknown media looks expired")

	ogg := []byte("OggS\x00fake voice")
	up, err := tr.Upload(t.Context(), ogg, whatsmeow.MediaAudio)
	require.NoError(t, err)
	to := types.NewJID("15550100", types.DefaultUserServer)
	_, err = tr.SendMessage(t.Context(), to, &waE2E.Message{AudioMessage: &waE2E.AudioMessage{
		URL: proto.String(up.URL), Mimetype: proto.String("audio/ogg; codecs=opus"), PTT: proto.Bool(true),
		Seconds: proto.Uint32(3), Waveform: make([]byte, 64)}})
	require.NoError(t, err)
	sent := tr.SentMessages()
	require.Len(t, sent, 1)
	require.True(t, sent[0].Media.PTT)
	require.Equal(t, ogg, sent[0].Media.Data)

	msgs, _ := tr.Messages("15550100", 0)
	require.Len(t, msgs, 2)
	require.Equal(t, "document", msgs[0].Media.Kind)
	require.Equal(t, "voice", msgs[1].Media.Kind)
	req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, srv.URL+msgs[1].Media.URL, nil)
	require.NoError(t, err)
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer func() { _ = resp.Body.Close() }()
	require.Equal(t, http.StatusOK, resp.StatusCode)
	require.True(t, strings.HasPrefix(resp.Header.Get("Content-Type"), "audio/ogg"))
}
