package localchat

import (
	"embed"
	"encoding/json"
	"errors"
	"mime"
	"net/http"
	"strconv"
	"strings"
	"time"
)

//go:embed page.html
var page embed.FS

// maxBody bounds an API request body: an attachment (base64) fits, the
// gateway's own size limits apply after.
const maxBody = 40 << 20

// Status is what the page shows in its banner.
type Status struct {
	Banner string `json:"banner,omitempty"` // e.g. that the LLM is the offline stand-in
	UIURL  string `json:"ui_url,omitempty"` // the Temporal Web UI
}

// Handler serves the page and the JSON API, every request checked by the
// guard (guard.go): API calls carry the session token from /api/status in
// the X-Wabot-Token header, and POST bodies are application/json.
//
//	GET  /api/status    → {"banner":"…","ui_url":"…","token":"<session token>","local_numbers":false}
//	POST /api/login     {"token":"<LOCALCHAT_TOKEN>"} → sets the access cookie
//	POST /api/send      {"from":"15550100","name":"Ann","text":"hello","id":"optional",
//	                     "media":{"kind":"image|document|voice|audio","mime":"…","name":"a.pdf","data":"<base64>"}} → {"id":"…"}
//	GET  /media/{n}     the bytes of an attachment or of media the bot sent
//	GET  /api/messages?chat=15550100&after=0&wait=10s → {"messages":[…],"typing":false}
//	GET  /api/document/{id} → a document the bot sent (e.g. an /export ZIP)
func (t *Transport) Handler(opts Options) http.Handler {
	g := newGuard(opts)
	mux := http.NewServeMux()
	mux.Handle("GET /", http.FileServerFS(page))
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) {
		http.ServeFileFS(w, r, page, "page.html")
	})
	mux.HandleFunc("GET /api/status", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Cache-Control", "no-store")
		writeJSON(w, http.StatusOK, struct {
			Status
			Token        string `json:"token"`
			LocalNumbers bool   `json:"local_numbers"`
		}{opts.Status, g.session, opts.LocalNumbersOnly})
	})
	mux.HandleFunc("POST /api/login", func(w http.ResponseWriter, r *http.Request) {
		var req struct {
			Token string `json:"token"`
		}
		if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 4<<10)).Decode(&req); err != nil {
			writeJSON(w, http.StatusBadRequest, map[string]string{"error": "body must be JSON with token"})
			return
		}
		g.login(w, r, req.Token)
	})
	mux.HandleFunc("POST /api/send", func(w http.ResponseWriter, r *http.Request) {
		var req struct {
			From  string `json:"from"`
			Name  string `json:"name"`
			Text  string `json:"text"`
			ID    string `json:"id"`
			Media *struct {
				Kind    string `json:"kind"`
				Mime    string `json:"mime"`
				Name    string `json:"name"`
				Data    []byte `json:"data"` // base64 in JSON
				Seconds uint32 `json:"seconds"`
			} `json:"media"`
		}
		if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxBody)).Decode(&req); err != nil {
			writeJSON(w, http.StatusBadRequest, map[string]string{"error": "body must be JSON with from and text"})
			return
		}
		if opts.LocalNumbersOnly && !strings.HasPrefix(strings.TrimPrefix(strings.TrimSpace(req.From), "+"), "0") {
			g.refuse(w, r, http.StatusForbidden, ErrRealNumber.Error())
			return
		}
		in := Incoming{From: req.From, PushName: req.Name, Text: req.Text, ID: req.ID}
		if m := req.Media; m != nil {
			in.Media = &Attachment{Kind: m.Kind, Mime: m.Mime, FileName: m.Name, Data: m.Data, Seconds: m.Seconds}
		}
		id, err := t.Receive(r.Context(), in)
		switch {
		case errors.Is(err, ErrNotAccepted):
			writeJSON(w, http.StatusServiceUnavailable, map[string]string{"id": id, "error": err.Error()})
		case err != nil:
			writeJSON(w, http.StatusBadRequest, map[string]string{"error": err.Error()})
		default:
			writeJSON(w, http.StatusAccepted, map[string]string{"id": id})
		}
	})
	mux.HandleFunc("GET /api/document/{id}", func(w http.ResponseWriter, r *http.Request) {
		doc, ok := t.document(r.PathValue("id"))
		if !ok {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Type", "application/octet-stream")
		w.Header().Set("Content-Disposition", mime.FormatMediaType("attachment", map[string]string{"filename": doc.FileName}))
		_, _ = w.Write(doc.Document)
	})
	mux.HandleFunc("GET /media/{n}", func(w http.ResponseWriter, r *http.Request) {
		data, mime, ok := t.mediaBytes("/media/" + r.PathValue("n"))
		if !ok {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Type", mime)
		w.Header().Set("X-Content-Type-Options", "nosniff")
		_, _ = w.Write(data)
	})
	mux.HandleFunc("GET /api/messages", func(w http.ResponseWriter, r *http.Request) {
		chat := r.URL.Query().Get("chat")
		after, _ := strconv.Atoi(r.URL.Query().Get("after"))
		wait, _ := time.ParseDuration(r.URL.Query().Get("wait"))
		wait = min(wait, 30*time.Second)
		changed := t.Changed()
		msgs, typing := t.Messages(chat, after)
		if len(msgs) == 0 && wait > 0 { // long poll
			timer := time.NewTimer(wait)
			defer timer.Stop()
			select {
			case <-changed:
			case <-timer.C:
			case <-r.Context().Done():
			}
			msgs, typing = t.Messages(chat, after)
		}
		if msgs == nil {
			msgs = []ChatMessage{}
		}
		writeJSON(w, http.StatusOK, map[string]any{"messages": msgs, "typing": typing})
	})
	return g.wrap(mux)
}

// ErrRealNumber refuses a real phone number on the page while a real
// WhatsApp number is linked (Options.LocalNumbersOnly).
var ErrRealNumber = errors.New("a real WhatsApp number is linked: this page sends only as numbers starting with 0 " +
	"(no real number does); set LOCALCHAT_REAL_NUMBERS=true to allow real ones")

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}
