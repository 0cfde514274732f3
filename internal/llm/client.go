// Package llm is the bot's client for OpenAI's API (or any compatible
// endpoint): chat with optional vision, transcription, speech, image
// generation and moderation, over go-openai. Every error it returns is an
// *Error that says whether a retry can help (rate limits, outages, timeouts)
// or not (a rejected request or key, a refusal), with a stable errcode.Code.
package llm

import (
	"bytes"
	"cmp"
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/sashabaranov/go-openai"

	"github.com/wabot/wabot/internal/errcode"
)

// MaxSpeechInput is the longest text Speak accepts, in characters.
const MaxSpeechInput = 4096

const maxSpeechBytes = 25 << 20

// Client calls the API. It is safe for concurrent use.
type Client struct {
	logger *slog.Logger
	cfg    Config
	api    *openai.Client
}

// New returns a Client for cfg; logger may be nil.
func New(logger *slog.Logger, cfg Config) (*Client, error) {
	errs := cfg.Validate()
	if !cfg.APIKey.IsSet() && cfg.BaseURL == "" {
		// Checked here, not in Validate: processes that never call the LLM
		// (migrate, gateway, config) need no key.
		errs = append(errs, errors.New("OPENAI_API_KEY: required unless OPENAI_BASE_URL points at another OpenAI-compatible endpoint"))
	}
	if len(errs) > 0 {
		return nil, fmt.Errorf("llm config: %w", errors.Join(errs...))
	}
	cfg = cfg.withDefaults()
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	oc := openai.DefaultConfig(cfg.APIKey.Reveal())
	if cfg.BaseURL != "" {
		oc.BaseURL = strings.TrimRight(cfg.BaseURL, "/")
	}
	base, ok := http.DefaultTransport.(*http.Transport)
	if !ok {
		return nil, errors.New("llm: http.DefaultTransport is not an *http.Transport")
	}
	oc.HTTPClient = &http.Client{Timeout: cfg.Timeout, Transport: captureTransport{base: base.Clone()}}
	return &Client{logger: logger, cfg: cfg, api: openai.NewClientWithConfig(oc)}, nil
}

func (c *Client) classifier(op string) classifier {
	return classifier{op: op, apiKey: c.cfg.APIKey.Reveal()}
}

// Message is one chat message.
type Message struct {
	Role    string // "system", "user", "assistant" or "tool"
	Content string
	// ImageDataURL is an optional image ("data:image/jpeg;base64,…") sent as
	// a vision part after Content.
	ImageDataURL string
}

// ChatRequest is one chat completion.
type ChatRequest struct {
	Model     string // "" = Config.Model, or Config.VisionModel when a message has an image
	System    string // sent first as a system message when set
	Messages  []Message
	MaxTokens int    // 0 = Config.MaxTokens
	User      string // hashed user id, for the API's abuse tracking
}

// ChatResponse is the model's answer. Text may be empty when FinishReason is
// "length" (the token budget ran out first).
type ChatResponse struct {
	Text                           string
	Model                          string
	PromptTokens, CompletionTokens int
	FinishReason                   string
}

// Chat asks for one completion. A refusal is an *Error with code LLMRefused.
func (c *Client) Chat(ctx context.Context, req ChatRequest) (ChatResponse, error) {
	cl := c.classifier("chat completion")
	msgs := make([]openai.ChatCompletionMessage, 0, len(req.Messages)+1)
	if req.System != "" {
		msgs = append(msgs, openai.ChatCompletionMessage{Role: openai.ChatMessageRoleSystem, Content: req.System})
	}
	vision := false
	for _, m := range req.Messages {
		om := openai.ChatCompletionMessage{Role: m.Role, Content: m.Content}
		if m.ImageDataURL != "" {
			vision = true
			om.Content = ""
			if m.Content != "" {
				om.MultiContent = append(om.MultiContent, openai.ChatMessagePart{Type: openai.ChatMessagePartTypeText, Text: m.Content})
			}
			om.MultiContent = append(om.MultiContent, openai.ChatMessagePart{
				Type:     openai.ChatMessagePartTypeImageURL,
				ImageURL: &openai.ChatMessageImageURL{URL: m.ImageDataURL, Detail: openai.ImageURLDetailAuto},
			})
		}
		msgs = append(msgs, om)
	}
	model := req.Model
	if model == "" {
		model = c.cfg.Model
		if vision {
			model = c.cfg.VisionModel
		}
	}
	start := time.Now()
	cctx, capt := withCapture(ctx)
	resp, err := c.api.CreateChatCompletion(cctx, openai.ChatCompletionRequest{
		Model:               model,
		Messages:            msgs,
		MaxCompletionTokens: cmp.Or(req.MaxTokens, c.cfg.MaxTokens),
		User:                req.User,
	})
	if err != nil {
		return ChatResponse{}, cl.classify(ctx, err, capt.retryAfter)
	}
	if len(resp.Choices) == 0 {
		return ChatResponse{}, cl.unusable("the answer had no choices", true, nil)
	}
	choice := resp.Choices[0]
	if choice.Message.Refusal != "" || choice.FinishReason == openai.FinishReasonContentFilter {
		e := &Error{Code: errcode.LLMRefused, Op: cl.op, Msg: "the model refused to answer"}
		if choice.Message.Refusal != "" {
			e.Err = fmt.Errorf("refusal: %q", choice.Message.Refusal)
		} else {
			e.Err = errors.New("finish_reason content_filter")
		}
		return ChatResponse{}, e
	}
	out := ChatResponse{
		Text:             choice.Message.Content,
		Model:            resp.Model,
		PromptTokens:     resp.Usage.PromptTokens,
		CompletionTokens: resp.Usage.CompletionTokens,
		FinishReason:     string(choice.FinishReason),
	}
	c.logger.DebugContext(ctx, "llm chat completed",
		slog.String("model", out.Model), slog.Int("prompt_tokens", out.PromptTokens),
		slog.Int("completion_tokens", out.CompletionTokens), slog.String("finish_reason", out.FinishReason),
		slog.Duration("duration", time.Since(start)))
	return out, nil
}

// Transcribe turns speech into text. filename names the upload and tells
// the API its format (e.g. "voice.ogg"); language is an ISO-639-1 hint, or
// "" to detect it.
func (c *Client) Transcribe(ctx context.Context, audio io.Reader, filename, language string) (string, error) {
	cl := c.classifier("transcription")
	if audio == nil {
		// go-openai would open a local file named filename instead.
		return "", cl.rejected("no audio")
	}
	cctx, capt := withCapture(ctx)
	resp, err := c.api.CreateTranscription(cctx, openai.AudioRequest{
		Model:    c.cfg.TranscriptionModel,
		FilePath: cmp.Or(filename, "audio.ogg"),
		Reader:   audio,
		Language: language,
		Format:   openai.AudioResponseFormatJSON,
	})
	if err != nil {
		return "", cl.classify(ctx, err, capt.retryAfter)
	}
	return strings.TrimSpace(resp.Text), nil
}

// Speak turns text (at most MaxSpeechInput characters) into an Ogg/Opus
// voice note.
func (c *Client) Speak(ctx context.Context, text string) ([]byte, error) {
	cl := c.classifier("speech")
	switch n := utf8.RuneCountInString(text); {
	case strings.TrimSpace(text) == "":
		return nil, cl.rejected("nothing to say")
	case n > MaxSpeechInput:
		return nil, cl.rejected(fmt.Sprintf("text of %d characters is longer than %d", n, MaxSpeechInput))
	}
	cctx, capt := withCapture(ctx)
	raw, err := c.api.CreateSpeech(cctx, openai.CreateSpeechRequest{
		Model:          openai.SpeechModel(c.cfg.SpeechModel),
		Input:          text,
		Voice:          openai.SpeechVoice(c.cfg.SpeechVoice),
		ResponseFormat: openai.SpeechResponseFormatOpus,
	})
	if err != nil {
		return nil, cl.classify(ctx, err, capt.retryAfter)
	}
	defer func() { _ = raw.Close() }()
	audio, err := io.ReadAll(io.LimitReader(raw, maxSpeechBytes+1))
	switch {
	case err != nil:
		return nil, cl.classify(ctx, err, 0)
	case len(audio) > maxSpeechBytes:
		return nil, cl.unusable("the audio is larger than 25 MiB", false, nil)
	case !bytes.HasPrefix(audio, []byte("OggS")):
		return nil, cl.unusable("the audio is not Ogg/Opus", false, nil)
	}
	return audio, nil
}

const pngSignature = "\x89PNG\r\n\x1a\n"

// GenerateImage draws a 1024×1024 PNG for prompt. A prompt the API's safety
// system rejects is an *Error with code LLMRefused.
func (c *Client) GenerateImage(ctx context.Context, prompt string) ([]byte, error) {
	cl := c.classifier("image generation")
	req := openai.ImageRequest{
		Prompt: prompt, Model: c.cfg.ImageModel, N: 1, Size: openai.CreateImageSize1024x1024,
	}
	if strings.HasPrefix(req.Model, "gpt-image") || strings.HasPrefix(req.Model, "chatgpt-image") {
		// GPT image models always answer base64 and reject response_format.
		req.OutputFormat = openai.CreateImageOutputFormatPNG
	} else {
		req.ResponseFormat = openai.CreateImageResponseFormatB64JSON
	}
	cctx, capt := withCapture(ctx)
	resp, err := c.api.CreateImage(cctx, req)
	if err != nil {
		return nil, cl.classify(ctx, err, capt.retryAfter)
	}
	if len(resp.Data) == 0 || resp.Data[0].B64JSON == "" {
		return nil, cl.unusable("the answer had no image", true, nil)
	}
	img, err := base64.StdEncoding.DecodeString(resp.Data[0].B64JSON)
	if err != nil {
		return nil, cl.unusable("the image is not valid base64", true, err)
	}
	if !bytes.HasPrefix(img, []byte(pngSignature)) {
		return nil, cl.unusable("the image is not a PNG", false, nil)
	}
	return img, nil
}

// Moderate reports whether the API's moderation flags text.
func (c *Client) Moderate(ctx context.Context, text string) (flagged bool, err error) {
	cl := c.classifier("moderation")
	if strings.TrimSpace(text) == "" {
		return false, nil
	}
	cctx, capt := withCapture(ctx)
	resp, err := c.api.Moderations(cctx, openai.ModerationRequest{Input: text, Model: c.cfg.ModerationModel})
	if err != nil {
		return false, cl.classify(ctx, err, capt.retryAfter)
	}
	if len(resp.Results) == 0 {
		return false, cl.unusable("the answer had no results", true, nil)
	}
	return resp.Results[0].Flagged, nil
}
