package gateway_test

import (
	"bytes"
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.mau.fi/whatsmeow"
	"go.mau.fi/whatsmeow/store"
	"go.temporal.io/sdk/temporal"

	"github.com/wabot/wabot/gateway"
	"github.com/wabot/wabot/internal/errcode"
	"github.com/wabot/wabot/internal/message"
	wstore "github.com/wabot/wabot/internal/store"
	"github.com/wabot/wabot/internal/testkit"
)

// encryptMedia encrypts plaintext the way WhatsApp stores media: keys from
// HKDF-SHA256 of the media key with the media type's info string (iv [0:16],
// cipher key [16:48], mac key [48:80]); AES-CBC with PKCS#7 padding; the
// file is ciphertext || HMAC-SHA256(iv || ciphertext)[:10].
func encryptMedia(t *testing.T, plaintext []byte, mediaType whatsmeow.MediaType) (file, mediaKey []byte) {
	t.Helper()
	mediaKey = make([]byte, 32)
	_, err := rand.Read(mediaKey)
	require.NoError(t, err)
	keys, err := hkdf.Key(sha256.New, mediaKey, nil, string(mediaType), 112)
	require.NoError(t, err)
	iv, cipherKey, macKey := keys[:16], keys[16:48], keys[48:80]
	pad := aes.BlockSize - len(plaintext)%aes.BlockSize
	padded := append(bytes.Clone(plaintext), bytes.Repeat([]byte{byte(pad)}, pad)...)
	block, err := aes.NewCipher(cipherKey)
	require.NoError(t, err)
	ciphertext := make([]byte, len(padded))
	cipher.NewCBCEncrypter(block, iv).CryptBlocks(ciphertext, padded)
	mac := hmac.New(sha256.New, macKey)
	mac.Write(iv)
	mac.Write(ciphertext)
	return append(ciphertext, mac.Sum(nil)[:10]...), mediaKey
}

// memBlobs is an in-memory blob store.
type memBlobs struct {
	mu    sync.Mutex
	blobs map[string]wstore.Blob
}

func (m *memBlobs) PutBlob(_ context.Context, b wstore.Blob) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.blobs[b.Key] = b
	return nil
}

func (m *memBlobs) GetBlob(_ context.Context, key string) (wstore.Blob, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	b, ok := m.blobs[key]
	if !ok {
		return wstore.Blob{}, wstore.ErrNotFound
	}
	return b, nil
}

type noSent struct{}

func (noSent) WasSent(context.Context, string, string) (bool, error)             { return false, nil }
func (noSent) MarkSent(context.Context, string, string, string, time.Time) error { return nil }

// TestFetchMediaThroughWhatsmeow runs whatsmeow's real Download (fetch,
// HMAC check, AES-CBC decryption) offline: a message whose URL is not
// WhatsApp's web host is fetched directly, here from an httptest server.
func TestFetchMediaThroughWhatsmeow(t *testing.T) {
	t.Parallel()
	plain := bytes.Repeat([]byte("a picture of a cat "), 500)
	file, key := encryptMedia(t, plain, whatsmeow.MediaImage)
	docFile, docKey := encryptMedia(t, []byte("%PDF-1.4 tiny"), whatsmeow.MediaDocument)
	docEncSum := sha256.Sum256(docFile) // WhatsApp always sends it; without it whatsmeow treats the file as unencrypted
	tampered := bytes.Clone(file)
	tampered[3] ^= 0xFF
	mux := http.NewServeMux()
	serve := func(path string, body []byte) {
		mux.HandleFunc("GET "+path, func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write(body) })
	}
	serve("/ok", file)
	serve("/doc", docFile)
	serve("/tampered", tampered)
	mux.HandleFunc("GET /gone", func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusGone) })
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)

	cli := whatsmeow.NewClient(store.NoopDevice, nil)
	blobs := &memBlobs{blobs: map[string]wstore.Blob{}}
	acts := gateway.NewMediaActivities(testkit.Logger(t), cli, blobs, noSent{}, hasher,
		gateway.MediaLimits{Image: 1 << 20, Document: 1 << 20})
	sum := sha256.Sum256(plain)
	encSum := sha256.Sum256(file)
	tamperedSum := sha256.Sum256(tampered)

	cases := []struct {
		name  string
		kind  message.Kind
		media message.Media
		want  []byte
		code  errcode.Code
	}{
		{name: "image decrypts", kind: message.KindImage, want: plain, media: message.Media{
			URL: srv.URL + "/ok", MediaKey: key, FileSHA256: sum[:], FileEncSHA256: encSum[:], Size: uint64(len(plain)), Mimetype: "image/jpeg"}},
		{name: "document decrypts", kind: message.KindDocument, want: []byte("%PDF-1.4 tiny"), media: message.Media{
			URL: srv.URL + "/doc", MediaKey: docKey, FileEncSHA256: docEncSum[:], Mimetype: "application/pdf"}},
		{name: "404 is expired", kind: message.KindImage, code: errcode.MediaExpired, media: message.Media{
			URL: srv.URL + "/missing", MediaKey: key}},
		{name: "410 is expired", kind: message.KindImage, code: errcode.MediaExpired, media: message.Media{
			URL: srv.URL + "/gone", MediaKey: key}},
		{name: "bad hmac is corrupt", kind: message.KindImage, code: errcode.MediaCorrupt, media: message.Media{
			URL: srv.URL + "/tampered", MediaKey: key, FileEncSHA256: tamperedSum[:]}},
		{name: "bad ciphertext hash is corrupt", kind: message.KindImage, code: errcode.MediaCorrupt, media: message.Media{
			URL: srv.URL + "/tampered", MediaKey: key, FileEncSHA256: encSum[:]}},
		{name: "wrong media type keys are corrupt", kind: message.KindDocument, code: errcode.MediaCorrupt, media: message.Media{
			URL: srv.URL + "/ok", MediaKey: key, FileEncSHA256: encSum[:]}},
		{name: "declared size over the limit", kind: message.KindImage, code: errcode.FileTooLarge, media: message.Media{
			URL: srv.URL + "/ok", MediaKey: key, Size: 2 << 20}},
		{name: "no url and not connected", kind: message.KindImage, code: errcode.MediaExpired, media: message.Media{MediaKey: key}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			id := "MSG" + tc.name
			got, err := acts.FetchMedia(t.Context(), message.FetchRequest{Account: "acct", Chat: "15550100@s.whatsapp.net",
				MessageID: id, Kind: tc.kind, Media: tc.media, ExpiresAt: time.Now().Add(time.Hour)})
			if tc.code != "" {
				var appErr *temporal.ApplicationError
				require.True(t, errors.As(err, &appErr), "%v", err)
				require.Equal(t, string(tc.code), appErr.Type())
				require.True(t, appErr.NonRetryable())
				return
			}
			require.NoError(t, err)
			require.Equal(t, message.BlobKey("acct", id), got.BlobKey)
			b, err := blobs.GetBlob(t.Context(), got.BlobKey)
			require.NoError(t, err)
			require.Equal(t, tc.want, b.Data)
		})
	}
}

// TestFetchMediaSizeAfterDownload: a message that lies about its length is
// still refused once the bytes are in.
func TestFetchMediaSizeAfterDownload(t *testing.T) {
	t.Parallel()
	plain := bytes.Repeat([]byte{1}, 4096)
	file, key := encryptMedia(t, plain, whatsmeow.MediaAudio)
	encSum := sha256.Sum256(file)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write(file) }))
	t.Cleanup(srv.Close)
	acts := gateway.NewMediaActivities(testkit.Logger(t), whatsmeow.NewClient(store.NoopDevice, nil),
		&memBlobs{blobs: map[string]wstore.Blob{}}, noSent{}, hasher, gateway.MediaLimits{Audio: 1000})
	_, err := acts.FetchMedia(t.Context(), message.FetchRequest{Account: "a", Chat: "1@s.whatsapp.net", MessageID: "X",
		Kind: message.KindVoice, Media: message.Media{URL: srv.URL, MediaKey: key, FileEncSHA256: encSum[:], Size: 10}})
	var appErr *temporal.ApplicationError
	require.True(t, errors.As(err, &appErr))
	require.Equal(t, string(errcode.FileTooLarge), appErr.Type())
}
