// Package openaifake is a local stand-in for the OpenAI API. It speaks the
// real wire format, so the real go-openai client talks to it unchanged. Every
// test that needs an LLM uses it, and `make dev` mounts its Handler when no
// OPENAI_API_KEY is configured.
//
// Endpoints (all under /v1): POST chat/completions (JSON or SSE with
// "stream": true), POST audio/transcriptions, POST audio/speech,
// POST images/generations, POST moderations, GET models, and
// GET images/files/{name} which serves the PNGs that "url" answers point at.
//
// Answers are deterministic. Markers a test can put in its input:
//
//   - Chat: the reply is "You said: <text of the last user message>", and each
//     image part adds "[image: <mime>, <n> bytes]" (decoded from its data URL)
//     or "[image: <url>]". SetReply replaces the text.
//   - Chat: "call:<tool> <json args>" in the last user message, when the
//     request declares a function tool named <tool>, answers with one tool
//     call (finish_reason "tool_calls"). When the last message is a tool
//     result, the reply is "Tool <name> returned: <content>".
//   - Chat: "REFUSE_ME" in the last user message answers with a refusal
//     (empty content, "refusal" set), like real models do.
//   - Moderation: input containing "FLAG_ME" is flagged (harassment).
//     An image prompt containing "FLAG_ME" is rejected with a 400
//     content_policy_violation, like DALL·E's safety system.
//   - Transcription: if the uploaded bytes contain "TRANSCRIPT:<text>", the
//     transcript is <text> (up to the first newline, NUL or end of file);
//     otherwise it is "Fake transcription of <n> bytes of audio.".
//     An empty file is rejected with a 400.
//   - Speech: "opus" answers a valid Ogg/Opus file of silence, "mp3" valid
//     MPEG-1 Layer III frames of silence, "wav" a 16-bit mono 24 kHz WAV of
//     silence, "pcm" raw 16-bit 24 kHz samples; the duration grows with the
//     input (60 ms a character, at least 0.2 s). Opus, mp3 and wav embed
//     "TRANSCRIPT:<input>" in their metadata, so transcribing the fake's own
//     speech gives back the input. aac and flac are rejected with a 400.
//   - Images: 64×64 PNGs whose colour derives from the prompt, as b64_json or
//     as a URL on this server (whatever size was asked for).
//
// Failures are injected with Enqueue, slowness with SetLatency, and a request
// can be held in flight with Hold. Requests records what clients sent.
package openaifake

import (
	"log/slog"
	"net/http"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// Option configures a Handler or a Server.
type Option func(*options)

type options struct {
	apiKey   string
	logger   *slog.Logger
	noRecord bool
}

// WithoutRecording keeps no log of requests (Requests returns none), so a
// long-running stand-in (make dev, the load benchmark) keeps flat memory.
func WithoutRecording() Option { return func(o *options) { o.noRecord = true } }

// WithAPIKey makes every API endpoint require "Authorization: Bearer <key>";
// a missing or wrong key gets OpenAI's 401 invalid_api_key answer.
func WithAPIKey(key string) Option { return func(o *options) { o.apiKey = key } }

// WithLogger logs each request at debug level (the default is no logging).
func WithLogger(l *slog.Logger) Option { return func(o *options) { o.logger = l } }

// Handler is the fake API as an http.Handler, mountable at the root of any mux
// or port. Its methods are safe for concurrent use.
type Handler struct {
	opts options
	mux  *http.ServeMux
	seq  atomic.Int64

	mu       sync.Mutex
	faults   []Fault
	holds    []*hold
	requests []Request
	latency  time.Duration
	reply    func(ChatRequest) string

	done      chan struct{}
	closeOnce sync.Once
}

// NewHandler returns the fake API handler.
func NewHandler(opts ...Option) *Handler {
	h := &Handler{mux: http.NewServeMux(), done: make(chan struct{})}
	for _, o := range opts {
		o(&h.opts)
	}
	if h.opts.logger == nil {
		h.opts.logger = slog.New(slog.DiscardHandler)
	}
	h.mux.HandleFunc("POST /v1/chat/completions", h.authed(h.chat))
	h.mux.HandleFunc("POST /v1/audio/transcriptions", h.authed(h.transcribe))
	h.mux.HandleFunc("POST /v1/audio/speech", h.authed(h.speech))
	h.mux.HandleFunc("POST /v1/images/generations", h.authed(h.images))
	h.mux.HandleFunc("POST /v1/moderations", h.authed(h.moderate))
	h.mux.HandleFunc("GET /v1/models", h.authed(h.models))
	h.mux.HandleFunc("GET /v1/images/files/{name}", h.imageFile)
	h.mux.HandleFunc("/", h.notFound)
	return h
}

// ServeHTTP implements http.Handler.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("X-Request-Id", "req_fake"+itoa(h.seq.Add(1)))
	h.opts.logger.DebugContext(r.Context(), "openaifake request",
		slog.String("method", r.Method), slog.String("path", r.URL.Path))
	h.mux.ServeHTTP(w, r)
}

// Close releases held and hanging requests; they answer 503. The handler
// keeps serving new requests.
func (h *Handler) Close() { h.closeOnce.Do(func() { close(h.done) }) }

// Fault is an injected failure for one request. The zero Fault injects
// nothing (it lets one request through).
type Fault struct {
	// Status answers with this HTTP status and OpenAI's error body for it:
	// 429 rate_limit_exceeded, 5xx server_error, 401 invalid_api_key,
	// 404 model_not_found, other 4xx invalid_request_error.
	Status int
	// Code overrides the error code, e.g. "insufficient_quota" with 429.
	Code string
	// RetryAfter sets the Retry-After header (whole seconds, rounded up).
	RetryAfter time.Duration
	// Body replaces the error body verbatim (e.g. a proxy's HTML page);
	// the status defaults to 502.
	Body string
	// Hang blocks until the client gives up (its context ends) or Close.
	Hang bool
	// Refuse answers a chat with a 200 refusal (empty content, "refusal"
	// set, finish_reason "stop"); an image request with a 400
	// content_policy_violation; other requests with a 400.
	Refuse bool
	// ContentFilter answers a chat with a 200, empty content and
	// finish_reason "content_filter"; other requests as Refuse does.
	ContentFilter bool
}

// Enqueue queues faults for the next chat, transcription, speech and image
// requests, one fault per request, in arrival order. Moderation and model
// listing never take a fault.
func (h *Handler) Enqueue(faults ...Fault) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.faults = append(h.faults, faults...)
}

// SetLatency delays every API answer by d (cut short if the client gives up).
func (h *Handler) SetLatency(d time.Duration) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.latency = d
}

// SetReply replaces the default chat reply text. It does not apply to tool
// calls, refusals or injected faults. nil restores the default.
func (h *Handler) SetReply(f func(ChatRequest) string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.reply = f
}

type hold struct {
	arrived  chan struct{}
	released chan struct{}
	once     sync.Once
}

// Hold makes the next chat request block once it has arrived (and been
// recorded) until release is called, the client gives up, or Close. arrived
// is closed when that request arrives. release is idempotent.
func (h *Handler) Hold() (arrived <-chan struct{}, release func()) {
	hd := &hold{arrived: make(chan struct{}), released: make(chan struct{})}
	h.mu.Lock()
	h.holds = append(h.holds, hd)
	h.mu.Unlock()
	return hd.arrived, func() { hd.once.Do(func() { close(hd.released) }) }
}

// ChatRequest is a decoded chat completion request, as SetReply sees it.
type ChatRequest struct {
	Model               string
	Messages            []Message
	Tools               []string // names of the declared function tools
	MaxCompletionTokens int
	MaxTokens           int // the deprecated max_tokens
	User                string
	Stream              bool
}

// Message is one decoded chat message.
type Message struct {
	Role       string
	Text       string // string content, or the text parts joined by "\n"
	Images     []Image
	ToolCalls  []ToolCall // an assistant's earlier tool calls
	ToolCallID string     // for role "tool"
}

// HasImage reports whether the message had an image part.
func (m Message) HasImage() bool { return len(m.Images) > 0 }

// Image is an image_url part of a message.
type Image struct {
	MIME string // from a data URL; "" for a remote URL
	Size int    // decoded bytes of a data URL
	URL  string // a remote URL; "" for a data URL
}

// ToolCall is a function call made by the assistant.
type ToolCall struct {
	ID, Name, Arguments string
}

// Request is what a client sent, recorded when it arrived (before any fault).
type Request struct {
	Method string
	Path   string
	Header http.Header
	Body   []byte // the JSON body; nil for multipart and GET requests
	Model  string
	// Chat is set for chat completions.
	Chat *ChatRequest
	// Input is the speech input, the image prompt or the moderation input
	// (several inputs joined by "\n").
	Input string
	// Voice of a speech request; Format is response_format; Language of a
	// transcription.
	Voice, Format, Language string
	// FileName and FileSize describe a transcription upload.
	FileName string
	FileSize int
	File     []byte // the uploaded bytes
}

// Requests returns the requests received so far, oldest first.
func (h *Handler) Requests() []Request {
	h.mu.Lock()
	defer h.mu.Unlock()
	return slices.Clone(h.requests)
}

func (h *Handler) record(r *http.Request, rec Request) {
	if h.opts.noRecord {
		return
	}
	rec.Method, rec.Path, rec.Header = r.Method, r.URL.Path, r.Header.Clone()
	h.mu.Lock()
	defer h.mu.Unlock()
	h.requests = append(h.requests, rec)
}

// admission says which controls apply to an endpoint.
type admission struct{ faultable, holdable bool }

// begin records rec and applies holds, latency and faults. It returns the
// fault the endpoint must still act on (Refuse, ContentFilter) and false when
// the request has already been answered.
func (h *Handler) begin(w http.ResponseWriter, r *http.Request, rec Request, adm admission) (Fault, bool) {
	h.record(r, rec)
	h.mu.Lock()
	var f Fault
	if adm.faultable && len(h.faults) > 0 {
		f, h.faults = h.faults[0], h.faults[1:]
	}
	var hd *hold
	if adm.holdable && len(h.holds) > 0 {
		hd, h.holds = h.holds[0], h.holds[1:]
	}
	latency := h.latency
	h.mu.Unlock()

	ctx := r.Context()
	if hd != nil {
		close(hd.arrived)
		select {
		case <-hd.released:
		case <-ctx.Done():
			return f, false
		case <-h.done:
			failRequest(w, http.StatusServiceUnavailable, serverError("the fake is shutting down"))
			return f, false
		}
	}
	if latency > 0 {
		t := time.NewTimer(latency)
		defer t.Stop()
		select {
		case <-t.C:
		case <-ctx.Done():
			return f, false
		case <-h.done:
		}
	}
	if f.Hang {
		select {
		case <-ctx.Done():
		case <-h.done:
			failRequest(w, http.StatusServiceUnavailable, serverError("the fake is shutting down"))
		}
		return f, false
	}
	if f.Status != 0 || f.Body != "" {
		writeFault(w, f)
		return f, false
	}
	return f, true
}
