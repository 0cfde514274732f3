package store_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/wabot/wabot/internal/store"
)

func TestBlobs(t *testing.T) {
	t.Parallel()
	f := setup(t)
	exp := time.Now().Add(time.Hour).Truncate(time.Microsecond)
	b := store.Blob{Key: "in/a/M1", Account: account, ChatJID: chatJID, Mime: "image/png", Data: []byte{0, 1, 2}, ExpiresAt: exp}
	require.NoError(t, f.store.PutBlob(f.ctx, b))
	b.Data = []byte{3, 4}
	require.NoError(t, f.store.PutBlob(f.ctx, b), "a retried put replaces")
	got, err := f.store.GetBlob(f.ctx, "in/a/M1")
	require.NoError(t, err)
	require.Equal(t, []byte{3, 4}, got.Data)
	require.True(t, exp.Equal(got.ExpiresAt))
	require.Equal(t, 1, f.count(t, `SELECT count(*) FROM blobs WHERE size = 2`))
	_, err = f.store.GetBlob(f.ctx, "missing")
	require.ErrorIs(t, err, store.ErrNotFound)
	require.ErrorIs(t, f.store.PutBlob(f.ctx, store.Blob{Account: account}), store.ErrInvalid)
}

func TestSearchDocument(t *testing.T) {
	t.Parallel()
	f := setup(t)
	exp := time.Now().Add(time.Hour)
	none, err := f.store.SearchDocument(f.ctx, account, chatJID, "", "anything", 3)
	require.NoError(t, err)
	require.Empty(t, none)

	old := []store.DocumentChunk{{MessageID: "D1", FileName: "old.txt", Seq: 0, Content: "The ferry leaves at nine."}}
	require.NoError(t, f.store.SaveDocumentChunks(f.ctx, account, chatJID, exp, old))
	doc := []store.DocumentChunk{
		{MessageID: "D2", FileName: "r.pdf", Seq: 0, Content: "Weather was calm and ships arrived on time."},
		{MessageID: "D2", FileName: "r.pdf", Seq: 1, Content: "The secret launch codes are kept in the vault."},
		{MessageID: "D2", FileName: "r.pdf", Seq: 2, Content: "Lunch is served at noon."},
	}
	require.NoError(t, f.store.SaveDocumentChunks(f.ctx, account, chatJID, exp, doc))
	require.NoError(t, f.store.SaveDocumentChunks(f.ctx, account, chatJID, exp, doc), "a retried save replaces")
	require.Equal(t, 4, f.count(t, `SELECT count(*) FROM document_chunks`))

	got, err := f.store.SearchDocument(f.ctx, account, chatJID, "", "Where is the launch code?", 1)
	require.NoError(t, err)
	require.Len(t, got, 1)
	require.Equal(t, 1, got[0].Seq, "stemmed match on the newest document")

	got, err = f.store.SearchDocument(f.ctx, account, chatJID, "D1", "when does the ferry leave?", 2)
	require.NoError(t, err)
	require.Len(t, got, 1)
	require.Equal(t, "old.txt", got[0].FileName)

	got, err = f.store.SearchDocument(f.ctx, account, chatJID, "", "?!", 2)
	require.NoError(t, err)
	require.Len(t, got, 2, "a question without words still gets the first chunks")
	ok, err := f.store.HasDocument(f.ctx, account, "D2")
	require.NoError(t, err)
	require.True(t, ok)
}

func TestChatSettingAndLastReply(t *testing.T) {
	t.Parallel()
	f := setup(t)
	require.NoError(t, f.store.EnsureChat(f.ctx, account, chatJID, store.ChatDM))
	v, err := f.store.ChatSetting(f.ctx, account, chatJID, "voice_replies")
	require.NoError(t, err)
	require.Empty(t, v)
	require.NoError(t, f.store.SetChatSetting(f.ctx, account, chatJID, "voice_replies", "true"))
	v, err = f.store.ChatSetting(f.ctx, account, chatJID, "voice_replies")
	require.NoError(t, err)
	require.Equal(t, "true", v)
	require.ErrorIs(t, f.store.SetChatSetting(f.ctx, account, "nobody", "voice_replies", "true"), store.ErrNotFound)

	_, err = f.store.LastReply(f.ctx, account, chatJID)
	require.ErrorIs(t, err, store.ErrNotFound)
	for i, body := range []string{"first", "second"} {
		require.NoError(t, f.store.SaveMessage(f.ctx, store.Message{Account: account, ChatJID: chatJID, MessageID: "R" + body,
			Role: "assistant", Kind: "text", Body: body, CreatedAt: time.Now().Add(time.Duration(i) * time.Second), ExpiresAt: time.Now().Add(time.Hour)}))
	}
	last, err := f.store.LastReply(f.ctx, account, chatJID)
	require.NoError(t, err)
	require.Equal(t, "second", last)
}
