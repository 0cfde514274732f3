package localchat_test

import (
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/wabot/wabot/gateway/localchat"
	"github.com/wabot/wabot/internal/secret"
	"github.com/wabot/wabot/internal/testkit"
)

// guarded is a chat page server whose gateway handler counts the messages
// it would start workflows for, and whose log is kept.
type guarded struct {
	srv *httptest.Server
	h   *handler
	log *testkit.LockedBuffer
}

func setupGuarded(t *testing.T, opts localchat.Options) guarded {
	t.Helper()
	tr := localchat.New(nil)
	h := &handler{ack: true}
	tr.SetHandler(h.handle)
	g := guarded{h: h, log: &testkit.LockedBuffer{}}
	opts.Logger = slog.New(slog.NewJSONHandler(g.log, nil))
	g.srv = httptest.NewServer(tr.Handler(opts))
	t.Cleanup(g.srv.Close)
	return g
}

func (g guarded) events() int {
	g.h.mu.Lock()
	defer g.h.mu.Unlock()
	return len(g.h.events)
}

// do sends a request with the given headers ("Host" sets the Host header).
func (g guarded) do(t *testing.T, method, path, body string, headers map[string]string) *http.Response {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), method, g.srv.URL+path, strings.NewReader(body))
	require.NoError(t, err)
	for k, v := range headers {
		if k == "Host" {
			req.Host = v
			continue
		}
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	t.Cleanup(func() { _ = resp.Body.Close() })
	return resp
}

const sudo = `{"from":"15550100","text":"/sudo"}`

// The attack of issue 16: any web site open in the same browser posts
// {"from":"<owner>","text":"/sudo"} to the chat page. Every variant is
// refused with 403 and a log line without the message, and reaches no
// gateway handler (so starts no workflow); the page's own calls still work.
func TestCrossSiteRequestsAreRefused(t *testing.T) {
	t.Parallel()
	g := setupGuarded(t, localchat.Options{Addr: "127.0.0.1:8080"})
	token := sessionToken(t, g.srv)
	page := map[string]string{"Content-Type": "application/json", "Origin": g.srv.URL, "Sec-Fetch-Site": "same-origin", localchat.TokenHeader: token}
	with := func(changes map[string]string) map[string]string {
		h := map[string]string{}
		for k, v := range page {
			h[k] = v
		}
		for k, v := range changes {
			if v == "" {
				delete(h, k)
			} else {
				h[k] = v
			}
		}
		return h
	}
	for _, c := range []struct {
		name, method, path, body, reason string
		headers                          map[string]string
	}{
		{"cross-origin text/plain simple request", "POST", "/api/send", sudo, "cross-site request",
			map[string]string{"Content-Type": "text/plain", "Origin": "https://evil.example", "Sec-Fetch-Site": "cross-site"}},
		{"text/plain even from the same origin", "POST", "/api/send", sudo, "content type must be application/json",
			with(map[string]string{"Content-Type": "text/plain;charset=UTF-8"})},
		{"form post", "POST", "/api/send", "from=15550100&text=/sudo", "content type must be application/json",
			with(map[string]string{"Content-Type": "application/x-www-form-urlencoded"})},
		{"no session token", "POST", "/api/send", sudo, "session token missing or wrong",
			with(map[string]string{localchat.TokenHeader: ""})},
		{"wrong session token", "POST", "/api/send", sudo, "session token missing or wrong",
			with(map[string]string{localchat.TokenHeader: "guess"})},
		{"foreign Host (DNS rebinding)", "POST", "/api/send", sudo, "host not allowed",
			with(map[string]string{"Host": "evil.example:8080", "Origin": "http://evil.example:8080"})},
		{"Origin of another site, no Sec-Fetch-Site", "POST", "/api/send", sudo, "cross-site request",
			with(map[string]string{"Sec-Fetch-Site": "", "Origin": "https://evil.example"})},
		{"same-site but another origin", "POST", "/api/send", sudo, "cross-site request",
			with(map[string]string{"Sec-Fetch-Site": "same-site"})},
		{"cross-site read of the session token", "GET", "/api/status", "", "cross-site request",
			map[string]string{"Origin": "https://evil.example", "Sec-Fetch-Site": "cross-site"}},
		{"rebinding read of the session token", "GET", "/api/status", "", "host not allowed",
			map[string]string{"Host": "evil.example"}},
		{"cross-site read of a chat", "GET", "/api/messages?chat=15550100", "", "cross-site request",
			map[string]string{"Sec-Fetch-Site": "cross-site", localchat.TokenHeader: token}},
		{"cross-site media embed", "GET", "/media/1", "", "cross-site request",
			map[string]string{"Sec-Fetch-Site": "cross-site", "Sec-Fetch-Mode": "no-cors"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			resp := g.do(t, c.method, c.path, c.body, c.headers)
			require.Equal(t, http.StatusForbidden, resp.StatusCode)
			var out map[string]string
			require.NoError(t, json.NewDecoder(resp.Body).Decode(&out))
			require.Equal(t, c.reason, out["error"])
			require.Contains(t, g.log.String(), `"reason":"`+c.reason+`"`)
		})
	}
	require.Zero(t, g.events(), "no refused request reached the gateway")
	log := g.log.String()
	require.Equal(t, 12, strings.Count(log, `"msg":"localchat request refused"`))
	for _, private := range []string{"/sudo", "15550100", token} {
		require.NotContains(t, log, private, "the log names neither the message, the number nor the token")
	}

	// The page itself still works: served on navigation (even from a link on
	// another site), framing refused; its calls are accepted.
	resp := g.do(t, "GET", "/", "", map[string]string{"Sec-Fetch-Site": "cross-site", "Sec-Fetch-Mode": "navigate"})
	require.Equal(t, http.StatusOK, resp.StatusCode)
	require.Equal(t, "DENY", resp.Header.Get("X-Frame-Options"))
	body, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	require.Contains(t, string(body), "X-Wabot-Token", "the page sends the token")
	resp = g.do(t, "POST", "/api/send", sudo, page)
	require.Equal(t, http.StatusAccepted, resp.StatusCode)
	resp = g.do(t, "GET", "/api/messages?chat=15550100", "", with(map[string]string{"Content-Type": "", "Origin": "", "Host": "localhost"}))
	require.Equal(t, http.StatusOK, resp.StatusCode)
	require.Equal(t, 1, g.events())
}

// Beyond loopback (LOCALCHAT_TOKEN set), the page asks for the access token
// once: everything but the page and the login answers 401 until the login
// set its cookie; a wrong token is refused.
func TestAccessTokenIsAskedOnce(t *testing.T) {
	t.Parallel()
	const access = "correct-horse-battery-staple"
	g := setupGuarded(t, localchat.Options{Addr: "0.0.0.0:8080", AccessToken: secret.New(access)})
	require.Equal(t, http.StatusOK, g.do(t, "GET", "/", "", nil).StatusCode)
	require.Equal(t, http.StatusUnauthorized, g.do(t, "GET", "/api/status", "", nil).StatusCode)
	require.Equal(t, http.StatusUnauthorized, g.do(t, "GET", "/media/1", "", nil).StatusCode)

	login := func(token string) *http.Response {
		b, err := json.Marshal(map[string]string{"token": token})
		require.NoError(t, err)
		return g.do(t, "POST", "/api/login", string(b), map[string]string{"Content-Type": "application/json"})
	}
	require.Equal(t, http.StatusForbidden, login("correct-horse-battery-stapl").StatusCode)
	resp := login(access)
	require.Equal(t, http.StatusOK, resp.StatusCode)
	cookies := resp.Cookies()
	require.Len(t, cookies, 1)
	require.True(t, cookies[0].HttpOnly)
	require.Equal(t, http.SameSiteStrictMode, cookies[0].SameSite)
	require.NotContains(t, cookies[0].Value, access, "the cookie proves the token without being it")
	cookie := cookies[0].Name + "=" + cookies[0].Value

	resp = g.do(t, "GET", "/api/status", "", map[string]string{"Cookie": cookie, "Host": "devbox.lan:8080"})
	require.Equal(t, http.StatusOK, resp.StatusCode, "beyond loopback the token, not the Host, is the defence")
	var st struct{ Token string }
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&st))
	headers := map[string]string{"Cookie": cookie, "Content-Type": "application/json", localchat.TokenHeader: st.Token}
	require.Equal(t, http.StatusAccepted, g.do(t, "POST", "/api/send", sudo, headers).StatusCode)
	delete(headers, "Cookie")
	require.Equal(t, http.StatusUnauthorized, g.do(t, "POST", "/api/send", sudo, headers).StatusCode)
	require.Equal(t, 1, g.events())
	require.NotContains(t, g.log.String(), access)
}

// With a real WhatsApp number linked (LocalNumbersOnly), the page sends only
// as numbers starting with 0, which no real number does: it cannot act as
// a real person with their role.
func TestLocalNumbersOnlyWhileWhatsAppIsLinked(t *testing.T) {
	t.Parallel()
	g := setupGuarded(t, localchat.Options{LocalNumbersOnly: true})
	token := sessionToken(t, g.srv)
	headers := map[string]string{"Content-Type": "application/json", localchat.TokenHeader: token}
	for _, from := range []string{"15550100", "+4915112345678", " 4915112345678"} {
		b, err := json.Marshal(map[string]string{"from": from, "text": "/sudo"})
		require.NoError(t, err)
		resp := g.do(t, "POST", "/api/send", string(b), headers)
		require.Equal(t, http.StatusForbidden, resp.StatusCode, from)
		msg, err := io.ReadAll(resp.Body)
		require.NoError(t, err)
		require.Contains(t, string(msg), "LOCALCHAT_REAL_NUMBERS")
	}
	require.Zero(t, g.events())
	require.NotContains(t, g.log.String(), "4915112345678")
	resp := g.do(t, "POST", "/api/send", `{"from":"015550100","text":"/sudo"}`, headers)
	require.Equal(t, http.StatusAccepted, resp.StatusCode)
	require.Equal(t, 1, g.events())

	resp = g.do(t, "GET", "/api/status", "", nil)
	var st struct {
		LocalNumbers bool `json:"local_numbers"`
	}
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&st))
	require.True(t, st.LocalNumbers, "the page learns to offer a local number")
}
