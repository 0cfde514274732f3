package openaifake

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"
)

// chatCompletion is a chat.completion or chat.completion.chunk object.
type chatCompletion struct {
	ID                string       `json:"id"`
	Object            string       `json:"object"`
	Created           int64        `json:"created"`
	Model             string       `json:"model"`
	Choices           []chatChoice `json:"choices"`
	Usage             *usage       `json:"usage,omitempty"`
	ServiceTier       string       `json:"service_tier"`
	SystemFingerprint string       `json:"system_fingerprint"`
}

type chatChoice struct {
	Index        int          `json:"index"`
	Message      chatMessage  `json:"message,omitzero"`
	Delta        *chatMessage `json:"delta,omitempty"`
	Logprobs     any          `json:"logprobs"`
	FinishReason *string      `json:"finish_reason"`
}

type chatMessage struct {
	Role        string         `json:"role,omitempty"`
	Content     *string        `json:"content"`
	Refusal     *string        `json:"refusal"`
	ToolCalls   []wireToolCall `json:"tool_calls,omitempty"`
	Annotations []any          `json:"annotations,omitempty"`
}

type usage struct {
	PromptTokens        int `json:"prompt_tokens"`
	CompletionTokens    int `json:"completion_tokens"`
	TotalTokens         int `json:"total_tokens"`
	PromptTokensDetails struct {
		CachedTokens int `json:"cached_tokens"`
		AudioTokens  int `json:"audio_tokens"`
	} `json:"prompt_tokens_details"`
	CompletionTokensDetails struct {
		ReasoningTokens          int `json:"reasoning_tokens"`
		AudioTokens              int `json:"audio_tokens"`
		AcceptedPredictionTokens int `json:"accepted_prediction_tokens"`
		RejectedPredictionTokens int `json:"rejected_prediction_tokens"`
	} `json:"completion_tokens_details"`
}

func newUsage(prompt, completion int) usage {
	return usage{PromptTokens: prompt, CompletionTokens: completion, TotalTokens: prompt + completion}
}

// writeStream answers as server-sent events: a role chunk, the content word
// by word (or the refusal, or the tool calls), a finish chunk, an optional
// usage chunk, then [DONE].
func writeStream(w http.ResponseWriter, base chatCompletion, ans answer, u usage, includeUsage bool) {
	w.Header().Set("Content-Type", "text/event-stream; charset=utf-8")
	w.Header().Set("Cache-Control", "no-cache")
	w.WriteHeader(http.StatusOK)
	flusher, _ := w.(http.Flusher)
	base.Object = "chat.completion.chunk"
	send := func(c chatCompletion) {
		b, err := json.Marshal(c)
		if err != nil {
			return
		}
		_, _ = fmt.Fprintf(w, "data: %s\n\n", b)
		if flusher != nil {
			flusher.Flush()
		}
	}
	delta := func(d chatMessage) {
		c := base
		c.Choices = []chatChoice{{Delta: &d}}
		send(c)
	}
	delta(chatMessage{Role: "assistant", Content: new("")})
	if ans.content != nil {
		for _, word := range strings.SplitAfter(*ans.content, " ") {
			if word != "" {
				delta(chatMessage{Content: new(word)})
			}
		}
	}
	if ans.refusal != nil {
		delta(chatMessage{Refusal: ans.refusal})
	}
	for i, tc := range ans.toolCalls {
		tc.Index = new(i)
		delta(chatMessage{ToolCalls: []wireToolCall{tc}})
	}
	final := base
	final.Choices = []chatChoice{{Delta: &chatMessage{}, FinishReason: &ans.finish}}
	send(final)
	if includeUsage {
		c := base
		c.Choices = []chatChoice{}
		c.Usage = &u
		send(c)
	}
	_, _ = fmt.Fprint(w, "data: [DONE]\n\n")
	if flusher != nil {
		flusher.Flush()
	}
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }
