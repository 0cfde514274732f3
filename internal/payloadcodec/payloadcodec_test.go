package payloadcodec_test

import (
	"bytes"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	commonpb "go.temporal.io/api/common/v1"
	"go.temporal.io/sdk/converter"

	"github.com/wabot/wabot/internal/payloadcodec"
	"github.com/wabot/wabot/internal/secret"
)

func codec(t *testing.T, keys string) *payloadcodec.Codec {
	t.Helper()
	ks, err := payloadcodec.ParseKeys(keys)
	require.NoError(t, err)
	c, err := payloadcodec.New(ks)
	require.NoError(t, err)
	return c
}

func TestRoundTripHidesPlainText(t *testing.T) {
	t.Parallel()
	c := codec(t, payloadcodec.NewKey("k1"))
	dc := converter.NewCodecDataConverter(converter.GetDefaultDataConverter(), c)
	p, err := dc.ToPayload(map[string]string{"text": "my secret diary"})
	require.NoError(t, err)
	require.NotContains(t, string(p.GetData()), "secret diary")
	require.Equal(t, payloadcodec.Encoding, string(p.GetMetadata()["encoding"]))
	var got map[string]string
	require.NoError(t, dc.FromPayload(p, &got))
	require.Equal(t, "my secret diary", got["text"])
}

func TestKeyRotation(t *testing.T) {
	t.Parallel()
	old, fresh := payloadcodec.NewKey("old"), payloadcodec.NewKey("new")
	before := codec(t, old)
	enc, err := before.Encode([]*commonpb.Payload{{Data: []byte("hello")}})
	require.NoError(t, err)

	after := codec(t, fresh+","+old)
	dec, err := after.Decode(enc)
	require.NoError(t, err, "old keys still decrypt")
	require.Equal(t, "hello", string(dec[0].GetData()))
	enc2, err := after.Encode([]*commonpb.Payload{{Data: []byte("hello")}})
	require.NoError(t, err)
	require.Equal(t, "new", string(enc2[0].GetMetadata()["encryption-key-id"]), "the first key encrypts")

	_, err = codec(t, fresh).Decode(enc)
	require.ErrorContains(t, err, `no key "old"`)
	plain := []*commonpb.Payload{{Metadata: map[string][]byte{"encoding": []byte("json/plain")}, Data: []byte(`1`)}}
	dec, err = after.Decode(plain)
	require.NoError(t, err)
	require.Equal(t, plain, dec, "unencrypted payloads pass through")
}

func TestParseKeysErrors(t *testing.T) {
	t.Parallel()
	for _, bad := range []string{"nokey", "k1:short", "k1:" + strings.Repeat("A", 44) + ",k1:" + strings.Repeat("A", 44), ":abc"} {
		_, err := payloadcodec.ParseKeys(bad)
		require.Error(t, err, bad)
	}
	cfg := payloadcodec.Config{Keys: secret.New("k1:c2VjcmV0"), Token: secret.New("short")}
	errs := cfg.Validate()
	require.Len(t, errs, 2)
	require.NotContains(t, errs[0].Error(), "c2VjcmV0", "errors never quote key material")
}

func TestHandler(t *testing.T) {
	t.Parallel()
	c := codec(t, payloadcodec.NewKey("k1"))
	const token = "0123456789abcdef-token"
	srv := httptest.NewServer(payloadcodec.Handler(c, token, []string{"http://ui.example"}))
	t.Cleanup(srv.Close)

	enc, err := c.Encode([]*commonpb.Payload{{Metadata: map[string][]byte{"encoding": []byte("json/plain")}, Data: []byte(`"hi there"`)}})
	require.NoError(t, err)
	remote := func(tok string) converter.PayloadCodec {
		return converter.NewRemotePayloadCodec(converter.RemotePayloadCodecOptions{
			Endpoint: srv.URL + payloadcodec.Path,
			ModifyRequest: func(r *http.Request) error {
				if tok != "" {
					r.Header.Set("Authorization", "Bearer "+tok)
				}
				return nil
			},
		})
	}
	dec, err := remote(token).Decode(enc)
	require.NoError(t, err)
	require.Equal(t, `"hi there"`, string(dec[0].GetData()))
	back, err := remote(token).Encode(dec)
	require.NoError(t, err)
	again, err := c.Decode(back)
	require.NoError(t, err)
	require.Equal(t, `"hi there"`, string(again[0].GetData()))

	for _, tok := range []string{"", "wrong-token-wrong-token"} {
		_, err = remote(tok).Decode(enc)
		require.Error(t, err, "token %q", tok)
	}

	// A browser preflight from the UI's origin gets CORS headers, others none.
	for origin, want := range map[string]string{"http://ui.example": "http://ui.example", "http://evil.example": ""} {
		req, err := http.NewRequestWithContext(t.Context(), http.MethodOptions, srv.URL+payloadcodec.Path+"/decode", nil)
		require.NoError(t, err)
		req.Header.Set("Origin", origin)
		resp, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		require.NoError(t, resp.Body.Close())
		require.Equal(t, want, resp.Header.Get("Access-Control-Allow-Origin"))
	}
	req, err := http.NewRequestWithContext(t.Context(), http.MethodPost, srv.URL+payloadcodec.Path+"/decode", bytes.NewReader([]byte(`{}`)))
	require.NoError(t, err)
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	require.NoError(t, resp.Body.Close())
	require.Equal(t, http.StatusUnauthorized, resp.StatusCode)
}
