package gateway_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/wabot/wabot/gateway"
	"github.com/wabot/wabot/gateway/localchat"
	"github.com/wabot/wabot/internal/logging"
	"github.com/wabot/wabot/internal/message"
)

// ledger is an in-memory outbound log and export store.
type ledger struct {
	mu   sync.Mutex
	sent map[string]bool
	zips map[string][]byte
}

func (l *ledger) WasSent(_ context.Context, account, id string) (bool, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.sent[account+"/"+id], nil
}

func (l *ledger) MarkSent(_ context.Context, account, id, _ string, _ time.Time) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.sent[account+"/"+id] = true
	return nil
}

func (l *ledger) ExportZip(_ context.Context, id string) ([]byte, error) {
	z, ok := l.zips[id]
	if !ok {
		return nil, errors.New("no such export")
	}
	return z, nil
}

func TestSendDocumentUploadsOnce(t *testing.T) {
	t.Parallel()
	tr := localchat.New(nil)
	l := &ledger{sent: map[string]bool{}, zips: map[string][]byte{"exp-1": []byte("PK zip bytes")}}
	acts := gateway.NewActivities(logging.Discard(), "acct", tr, l, hasher).WithExports(l)
	doc := message.Document{Account: "acct", Chat: alice.String(), ID: message.ReplyID("acct", "exp-1", 0), ExportID: "exp-1",
		FileName: "export.zip", Mimetype: "application/zip", Caption: "your data"}
	require.NoError(t, acts.SendDocument(t.Context(), doc))
	require.NoError(t, acts.SendDocument(t.Context(), doc), "a retry sends nothing twice")
	sent := tr.SentMessages()
	require.Len(t, sent, 1)
	require.Equal(t, "export.zip", sent[0].FileName)
	require.Equal(t, []byte("PK zip bytes"), sent[0].Document)
	require.Equal(t, "your data", sent[0].Text)
	require.Equal(t, doc.ID, sent[0].ID)

	// The local chat page offers it for download.
	srv := httptest.NewServer(tr.Handler(localchat.Options{}))
	t.Cleanup(srv.Close)
	msgs, _ := tr.Messages(alice.User, 0)
	require.Len(t, msgs, 1)
	require.NotEmpty(t, msgs[0].Document)
	req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, srv.URL+msgs[0].Document, nil)
	require.NoError(t, err)
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	body, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	require.NoError(t, resp.Body.Close())
	require.Equal(t, []byte("PK zip bytes"), body)
	require.Contains(t, resp.Header.Get("Content-Disposition"), "export.zip")

	bad := doc
	bad.ID, bad.ExportID = "other", "missing"
	require.Error(t, acts.SendDocument(t.Context(), bad))
}
