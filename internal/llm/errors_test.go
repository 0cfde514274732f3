package llm_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/wabot/wabot/internal/errcode"
	"github.com/wabot/wabot/internal/llm"
	"github.com/wabot/wabot/internal/openaifake"
	"github.com/wabot/wabot/internal/secret"
)

func chat(ctx context.Context, c *llm.Client, text string) error {
	_, err := c.Chat(ctx, llm.ChatRequest{Messages: []llm.Message{{Role: "user", Content: text}}})
	return err
}

// requireLLMError checks err is an *llm.Error with code and retryable, that
// errcode.Of agrees, and that its text holds no API key.
func requireLLMError(t *testing.T, err error, code errcode.Code, retryable bool) *llm.Error {
	t.Helper()
	e, ok := errors.AsType[*llm.Error](err)
	require.True(t, ok, "not an *llm.Error: %v", err)
	require.Equal(t, code, e.Code, "%v", err)
	require.Equal(t, retryable, e.Retryable, "%v", err)
	require.Equal(t, code, errcode.Of(err))
	require.NotContains(t, err.Error(), testKey)
	require.NotContains(t, fmt.Sprintf("%+v", err), testKey)
	return e
}

func TestChatErrorClassification(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name       string
		fault      openaifake.Fault
		text       string
		code       errcode.Code
		retryable  bool
		status     int
		retryAfter time.Duration
	}{
		{"429 with Retry-After", openaifake.Fault{Status: 429, RetryAfter: 7 * time.Second}, "hi", errcode.LLMUnavailable, true, 429, 7 * time.Second},
		{"429 quota exhausted", openaifake.Fault{Status: 429, Code: "insufficient_quota", RetryAfter: time.Second}, "hi", errcode.LLMUnavailable, false, 429, 0},
		{"500", openaifake.Fault{Status: 500}, "hi", errcode.LLMUnavailable, true, 500, 0},
		{"503", openaifake.Fault{Status: 503, RetryAfter: 2 * time.Second}, "hi", errcode.LLMUnavailable, true, 503, 2 * time.Second},
		{"502 html from a proxy", openaifake.Fault{Body: "<html>Bad Gateway</html>"}, "hi", errcode.LLMUnavailable, true, 502, 0},
		{"400", openaifake.Fault{Status: 400}, "hi", errcode.LLMRejected, false, 400, 0},
		{"404", openaifake.Fault{Status: 404}, "hi", errcode.LLMRejected, false, 404, 0},
		{"422", openaifake.Fault{Status: 422}, "hi", errcode.LLMRejected, false, 422, 0},
		{"403", openaifake.Fault{Status: 403}, "hi", errcode.LLMRejected, false, 403, 0},
		{"refusal", openaifake.Fault{Refuse: true}, "hi", errcode.LLMRefused, false, 0, 0},
		{"content filter", openaifake.Fault{ContentFilter: true}, "hi", errcode.LLMRefused, false, 0, 0},
		{"refusal marker", openaifake.Fault{}, "please " + openaifake.RefuseMarker, errcode.LLMRefused, false, 0, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s, c := setup(t)
			s.Enqueue(tt.fault)
			e := requireLLMError(t, chat(testCtx(t), c, tt.text), tt.code, tt.retryable)
			require.Equal(t, tt.status, e.Status)
			require.Equal(t, tt.retryAfter, e.RetryAfter)
		})
	}
}

func TestWrongKey(t *testing.T) {
	t.Parallel()
	_, good := setup(t)
	s := openaifake.New(openaifake.WithAPIKey("sk-proj-someotherkey0000000000"))
	t.Cleanup(s.Close)
	c, err := llm.New(nil, llm.Config{APIKey: secret.New(testKey), BaseURL: s.URL()})
	require.NoError(t, err)
	err = chat(testCtx(t), c, "hi")
	e := requireLLMError(t, err, errcode.LLMRejected, false)
	require.Equal(t, http.StatusUnauthorized, e.Status)
	require.Contains(t, err.Error(), "OPENAI_API_KEY")
	// The fake echoes a masked key like OpenAI does; even that is redacted.
	require.NotContains(t, err.Error(), testKey[:6])
	require.NotContains(t, err.Error(), testKey[len(testKey)-4:])
	require.NoError(t, chat(testCtx(t), good, "hi"))
}

func TestTimeoutIsRetryable(t *testing.T) {
	t.Parallel()
	s, c := setup(t, func(cfg *llm.Config) { cfg.Timeout = 200 * time.Millisecond })
	s.Enqueue(openaifake.Fault{Hang: true})
	e := requireLLMError(t, chat(testCtx(t), c, "hi"), errcode.LLMUnavailable, true)
	require.Zero(t, e.Status)
	require.Contains(t, e.Msg, "timed out")
}

func TestClosedPortIsRetryable(t *testing.T) {
	t.Parallel()
	var lc net.ListenConfig
	ln, err := lc.Listen(testCtx(t), "tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := ln.Addr().String()
	require.NoError(t, ln.Close())
	c, err := llm.New(nil, llm.Config{APIKey: secret.New(testKey), BaseURL: "http://" + addr + "/v1"})
	require.NoError(t, err)
	e := requireLLMError(t, chat(testCtx(t), c, "hi"), errcode.LLMUnavailable, true)
	require.Contains(t, e.Msg, "could not reach")
}

func TestCallerCancellation(t *testing.T) {
	t.Parallel()
	s, c := setup(t)
	arrived, release := s.Hold()
	defer release()
	ctx, cancel := context.WithCancel(testCtx(t))
	errc := make(chan error, 1)
	go func() { errc <- chat(ctx, c, "hi") }()
	select {
	case <-arrived:
	case <-testCtx(t).Done():
		t.Fatal("the request never arrived")
	}
	cancel()
	err := <-errc
	require.ErrorIs(t, err, context.Canceled)
	_ = requireLLMError(t, err, errcode.LLMUnavailable, true)
}

func TestRetryAfterHTTPDate(t *testing.T) {
	t.Parallel()
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Retry-After", time.Now().Add(30*time.Second).UTC().Format(http.TimeFormat))
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusServiceUnavailable)
		_, _ = w.Write([]byte(`{"error":{"message":"overloaded","type":"server_error","param":null,"code":null}}`))
	}))
	t.Cleanup(ts.Close)
	c, err := llm.New(nil, llm.Config{BaseURL: ts.URL + "/v1"})
	require.NoError(t, err)
	e := requireLLMError(t, chat(testCtx(t), c, "hi"), errcode.LLMUnavailable, true)
	require.InDelta(t, 30*time.Second, e.RetryAfter, float64(2*time.Second))
}

// TestConcurrentRetryAfterDoesNotMix checks each call sees its own answer's
// Retry-After.
func TestConcurrentRetryAfterDoesNotMix(t *testing.T) {
	t.Parallel()
	s, c := setup(t)
	const n = 8
	want := make([]time.Duration, 0, n)
	for i := range n {
		d := time.Duration(i+1) * time.Second
		want = append(want, d)
		s.Enqueue(openaifake.Fault{Status: 429, RetryAfter: d})
	}
	ctx := testCtx(t)
	var (
		mu  sync.Mutex
		got []time.Duration
		wg  sync.WaitGroup
	)
	for range n {
		wg.Go(func() {
			e, ok := errors.AsType[*llm.Error](chat(ctx, c, "hi"))
			mu.Lock()
			defer mu.Unlock()
			if ok {
				got = append(got, e.RetryAfter)
			}
		})
	}
	wg.Wait()
	slices.Sort(got)
	require.Equal(t, want, got)
}

func TestOtherCallsClassify(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		fault     openaifake.Fault
		call      func(context.Context, *llm.Client) error
		code      errcode.Code
		retryable bool
	}{
		{"transcription 500", openaifake.Fault{Status: 500}, func(ctx context.Context, c *llm.Client) error {
			_, err := c.Transcribe(ctx, strings.NewReader("abc"), "a.ogg", "")
			return err
		}, errcode.LLMUnavailable, true},
		{"transcription of nothing", openaifake.Fault{}, func(ctx context.Context, c *llm.Client) error {
			_, err := c.Transcribe(ctx, strings.NewReader(""), "a.ogg", "")
			return err
		}, errcode.LLMRejected, false},
		{"transcription without reader", openaifake.Fault{}, func(ctx context.Context, c *llm.Client) error {
			_, err := c.Transcribe(ctx, nil, "/etc/passwd", "")
			return err
		}, errcode.LLMRejected, false},
		{"speech 429", openaifake.Fault{Status: 429}, func(ctx context.Context, c *llm.Client) error {
			_, err := c.Speak(ctx, "hi")
			return err
		}, errcode.LLMUnavailable, true},
		{"speech too long", openaifake.Fault{}, func(ctx context.Context, c *llm.Client) error {
			_, err := c.Speak(ctx, strings.Repeat("a", llm.MaxSpeechInput+1))
			return err
		}, errcode.LLMRejected, false},
		{"image refused", openaifake.Fault{}, func(ctx context.Context, c *llm.Client) error {
			_, err := c.GenerateImage(ctx, "draw "+openaifake.FlagMarker)
			return err
		}, errcode.LLMRefused, false},
		{"image 400", openaifake.Fault{Status: 400}, func(ctx context.Context, c *llm.Client) error {
			_, err := c.GenerateImage(ctx, "a cat")
			return err
		}, errcode.LLMRejected, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s, c := setup(t)
			s.Enqueue(tt.fault)
			_ = requireLLMError(t, tt.call(testCtx(t), c), tt.code, tt.retryable)
		})
	}
}
