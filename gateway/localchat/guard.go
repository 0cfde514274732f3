package localchat

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"log/slog"
	"mime"
	"net/http"
	"net/url"
	"strings"

	"github.com/wabot/wabot/internal/loopback"
	"github.com/wabot/wabot/internal/secret"
)

// The chat page's API acts as any phone number it is told, so it must only
// ever be driven by the page itself. A guard in front of every request
// refuses, with 403 and a log line naming the reason (never the message):
//
//   - a Host that is not a loopback name while the page listens on loopback,
//     so a DNS-rebinding site (evil.example resolving to 127.0.0.1) gets nothing;
//   - a browser request from another site (Sec-Fetch-Site, or an Origin whose
//     host is not the Host), except a plain navigation to the page;
//   - an API call without the per-process session token, which only a
//     same-origin script can read from /api/status;
//   - a POST whose body is not application/json (a cross-site form or a
//     text/plain "simple request" could otherwise skip the CORS preflight);
//   - with an access token (LOCALCHAT_TOKEN), any request but the page and
//     the login without the cookie that the login sets (401, so the page asks).

const (
	// TokenHeader carries the per-process session token on every API call.
	TokenHeader = "X-Wabot-Token"
	// accessCookie holds proof of the access token (LOCALCHAT_TOKEN).
	accessCookie = "wabot_access"
)

// Options configure the chat page's server.
type Options struct {
	Status Status
	Logger *slog.Logger // nil: nothing is logged
	// Addr is the address the server listens on. On a loopback address only
	// loopback Host headers are served (DNS rebinding).
	Addr string
	// AccessToken (LOCALCHAT_TOKEN), when set, is asked for once by the page
	// and required on every request but the page itself.
	AccessToken secret.String
	// LocalNumbersOnly lets the page send only as numbers starting with 0,
	// which no real phone number does: with a real WhatsApp number linked the
	// page then never acts as a real person (their role, memory, data).
	LocalNumbersOnly bool
}

// guard checks every request; see the comment at the top of this file.
type guard struct {
	logger       *slog.Logger
	loopbackOnly bool
	session      string // per-process token the page sends in TokenHeader
	access       string // expected accessCookie value; empty: no access token
	accessToken  []byte
}

func newGuard(o Options) *guard {
	g := &guard{logger: o.Logger, loopbackOnly: o.Addr == "" || loopback.Addr(o.Addr), session: rand.Text()}
	if g.logger == nil {
		g.logger = slog.New(slog.DiscardHandler)
	}
	if o.AccessToken.IsSet() {
		g.accessToken = []byte(o.AccessToken.Reveal())
		// The cookie proves the token without being it, and survives a restart.
		mac := hmac.New(sha256.New, g.accessToken)
		mac.Write([]byte("wabot localchat access"))
		g.access = hex.EncodeToString(mac.Sum(nil))
	}
	return g
}

// refuse answers 403 (or 401 when the access token is missing) and logs why:
// method, path and the headers checked, never the body or the query (which
// names a chat).
func (g *guard) refuse(w http.ResponseWriter, r *http.Request, status int, reason string) {
	g.logger.WarnContext(r.Context(), "localchat request refused",
		slog.String("reason", reason), slog.String("method", r.Method), slog.String("path", r.URL.Path),
		slog.String("host", r.Host), slog.String("origin", r.Header.Get("Origin")),
		slog.String("sec_fetch_site", r.Header.Get("Sec-Fetch-Site")), slog.Int("status", status))
	writeJSON(w, status, map[string]string{"error": reason})
}

// wrap protects next. Paths: "/" is the page; "/api/login" takes the access
// token; "/api/status" hands out the session token; other "/api/" paths need
// the session token; the rest (media, documents) are plain GETs.
func (g *guard) wrap(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if g.loopbackOnly && !loopback.Host(r.Host) {
			g.refuse(w, r, http.StatusForbidden, "host not allowed")
			return
		}
		page := r.Method == http.MethodGet && r.URL.Path == "/"
		if !(page && r.Header.Get("Sec-Fetch-Mode") == "navigate") && crossSite(r) {
			g.refuse(w, r, http.StatusForbidden, "cross-site request")
			return
		}
		if r.Method != http.MethodGet && r.Method != http.MethodHead && !isJSON(r.Header.Get("Content-Type")) {
			g.refuse(w, r, http.StatusForbidden, "content type must be application/json")
			return
		}
		if g.access != "" && !page && r.URL.Path != "/api/login" && !g.hasAccess(r) {
			g.refuse(w, r, http.StatusUnauthorized, "access token required")
			return
		}
		api := strings.HasPrefix(r.URL.Path, "/api/") && r.URL.Path != "/api/status" && r.URL.Path != "/api/login" &&
			!strings.HasPrefix(r.URL.Path, "/api/document/")
		if api && !equal(r.Header.Get(TokenHeader), g.session) {
			g.refuse(w, r, http.StatusForbidden, "session token missing or wrong")
			return
		}
		if page {
			w.Header().Set("X-Frame-Options", "DENY")
			w.Header().Set("Content-Security-Policy", "frame-ancestors 'none'")
			w.Header().Set("Cache-Control", "no-store")
		}
		w.Header().Set("Referrer-Policy", "no-referrer")
		next.ServeHTTP(w, r)
	})
}

// login checks the access token and sets the cookie that proves it.
func (g *guard) login(w http.ResponseWriter, r *http.Request, token string) {
	if g.access == "" || !equal(token, string(g.accessToken)) {
		g.refuse(w, r, http.StatusForbidden, "wrong access token")
		return
	}
	http.SetCookie(w, &http.Cookie{Name: accessCookie, Value: g.access, Path: "/", HttpOnly: true,
		SameSite: http.SameSiteStrictMode, Secure: r.TLS != nil})
	writeJSON(w, http.StatusOK, map[string]string{})
}

func (g *guard) hasAccess(r *http.Request) bool {
	c, err := r.Cookie(accessCookie)
	return err == nil && equal(c.Value, g.access)
}

func equal(got, want string) bool {
	return want != "" && subtle.ConstantTimeCompare([]byte(got), []byte(want)) == 1
}

// crossSite reports a browser request made by another site: Sec-Fetch-Site
// other than same-origin or none (typed URL, bookmark), or, from browsers
// that do not send it, an Origin whose host is not the Host. Clients that
// are not browsers send neither.
func crossSite(r *http.Request) bool {
	switch r.Header.Get("Sec-Fetch-Site") {
	case "", "same-origin", "none":
	default:
		return true
	}
	origin := r.Header.Get("Origin")
	if origin == "" {
		return false
	}
	u, err := url.Parse(origin)
	return err != nil || u.Host != r.Host
}

func isJSON(contentType string) bool {
	mt, _, err := mime.ParseMediaType(contentType)
	return err == nil && mt == "application/json"
}
