package openaifake

import (
	"bytes"
	"cmp"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"regexp"
	"slices"
	"strings"
	"time"
	"unicode/utf8"
)

// Markers and fixed texts of the chat endpoint.
const (
	RefuseMarker = "REFUSE_ME"
	RefusalText  = "I'm sorry, I can't help with that."
	noUserText   = "Hello! I'm the openaifake model."
	maxBodyBytes = 32 << 20
)

// toolTrigger matches "call:<tool> <json args>" in a user message.
var toolTrigger = regexp.MustCompile(`(?s)call:([A-Za-z0-9_-]{1,64})(?:\s+(\{.*\}))?`)

type wireChatRequest struct {
	Model    string        `json:"model"`
	Messages []wireMessage `json:"messages"`
	Tools    []struct {
		Type     string `json:"type"`
		Function struct {
			Name string `json:"name"`
		} `json:"function"`
	} `json:"tools"`
	MaxTokens           int    `json:"max_tokens"`
	MaxCompletionTokens int    `json:"max_completion_tokens"`
	User                string `json:"user"`
	Stream              bool   `json:"stream"`
	StreamOptions       *struct {
		IncludeUsage bool `json:"include_usage"`
	} `json:"stream_options"`
}

type wireMessage struct {
	Role       string          `json:"role"`
	Content    json.RawMessage `json:"content"`
	ToolCalls  []wireToolCall  `json:"tool_calls"`
	ToolCallID string          `json:"tool_call_id"`
}

type wireToolCall struct {
	Index    *int         `json:"index,omitempty"`
	ID       string       `json:"id"`
	Type     string       `json:"type"`
	Function wireFunction `json:"function"`
}

type wireFunction struct {
	Name      string `json:"name"`
	Arguments string `json:"arguments"`
}

type wirePart struct {
	Type     string `json:"type"`
	Text     string `json:"text"`
	ImageURL *struct {
		URL string `json:"url"`
	} `json:"image_url"`
}

func (h *Handler) chat(w http.ResponseWriter, r *http.Request) {
	wr, body, ok := decodeBody[wireChatRequest](h, w, r)
	if !ok {
		return
	}
	cr, aerr := decodeChat(wr)
	rec := Request{Body: body, Model: wr.Model, Chat: &cr}
	if aerr != nil {
		h.record(r, rec)
		failRequest(w, http.StatusBadRequest, *aerr)
		return
	}
	f, ok := h.begin(w, r, rec, admission{faultable: true, holdable: true})
	if !ok {
		return
	}
	h.mu.Lock()
	reply := h.reply
	h.mu.Unlock()

	ans := answerChat(cr, f, reply)
	u := newUsage(promptTokens(cr), ans.tokens())
	if limit := cmp.Or(cr.MaxCompletionTokens, cr.MaxTokens); limit > 0 && ans.content != nil && u.CompletionTokens > limit {
		ans.content = new(truncateRunes(*ans.content, limit*4))
		ans.finish = "length"
		u = newUsage(u.PromptTokens, limit)
	}
	base := chatCompletion{
		ID:                "chatcmpl-fake" + itoa(h.seq.Add(1)),
		Created:           time.Now().Unix(),
		Model:             cr.Model,
		ServiceTier:       "default",
		SystemFingerprint: "fp_openaifake",
	}
	if cr.Stream {
		writeStream(w, base, ans, u, wr.StreamOptions != nil && wr.StreamOptions.IncludeUsage)
		return
	}
	base.Object = "chat.completion"
	base.Choices = []chatChoice{{Message: ans.message(), FinishReason: &ans.finish}}
	base.Usage = &u
	writeJSON(w, http.StatusOK, base)
}

func decodeChat(wr wireChatRequest) (ChatRequest, *apiError) {
	cr := ChatRequest{
		Model: wr.Model, MaxTokens: wr.MaxTokens, MaxCompletionTokens: wr.MaxCompletionTokens,
		User: wr.User, Stream: wr.Stream,
	}
	for _, t := range wr.Tools {
		if t.Type == "function" {
			cr.Tools = append(cr.Tools, t.Function.Name)
		}
	}
	if wr.Model == "" {
		return cr, new(invalidRequest("you must provide a model parameter", "", ""))
	}
	if len(wr.Messages) == 0 {
		return cr, new(invalidRequest("[] is too short - 'messages'", "messages", ""))
	}
	for i, wm := range wr.Messages {
		m, err := decodeMessage(wm)
		if err != nil {
			return cr, new(invalidRequest(err.Error(), fmt.Sprintf("messages[%d]", i), "invalid_value"))
		}
		cr.Messages = append(cr.Messages, m)
	}
	return cr, nil
}

func decodeMessage(wm wireMessage) (Message, error) {
	m := Message{Role: wm.Role, ToolCallID: wm.ToolCallID}
	switch wm.Role {
	case "system", "developer", "user", "assistant":
	case "tool":
		if wm.ToolCallID == "" {
			return m, fmt.Errorf("missing parameter 'tool_call_id': messages with role 'tool' must have a 'tool_call_id'")
		}
	default:
		return m, fmt.Errorf("invalid value: '%s'. Supported values are: 'system', 'assistant', 'user', 'tool', and 'developer'", wm.Role)
	}
	for _, tc := range wm.ToolCalls {
		m.ToolCalls = append(m.ToolCalls, ToolCall{ID: tc.ID, Name: tc.Function.Name, Arguments: tc.Function.Arguments})
	}
	content := bytes.TrimSpace(wm.Content)
	switch {
	case len(content) == 0 || string(content) == "null":
	case content[0] == '"':
		if err := json.Unmarshal(content, &m.Text); err != nil {
			return m, fmt.Errorf("invalid content: %w", err)
		}
	case content[0] == '[':
		var parts []wirePart
		if err := json.Unmarshal(content, &parts); err != nil {
			return m, fmt.Errorf("invalid content parts: %w", err)
		}
		var texts []string
		for _, p := range parts {
			switch p.Type {
			case "text":
				texts = append(texts, p.Text)
			case "image_url":
				if p.ImageURL == nil {
					return m, fmt.Errorf("missing required parameter: 'image_url'")
				}
				img, err := decodeImageURL(p.ImageURL.URL)
				if err != nil {
					return m, err
				}
				m.Images = append(m.Images, img)
			}
		}
		m.Text = strings.Join(texts, "\n")
	default:
		return m, fmt.Errorf("invalid type for content: expected a string or an array of parts")
	}
	return m, nil
}

// decodeImageURL checks an image_url the way OpenAI does: a data URL must be
// base64 of a supported image type.
func decodeImageURL(u string) (Image, error) {
	rest, ok := strings.CutPrefix(u, "data:")
	if !ok {
		if !strings.HasPrefix(u, "http://") && !strings.HasPrefix(u, "https://") {
			return Image{}, fmt.Errorf("invalid image URL: expected a data URL or an http(s) URL")
		}
		return Image{URL: u}, nil
	}
	meta, data, ok := strings.Cut(rest, ",")
	mime, isB64 := strings.CutSuffix(meta, ";base64")
	if !ok || !isB64 {
		return Image{}, fmt.Errorf("invalid base64 image_url")
	}
	switch mime {
	case "image/png", "image/jpeg", "image/gif", "image/webp":
	default:
		return Image{}, fmt.Errorf("invalid MIME type %q: only image/png, image/jpeg, image/gif and image/webp are supported", mime)
	}
	b, err := base64.StdEncoding.DecodeString(data)
	if err != nil || len(b) == 0 {
		return Image{}, fmt.Errorf("invalid base64 image_url")
	}
	return Image{MIME: mime, Size: len(b)}, nil
}

// answer is what the fake model says.
type answer struct {
	content   *string
	refusal   *string
	toolCalls []wireToolCall
	finish    string
}

func (a answer) tokens() int {
	n := 0
	if a.content != nil {
		n += estimateTokens(*a.content)
	}
	if a.refusal != nil {
		n += estimateTokens(*a.refusal)
	}
	for _, tc := range a.toolCalls {
		n += estimateTokens(tc.Function.Name+tc.Function.Arguments) + 3
	}
	return n
}

func (a answer) message() chatMessage {
	return chatMessage{Role: "assistant", Content: a.content, Refusal: a.refusal, ToolCalls: a.toolCalls, Annotations: []any{}}
}

func answerChat(cr ChatRequest, f Fault, reply func(ChatRequest) string) answer {
	switch {
	case f.ContentFilter:
		return answer{content: new(""), finish: "content_filter"}
	case f.Refuse:
		return answer{refusal: new(RefusalText), finish: "stop"}
	}
	last := cr.Messages[len(cr.Messages)-1]
	if last.Role == "tool" {
		return answer{content: new(toolResultReply(cr.Messages)), finish: "stop"}
	}
	user, ok := lastUser(cr.Messages)
	if ok && last.Role == "user" {
		if strings.Contains(user.Text, RefuseMarker) {
			return answer{refusal: new(RefusalText), finish: "stop"}
		}
		if m := toolTrigger.FindStringSubmatch(user.Text); m != nil && slices.Contains(cr.Tools, m[1]) {
			args := m[2]
			if !json.Valid([]byte(args)) {
				args = "{}"
			}
			sum := sha256.Sum256([]byte(m[1] + "\x00" + args))
			return answer{finish: "tool_calls", toolCalls: []wireToolCall{{
				ID: "call_" + hex.EncodeToString(sum[:12]), Type: "function",
				Function: wireFunction{Name: m[1], Arguments: args},
			}}}
		}
	}
	if reply != nil {
		return answer{content: new(reply(cr)), finish: "stop"}
	}
	if !ok {
		return answer{content: new(noUserText), finish: "stop"}
	}
	return answer{content: new(defaultReply(user)), finish: "stop"}
}

func defaultReply(m Message) string {
	parts := []string{"You said:"}
	if m.Text != "" {
		parts = append(parts, m.Text)
	}
	for _, img := range m.Images {
		if img.URL != "" {
			parts = append(parts, fmt.Sprintf("[image: %s]", img.URL))
		} else {
			parts = append(parts, fmt.Sprintf("[image: %s, %d bytes]", img.MIME, img.Size))
		}
	}
	return strings.Join(parts, " ")
}

func lastUser(msgs []Message) (Message, bool) {
	for i := len(msgs) - 1; i >= 0; i-- {
		if msgs[i].Role == "user" {
			return msgs[i], true
		}
	}
	return Message{}, false
}

// toolResultReply describes the trailing tool results.
func toolResultReply(msgs []Message) string {
	names := map[string]string{}
	for _, m := range msgs {
		for _, tc := range m.ToolCalls {
			names[tc.ID] = tc.Name
		}
	}
	var lines []string
	for i := len(msgs) - 1; i >= 0 && msgs[i].Role == "tool"; i-- {
		name := cmp.Or(names[msgs[i].ToolCallID], "unknown")
		lines = append(lines, fmt.Sprintf("Tool %s returned: %s", name, msgs[i].Text))
	}
	slices.Reverse(lines)
	return strings.Join(lines, "\n")
}

// estimateTokens counts roughly four characters a token.
func estimateTokens(s string) int {
	if s == "" {
		return 0
	}
	return (utf8.RuneCountInString(s) + 3) / 4
}

func promptTokens(cr ChatRequest) int {
	n := 3
	for _, m := range cr.Messages {
		n += 4 + estimateTokens(m.Text) + 85*len(m.Images)
	}
	return n
}

func truncateRunes(s string, n int) string {
	for i := range s {
		if n == 0 {
			return s[:i]
		}
		n--
	}
	return s
}
