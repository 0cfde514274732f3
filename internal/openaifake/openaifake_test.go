package openaifake_test

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/sashabaranov/go-openai"
	"github.com/stretchr/testify/require"

	"github.com/wabot/wabot/internal/openaifake"
)

const testKey = "sk-test-0123456789abcdef"

// setup starts a fake and a real go-openai client pointed at it.
func setup(t *testing.T, opts ...openaifake.Option) (*openaifake.Server, *openai.Client) {
	t.Helper()
	s := openaifake.New(opts...)
	t.Cleanup(s.Close)
	cfg := openai.DefaultConfig(testKey)
	cfg.BaseURL = s.URL()
	return s, openai.NewClientWithConfig(cfg)
}

// testCtx is a context that ends before the test's deadline.
func testCtx(t *testing.T) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func user(text string) openai.ChatCompletionMessage {
	return openai.ChatCompletionMessage{Role: openai.ChatMessageRoleUser, Content: text}
}

func TestChat(t *testing.T) {
	t.Parallel()
	png := []byte("\x89PNG\r\n\x1a\nnot really a png but 24 b")
	dataURL := "data:image/png;base64," + base64.StdEncoding.EncodeToString(png)
	tests := []struct {
		name       string
		req        openai.ChatCompletionRequest
		reply      func(openaifake.ChatRequest) string
		wantText   string
		wantFinish openai.FinishReason
		check      func(t *testing.T, r openaifake.Request)
	}{{
		name: "plain text",
		req: openai.ChatCompletionRequest{Model: "gpt-4o-mini", User: "u1", MaxCompletionTokens: 100, Messages: []openai.ChatCompletionMessage{
			{Role: openai.ChatMessageRoleSystem, Content: "Be brief."}, user("first"),
			{Role: openai.ChatMessageRoleAssistant, Content: "You said: first"}, user("hello there"),
		}},
		wantText: "You said: hello there", wantFinish: openai.FinishReasonStop,
		check: func(t *testing.T, r openaifake.Request) {
			require.Equal(t, "/v1/chat/completions", r.Path)
			require.Equal(t, "gpt-4o-mini", r.Model)
			require.Len(t, r.Chat.Messages, 4)
			require.Equal(t, "system", r.Chat.Messages[0].Role)
			require.Equal(t, "Be brief.", r.Chat.Messages[0].Text)
			require.Equal(t, "u1", r.Chat.User)
			require.Equal(t, 100, r.Chat.MaxCompletionTokens)
			require.Zero(t, r.Chat.MaxTokens)
			require.Equal(t, "Bearer "+testKey, r.Header.Get("Authorization"))
			require.NotContains(t, string(r.Body), "max_tokens\"")
		},
	}, {
		name: "vision multi-part",
		req: openai.ChatCompletionRequest{Model: "gpt-4o", Messages: []openai.ChatCompletionMessage{{
			Role: openai.ChatMessageRoleUser, MultiContent: []openai.ChatMessagePart{
				{Type: openai.ChatMessagePartTypeText, Text: "what is this?"},
				{Type: openai.ChatMessagePartTypeImageURL, ImageURL: &openai.ChatMessageImageURL{URL: dataURL, Detail: openai.ImageURLDetailAuto}},
			},
		}}},
		wantText: fmt.Sprintf("You said: what is this? [image: image/png, %d bytes]", len(png)), wantFinish: openai.FinishReasonStop,
		check: func(t *testing.T, r openaifake.Request) {
			m := r.Chat.Messages[0]
			require.True(t, m.HasImage())
			require.Equal(t, openaifake.Image{MIME: "image/png", Size: len(png)}, m.Images[0])
			require.Equal(t, "what is this?", m.Text)
		},
	}, {
		name: "remote image only",
		req: openai.ChatCompletionRequest{Model: "gpt-4o", Messages: []openai.ChatCompletionMessage{{
			Role: openai.ChatMessageRoleUser, MultiContent: []openai.ChatMessagePart{
				{Type: openai.ChatMessagePartTypeImageURL, ImageURL: &openai.ChatMessageImageURL{URL: "https://example.com/a.jpg"}},
			},
		}}},
		wantText: "You said: [image: https://example.com/a.jpg]", wantFinish: openai.FinishReasonStop,
	}, {
		name:     "max tokens truncates",
		req:      openai.ChatCompletionRequest{Model: "gpt-4o-mini", MaxCompletionTokens: 2, Messages: []openai.ChatCompletionMessage{user("a long message indeed")}},
		wantText: "You said", wantFinish: openai.FinishReasonLength,
	}, {
		name:     "reply override",
		req:      openai.ChatCompletionRequest{Model: "gpt-4o-mini", Messages: []openai.ChatCompletionMessage{user("x")}},
		reply:    func(r openaifake.ChatRequest) string { return "custom for " + r.Messages[0].Text },
		wantText: "custom for x", wantFinish: openai.FinishReasonStop,
	}, {
		name:     "no user message",
		req:      openai.ChatCompletionRequest{Model: "gpt-4o-mini", Messages: []openai.ChatCompletionMessage{{Role: "system", Content: "hi"}}},
		wantText: "Hello! I'm the openaifake model.", wantFinish: openai.FinishReasonStop,
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s, c := setup(t)
			s.SetReply(tt.reply)
			resp, err := c.CreateChatCompletion(testCtx(t), tt.req)
			require.NoError(t, err)
			require.Len(t, resp.Choices, 1)
			ch := resp.Choices[0]
			require.Equal(t, tt.wantText, ch.Message.Content)
			require.Equal(t, tt.wantFinish, ch.FinishReason)
			require.Equal(t, "assistant", ch.Message.Role)
			require.Equal(t, "chat.completion", resp.Object)
			require.Equal(t, tt.req.Model, resp.Model)
			require.True(t, strings.HasPrefix(resp.ID, "chatcmpl-"))
			require.NotZero(t, resp.Created)
			require.Positive(t, resp.Usage.PromptTokens)
			require.Positive(t, resp.Usage.CompletionTokens)
			require.Equal(t, resp.Usage.PromptTokens+resp.Usage.CompletionTokens, resp.Usage.TotalTokens)
			reqs := s.Requests()
			require.Len(t, reqs, 1)
			if tt.check != nil {
				tt.check(t, reqs[0])
			}
		})
	}
}

func TestChatRejectsBadRequests(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		msgs []openai.ChatCompletionMessage
		want string
	}{
		{"no messages", nil, "too short"},
		{"tool without id", []openai.ChatCompletionMessage{{Role: "tool", Content: "x"}}, "tool_call_id"},
		{"bad role", []openai.ChatCompletionMessage{{Role: "robot", Content: "x"}}, "Invalid value"},
		{"bad image", []openai.ChatCompletionMessage{{Role: "user", MultiContent: []openai.ChatMessagePart{
			{Type: openai.ChatMessagePartTypeImageURL, ImageURL: &openai.ChatMessageImageURL{URL: "data:image/png;base64,@@@"}},
		}}}, "invalid base64"},
		{"bad image type", []openai.ChatCompletionMessage{{Role: "user", MultiContent: []openai.ChatMessagePart{
			{Type: openai.ChatMessagePartTypeImageURL, ImageURL: &openai.ChatMessageImageURL{URL: "data:text/plain;base64,aGk="}},
		}}}, "MIME type"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, c := setup(t)
			_, err := c.CreateChatCompletion(testCtx(t), openai.ChatCompletionRequest{Model: "gpt-4o-mini", Messages: tt.msgs})
			apiErr, ok := errors.AsType[*openai.APIError](err)
			require.True(t, ok, "%v", err)
			require.Equal(t, 400, apiErr.HTTPStatusCode)
			require.Equal(t, "invalid_request_error", apiErr.Type)
			require.Contains(t, strings.ToLower(apiErr.Message), strings.ToLower(tt.want))
		})
	}
}

func TestToolCallRoundTrip(t *testing.T) {
	t.Parallel()
	s, c := setup(t)
	ctx := testCtx(t)
	tools := []openai.Tool{{Type: openai.ToolTypeFunction, Function: &openai.FunctionDefinition{
		Name: "get_weather", Parameters: map[string]any{"type": "object"},
	}}}
	msgs := []openai.ChatCompletionMessage{user(`please call:get_weather {"city":"Lisbon"}`)}

	resp, err := c.CreateChatCompletion(ctx, openai.ChatCompletionRequest{Model: "gpt-4o-mini", Messages: msgs, Tools: tools})
	require.NoError(t, err)
	ch := resp.Choices[0]
	require.Equal(t, openai.FinishReasonToolCalls, ch.FinishReason)
	require.Empty(t, ch.Message.Content)
	require.Len(t, ch.Message.ToolCalls, 1)
	call := ch.Message.ToolCalls[0]
	require.Equal(t, openai.ToolTypeFunction, call.Type)
	require.Equal(t, "get_weather", call.Function.Name)
	require.JSONEq(t, `{"city":"Lisbon"}`, call.Function.Arguments)
	require.True(t, strings.HasPrefix(call.ID, "call_"))

	msgs = append(msgs, ch.Message, openai.ChatCompletionMessage{Role: openai.ChatMessageRoleTool, ToolCallID: call.ID, Content: "sunny, 21°C"})
	resp, err = c.CreateChatCompletion(ctx, openai.ChatCompletionRequest{Model: "gpt-4o-mini", Messages: msgs, Tools: tools})
	require.NoError(t, err)
	require.Equal(t, "Tool get_weather returned: sunny, 21°C", resp.Choices[0].Message.Content)
	require.Equal(t, openai.FinishReasonStop, resp.Choices[0].FinishReason)

	reqs := s.Requests()
	require.Len(t, reqs, 2)
	require.Equal(t, []string{"get_weather"}, reqs[1].Chat.Tools)
	require.Equal(t, []openaifake.ToolCall{{ID: call.ID, Name: "get_weather", Arguments: call.Function.Arguments}}, reqs[1].Chat.Messages[1].ToolCalls)

	// Without the tool declared, the trigger is just text.
	resp, err = c.CreateChatCompletion(ctx, openai.ChatCompletionRequest{Model: "gpt-4o-mini", Messages: msgs[:1]})
	require.NoError(t, err)
	require.Equal(t, openai.FinishReasonStop, resp.Choices[0].FinishReason)
	require.Empty(t, resp.Choices[0].Message.ToolCalls)
}

func TestRefusals(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name        string
		fault       *openaifake.Fault
		text        string
		wantRefusal string
		wantFinish  openai.FinishReason
	}{
		{"marker", nil, "please " + openaifake.RefuseMarker, openaifake.RefusalText, openai.FinishReasonStop},
		{"refuse fault", &openaifake.Fault{Refuse: true}, "hi", openaifake.RefusalText, openai.FinishReasonStop},
		{"content filter fault", &openaifake.Fault{ContentFilter: true}, "hi", "", openai.FinishReasonContentFilter},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s, c := setup(t)
			if tt.fault != nil {
				s.Enqueue(*tt.fault)
			}
			resp, err := c.CreateChatCompletion(testCtx(t), openai.ChatCompletionRequest{Model: "gpt-4o-mini", Messages: []openai.ChatCompletionMessage{user(tt.text)}})
			require.NoError(t, err)
			require.Empty(t, resp.Choices[0].Message.Content)
			require.Equal(t, tt.wantRefusal, resp.Choices[0].Message.Refusal)
			require.Equal(t, tt.wantFinish, resp.Choices[0].FinishReason)
		})
	}
}

func TestChatStream(t *testing.T) {
	t.Parallel()
	_, c := setup(t)
	stream, err := c.CreateChatCompletionStream(testCtx(t), openai.ChatCompletionRequest{
		Model: "gpt-4o-mini", Messages: []openai.ChatCompletionMessage{user("stream me please")},
		StreamOptions: &openai.StreamOptions{IncludeUsage: true},
	})
	require.NoError(t, err)
	defer func() { require.NoError(t, stream.Close()) }()
	var text strings.Builder
	var finish openai.FinishReason
	var usage *openai.Usage
	for {
		chunk, err := stream.Recv()
		if errors.Is(err, io.EOF) {
			break
		}
		require.NoError(t, err)
		for _, ch := range chunk.Choices {
			text.WriteString(ch.Delta.Content)
			if ch.FinishReason != "" {
				finish = ch.FinishReason
			}
		}
		if chunk.Usage != nil {
			usage = chunk.Usage
		}
	}
	require.Equal(t, "You said: stream me please", text.String())
	require.Equal(t, openai.FinishReasonStop, finish)
	require.NotNil(t, usage)
	require.Positive(t, usage.TotalTokens)
}

// WithoutRecording answers as usual and keeps no request log.
func TestWithoutRecording(t *testing.T) {
	t.Parallel()
	for _, record := range []bool{true, false} {
		var opts []openaifake.Option
		if !record {
			opts = append(opts, openaifake.WithoutRecording())
		}
		s, c := setup(t, opts...)
		resp, err := c.CreateChatCompletion(testCtx(t), openai.ChatCompletionRequest{Model: "gpt-4o-mini", Messages: []openai.ChatCompletionMessage{user("hi")}})
		require.NoError(t, err)
		require.Equal(t, "You said: hi", resp.Choices[0].Message.Content)
		if record {
			require.Len(t, s.Requests(), 1)
		} else {
			require.Empty(t, s.Requests())
		}
	}
}
