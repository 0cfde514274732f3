package llm_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"image/png"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/wabot/wabot/internal/llm"
	"github.com/wabot/wabot/internal/openaifake"
	"github.com/wabot/wabot/internal/secret"
)

const testKey = "sk-proj-llmtest0123456789abcdef"

// setup starts a fake that requires testKey and a Client pointed at it;
// change adjusts the Config first.
func setup(t *testing.T, change ...func(*llm.Config)) (*openaifake.Server, *llm.Client) {
	t.Helper()
	s := openaifake.New(openaifake.WithAPIKey(testKey))
	t.Cleanup(s.Close)
	cfg := llm.Config{APIKey: secret.New(testKey), BaseURL: s.URL(), Timeout: 10 * time.Second}
	for _, f := range change {
		f(&cfg)
	}
	c, err := llm.New(nil, cfg)
	require.NoError(t, err)
	return s, c
}

func testCtx(t *testing.T) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 15*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func TestChat(t *testing.T) {
	t.Parallel()
	s, c := setup(t)
	resp, err := c.Chat(testCtx(t), llm.ChatRequest{
		System: "You are a helpful bot.",
		Messages: []llm.Message{
			{Role: "user", Content: "hi"}, {Role: "assistant", Content: "You said: hi"}, {Role: "user", Content: "how are you?"},
		},
		User: "hash123",
	})
	require.NoError(t, err)
	require.Equal(t, "You said: how are you?", resp.Text)
	require.Equal(t, llm.DefaultModel, resp.Model)
	require.Equal(t, "stop", resp.FinishReason)
	require.Positive(t, resp.PromptTokens)
	require.Positive(t, resp.CompletionTokens)

	reqs := s.Requests()
	require.Len(t, reqs, 1)
	chat := reqs[0].Chat
	require.Equal(t, llm.DefaultModel, chat.Model)
	require.Len(t, chat.Messages, 4)
	require.Equal(t, openaifake.Message{Role: "system", Text: "You are a helpful bot."}, chat.Messages[0])
	require.Equal(t, llm.DefaultMaxTokens, chat.MaxCompletionTokens)
	require.Zero(t, chat.MaxTokens, "max_tokens is deprecated and rejected by reasoning models")
	require.NotContains(t, string(reqs[0].Body), `"max_tokens"`)
	require.Equal(t, "hash123", chat.User)
}

func TestChatOverridesAndLength(t *testing.T) {
	t.Parallel()
	s, c := setup(t)
	resp, err := c.Chat(testCtx(t), llm.ChatRequest{
		Model: "gpt-4.1-mini", MaxTokens: 2, Messages: []llm.Message{{Role: "user", Content: "please say a lot"}},
	})
	require.NoError(t, err)
	require.Equal(t, "length", resp.FinishReason)
	require.Equal(t, "You said", resp.Text)
	require.Equal(t, "gpt-4.1-mini", s.Requests()[0].Model)
	require.Equal(t, 2, s.Requests()[0].Chat.MaxCompletionTokens)
}

func TestChatVision(t *testing.T) {
	t.Parallel()
	s, c := setup(t, func(cfg *llm.Config) { cfg.VisionModel = "gpt-4o" })
	jpeg := bytes.Repeat([]byte{0xff, 0xd8, 0xff}, 100)
	resp, err := c.Chat(testCtx(t), llm.ChatRequest{Messages: []llm.Message{{
		Role: "user", Content: "what is it?", ImageDataURL: "data:image/jpeg;base64," + base64.StdEncoding.EncodeToString(jpeg),
	}}})
	require.NoError(t, err)
	require.Equal(t, "You said: what is it? [image: image/jpeg, 300 bytes]", resp.Text)
	req := s.Requests()[0]
	require.Equal(t, "gpt-4o", req.Model)
	msg := req.Chat.Messages[0]
	require.Equal(t, "what is it?", msg.Text)
	require.Equal(t, []openaifake.Image{{MIME: "image/jpeg", Size: len(jpeg)}}, msg.Images)
	require.Contains(t, string(req.Body), `"type":"image_url"`)
}

func TestTranscribe(t *testing.T) {
	t.Parallel()
	s, c := setup(t)
	text, err := c.Transcribe(testCtx(t), strings.NewReader("OggS...TRANSCRIPT:bom dia\n..."), "voice.ogg", "pt")
	require.NoError(t, err)
	require.Equal(t, "bom dia", text)
	req := s.Requests()[0]
	require.Equal(t, llm.DefaultTranscriptionModel, req.Model)
	require.Equal(t, "voice.ogg", req.FileName)
	require.Equal(t, "pt", req.Language)
}

func TestSpeakTranscribesBack(t *testing.T) {
	t.Parallel()
	s, c := setup(t)
	ctx := testCtx(t)
	audio, err := c.Speak(ctx, "hello there")
	require.NoError(t, err)
	require.True(t, bytes.HasPrefix(audio, []byte("OggS")))
	req := s.Requests()[0]
	require.Equal(t, "opus", req.Format)
	require.Equal(t, llm.DefaultSpeechModel, req.Model)
	require.Equal(t, llm.DefaultSpeechVoice, req.Voice)

	text, err := c.Transcribe(ctx, bytes.NewReader(audio), "reply.ogg", "")
	require.NoError(t, err)
	require.Equal(t, "hello there", text)
}

func TestGenerateImage(t *testing.T) {
	t.Parallel()
	for _, model := range []string{"dall-e-3", "gpt-image-1"} {
		t.Run(model, func(t *testing.T) {
			t.Parallel()
			s, c := setup(t, func(cfg *llm.Config) { cfg.ImageModel = model })
			img, err := c.GenerateImage(testCtx(t), "a lighthouse")
			require.NoError(t, err)
			_, err = png.Decode(bytes.NewReader(img))
			require.NoError(t, err)
			require.Equal(t, "a lighthouse", s.Requests()[0].Input)
			require.Equal(t, model, s.Requests()[0].Model)
		})
	}
}

func TestModerate(t *testing.T) {
	t.Parallel()
	tests := []struct {
		text    string
		flagged bool
	}{{"good morning", false}, {"you " + openaifake.FlagMarker, true}, {"  ", false}}
	for _, tt := range tests {
		t.Run(tt.text, func(t *testing.T) {
			t.Parallel()
			_, c := setup(t)
			flagged, err := c.Moderate(testCtx(t), tt.text)
			require.NoError(t, err)
			require.Equal(t, tt.flagged, flagged)
		})
	}
}
