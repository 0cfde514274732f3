package openaifake_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sashabaranov/go-openai"
	"github.com/stretchr/testify/require"

	"github.com/wabot/wabot/internal/openaifake"
)

func chatReq(text string) openai.ChatCompletionRequest {
	return openai.ChatCompletionRequest{Model: "gpt-4o-mini", Messages: []openai.ChatCompletionMessage{user(text)}}
}

func TestFaults(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		fault     openaifake.Fault
		status    int
		wantType  string
		wantCode  any // go-openai decodes a null code as 0
		plainBody bool
	}{
		{"429", openaifake.Fault{Status: 429, RetryAfter: 7 * time.Second}, 429, "requests", "rate_limit_exceeded", false},
		{"insufficient quota", openaifake.Fault{Status: 429, Code: "insufficient_quota"}, 429, "insufficient_quota", "insufficient_quota", false},
		{"500", openaifake.Fault{Status: 500}, 500, "server_error", 0, false},
		{"503", openaifake.Fault{Status: 503}, 503, "server_error", 0, false},
		{"400", openaifake.Fault{Status: 400}, 400, "invalid_request_error", 0, false},
		{"404", openaifake.Fault{Status: 404}, 404, "invalid_request_error", "model_not_found", false},
		{"html body", openaifake.Fault{Body: "<html>502 Bad Gateway</html>"}, 502, "", nil, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s, c := setup(t)
			ctx := testCtx(t)
			s.Enqueue(tt.fault)
			_, err := c.CreateChatCompletion(ctx, chatReq("hi"))
			require.Error(t, err)
			if tt.plainBody {
				reqErr, ok := errors.AsType[*openai.RequestError](err)
				require.True(t, ok, "%v", err)
				require.Equal(t, tt.status, reqErr.HTTPStatusCode)
			} else {
				apiErr, ok := errors.AsType[*openai.APIError](err)
				require.True(t, ok, "%v", err)
				require.Equal(t, tt.status, apiErr.HTTPStatusCode)
				require.Equal(t, tt.wantType, apiErr.Type)
				require.Equal(t, tt.wantCode, apiErr.Code)
				require.NotEmpty(t, apiErr.Message)
			}
			// One fault per request: the next one succeeds.
			_, err = c.CreateChatCompletion(ctx, chatReq("again"))
			require.NoError(t, err)
			require.Len(t, s.Requests(), 2)
		})
	}
}

func TestFaultRetryAfterHeader(t *testing.T) {
	t.Parallel()
	s, _ := setup(t)
	s.Enqueue(openaifake.Fault{Status: 429, RetryAfter: 6500 * time.Millisecond})
	body := `{"model":"gpt-4o-mini","messages":[{"role":"user","content":"hi"}]}`
	req, err := http.NewRequestWithContext(testCtx(t), http.MethodPost, s.URL()+"/chat/completions", strings.NewReader(body))
	require.NoError(t, err)
	res, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer func() { require.NoError(t, res.Body.Close()) }()
	require.Equal(t, http.StatusTooManyRequests, res.StatusCode)
	require.Equal(t, "7", res.Header.Get("Retry-After"))
	require.Equal(t, "application/json", res.Header.Get("Content-Type"))
	var e struct {
		Error map[string]any `json:"error"`
	}
	require.NoError(t, json.NewDecoder(res.Body).Decode(&e))
	require.Contains(t, e.Error, "param")
	require.Equal(t, "rate_limit_exceeded", e.Error["code"])
}

func TestFaultsApplyAcrossEndpointsInOrder(t *testing.T) {
	t.Parallel()
	s, c := setup(t)
	ctx := testCtx(t)
	s.Enqueue(openaifake.Fault{Status: 500}, openaifake.Fault{}, openaifake.Fault{Status: 429})

	_, err := c.CreateChatCompletion(ctx, chatReq("hi"))
	requireStatus(t, err, 500)
	// Moderation takes no fault.
	_, err = c.Moderations(ctx, openai.ModerationRequest{Input: "x"})
	require.NoError(t, err)
	_, err = c.CreateTranscription(ctx, openai.AudioRequest{Model: openai.Whisper1, FilePath: "a.ogg", Reader: strings.NewReader("abc")})
	require.NoError(t, err)
	_, err = c.CreateSpeech(ctx, openai.CreateSpeechRequest{Model: openai.TTSModel1, Input: "x", Voice: openai.VoiceAlloy, ResponseFormat: openai.SpeechResponseFormatOpus})
	requireStatus(t, err, 429)
}

func requireStatus(t *testing.T, err error, status int) {
	t.Helper()
	apiErr, ok := errors.AsType[*openai.APIError](err)
	require.True(t, ok, "%v", err)
	require.Equal(t, status, apiErr.HTTPStatusCode)
}

func TestHangEndsWithClientTimeout(t *testing.T) {
	t.Parallel()
	s, c := setup(t)
	s.Enqueue(openaifake.Fault{Hang: true})
	ctx, cancel := context.WithTimeout(testCtx(t), 100*time.Millisecond)
	defer cancel()
	_, err := c.CreateChatCompletion(ctx, chatReq("hi"))
	require.ErrorIs(t, err, context.DeadlineExceeded)

	_, err = c.CreateChatCompletion(testCtx(t), chatReq("next"))
	require.NoError(t, err)
}

func TestCloseReleasesHang(t *testing.T) {
	t.Parallel()
	s, c := setup(t)
	s.Enqueue(openaifake.Fault{Hang: true})
	errc := make(chan error, 1)
	go func() {
		_, err := c.CreateChatCompletion(testCtx(t), chatReq("hi"))
		errc <- err
	}()
	require.Eventually(t, func() bool { return len(s.Requests()) == 1 }, 5*time.Second, time.Millisecond)
	s.Close()
	requireStatus(t, <-errc, http.StatusServiceUnavailable)
}

func TestHold(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		end  func(s *openaifake.Server, release func(), cancel context.CancelFunc)
		want func(t *testing.T, err error)
	}{
		{"release", func(_ *openaifake.Server, release func(), _ context.CancelFunc) { release() }, func(t *testing.T, err error) {
			require.NoError(t, err)
		}},
		{"close", func(s *openaifake.Server, _ func(), _ context.CancelFunc) { s.Close() }, func(t *testing.T, err error) {
			requireStatus(t, err, http.StatusServiceUnavailable)
		}},
		{"client gives up", func(_ *openaifake.Server, _ func(), cancel context.CancelFunc) { cancel() }, func(t *testing.T, err error) {
			require.ErrorIs(t, err, context.Canceled)
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s, c := setup(t)
			arrived, release := s.Hold()
			defer release()
			ctx, cancel := context.WithCancel(testCtx(t))
			defer cancel()
			errc := make(chan error, 1)
			go func() {
				_, err := c.CreateChatCompletion(ctx, chatReq("held"))
				errc <- err
			}()
			select {
			case <-arrived:
			case <-testCtx(t).Done():
				t.Fatal("the held request never arrived")
			}
			require.Len(t, s.Requests(), 1)
			select {
			case err := <-errc:
				t.Fatalf("the held request returned early: %v", err)
			default:
			}
			tt.end(s, release, cancel)
			tt.want(t, <-errc)
		})
	}
}

func TestLatency(t *testing.T) {
	t.Parallel()
	s, c := setup(t)
	s.SetLatency(50 * time.Millisecond)
	start := time.Now()
	_, err := c.CreateChatCompletion(testCtx(t), chatReq("slow"))
	require.NoError(t, err)
	require.GreaterOrEqual(t, time.Since(start), 50*time.Millisecond)

	ctx, cancel := context.WithTimeout(testCtx(t), 10*time.Millisecond)
	defer cancel()
	_, err = c.CreateChatCompletion(ctx, chatReq("too slow"))
	require.ErrorIs(t, err, context.DeadlineExceeded)
}

func TestAuth(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		key     string
		wantErr bool
	}{{"right key", testKey, false}, {"wrong key", "sk-wrong-key-987654321", true}, {"no key", "", true}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s := openaifake.New(openaifake.WithAPIKey(testKey))
			t.Cleanup(s.Close)
			cfg := openai.DefaultConfig(tt.key)
			cfg.BaseURL = s.URL()
			_, err := openai.NewClientWithConfig(cfg).CreateChatCompletion(testCtx(t), chatReq("hi"))
			if !tt.wantErr {
				require.NoError(t, err)
				return
			}
			apiErr, ok := errors.AsType[*openai.APIError](err)
			require.True(t, ok, "%v", err)
			require.Equal(t, http.StatusUnauthorized, apiErr.HTTPStatusCode)
			require.Equal(t, "invalid_request_error", apiErr.Type)
			require.Equal(t, "invalid_api_key", apiErr.Code)
			if tt.key != "" {
				require.NotContains(t, apiErr.Message, tt.key)
			}
			require.Len(t, s.Requests(), 1)
		})
	}
}

func TestConcurrentFaults(t *testing.T) {
	t.Parallel()
	s, c := setup(t)
	ctx := testCtx(t)
	const n, faults = 12, 5
	for range faults {
		s.Enqueue(openaifake.Fault{Status: 429})
	}
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for range n {
		wg.Go(func() {
			_, err := c.CreateChatCompletion(ctx, chatReq("hi"))
			errs <- err
		})
	}
	wg.Wait()
	close(errs)
	failed := 0
	for err := range errs {
		if err != nil {
			requireStatus(t, err, 429)
			failed++
		}
	}
	require.Equal(t, faults, failed)
	require.Len(t, s.Requests(), n)
}

func TestUnknownPath(t *testing.T) {
	t.Parallel()
	s, _ := setup(t)
	req, err := http.NewRequestWithContext(testCtx(t), http.MethodPost, s.URL()+"/responses", bytes.NewReader(nil))
	require.NoError(t, err)
	res, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer func() { require.NoError(t, res.Body.Close()) }()
	require.Equal(t, http.StatusNotFound, res.StatusCode)
	b, err := io.ReadAll(res.Body)
	require.NoError(t, err)
	require.Contains(t, string(b), "Invalid URL (POST /v1/responses)")
}
