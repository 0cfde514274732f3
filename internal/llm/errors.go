package llm

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/sashabaranov/go-openai"

	"github.com/wabot/wabot/internal/errcode"
)

// Error is every error the Client returns. Retryable says whether the same
// call may succeed later (after RetryAfter, when the API said so). Its text
// never holds the API key. errors.As(err, **errcode.Error) also finds it, so
// errcode.Of(err) gives Code.
type Error struct {
	Code errcode.Code
	// Op is the call that failed: "chat completion", "transcription", ….
	Op string
	// Msg is a short operator-facing explanation.
	Msg string
	// Status is the HTTP status of the API's answer; 0 when there was none.
	Status     int
	Retryable  bool
	RetryAfter time.Duration
	Err        error
}

func (e *Error) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "llm %s: %s", e.Op, e.Code)
	if e.Status != 0 {
		fmt.Fprintf(&b, " (HTTP %d)", e.Status)
	}
	if e.Msg != "" {
		b.WriteString(": " + e.Msg)
	}
	if e.RetryAfter > 0 {
		fmt.Fprintf(&b, "; retry after %s", e.RetryAfter)
	}
	if e.Err != nil {
		b.WriteString(": " + e.Err.Error())
	}
	return b.String()
}

func (e *Error) Unwrap() error { return e.Err }

// As lets errors.As and errcode.Of see an *Error as an *errcode.Error.
func (e *Error) As(target any) bool {
	t, ok := target.(**errcode.Error)
	if !ok {
		return false
	}
	*t = &errcode.Error{Code: e.Code, Msg: "llm " + e.Op + ": " + e.Msg, Err: e.Err}
	return true
}

// classifier turns any error of a call into an *Error.
type classifier struct {
	op     string
	apiKey string
}

// apiKeyPattern matches OpenAI-style keys, whole or masked, in error texts.
var apiKeyPattern = regexp.MustCompile(`\bsk-[A-Za-z0-9_*.\-]{4,}`)

func (c classifier) redact(s string) string {
	if c.apiKey != "" {
		s = strings.ReplaceAll(s, c.apiKey, "[redacted]")
	}
	return apiKeyPattern.ReplaceAllString(s, "sk-[redacted]")
}

// classify maps err from a call made with ctx (the caller's context).
// retryAfter is the delay the API asked for, if any.
func (c classifier) classify(ctx context.Context, err error, retryAfter time.Duration) *Error {
	if e, ok := errors.AsType[*Error](err); ok {
		return e
	}
	e := &Error{Op: c.op, Err: err}
	if ctxErr := ctx.Err(); ctxErr != nil {
		e.Code, e.Retryable, e.Msg = errcode.LLMUnavailable, true, "the caller's context ended"
		if !errors.Is(err, ctxErr) {
			e.Err = fmt.Errorf("%w: %w", ctxErr, err)
		}
		return e
	}
	var code string
	if apiErr, ok := errors.AsType[*openai.APIError](err); ok {
		e.Status = apiErr.HTTPStatusCode
		apiErr.Message = c.redact(apiErr.Message)
		if s, ok := apiErr.Code.(string); ok {
			code = s
		}
	} else if reqErr, ok := errors.AsType[*openai.RequestError](err); ok {
		e.Status = reqErr.HTTPStatusCode
		reqErr.Body = []byte(c.redact(string(reqErr.Body)))
	}
	switch {
	case e.Status != 0:
		classifyStatus(e, code)
	case isTimeout(err):
		e.Code, e.Retryable, e.Msg = errcode.LLMUnavailable, true, "the request timed out"
	case isNetwork(err):
		e.Code, e.Retryable, e.Msg = errcode.LLMUnavailable, true, "could not reach the API"
	case isMalformed(err):
		e.Code, e.Retryable, e.Msg = errcode.LLMUnavailable, true, "the API's answer was malformed"
	default:
		e.Code, e.Msg = errcode.Internal, "unexpected error"
	}
	if e.Retryable {
		e.RetryAfter = retryAfter
	}
	return e
}

// classifyStatus follows OpenAI's SDKs: 408, 409, 429 and 5xx are worth
// retrying, other statuses are not.
func classifyStatus(e *Error, code string) {
	switch s := e.Status; {
	case s == http.StatusTooManyRequests && code == "insufficient_quota":
		e.Code, e.Msg = errcode.LLMUnavailable, "the account's quota is exhausted: check billing"
	case s == http.StatusRequestTimeout || s == http.StatusConflict || s == http.StatusTooManyRequests || s >= 500:
		e.Code, e.Retryable, e.Msg = errcode.LLMUnavailable, true, "the API is unavailable or rate-limited"
	case s == http.StatusUnauthorized:
		e.Code, e.Msg = errcode.LLMRejected, "the API key was rejected: check OPENAI_API_KEY"
	case s == http.StatusForbidden:
		e.Code, e.Msg = errcode.LLMRejected, "access denied: check OPENAI_API_KEY and the project's permissions"
	case code == "content_policy_violation" || code == "moderation_blocked" || code == "content_filter":
		e.Code, e.Msg = errcode.LLMRefused, "the request was refused by the API's safety system"
	case s == http.StatusNotFound:
		e.Code, e.Msg = errcode.LLMRejected, "model or endpoint not found: check the OPENAI_*_MODEL settings and OPENAI_BASE_URL"
	default:
		e.Code, e.Msg = errcode.LLMRejected, "the API rejected the request"
	}
}

func isTimeout(err error) bool {
	if errors.Is(err, context.DeadlineExceeded) {
		return true
	}
	netErr, ok := errors.AsType[net.Error](err)
	return ok && netErr.Timeout()
}

func isNetwork(err error) bool {
	if _, ok := errors.AsType[*url.Error](err); ok {
		return true
	}
	if _, ok := errors.AsType[*net.OpError](err); ok {
		return true
	}
	return errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) ||
		errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, syscall.ECONNRESET)
}

func isMalformed(err error) bool {
	_, syntax := errors.AsType[*json.SyntaxError](err)
	_, typ := errors.AsType[*json.UnmarshalTypeError](err)
	return syntax || typ
}

// rejected is an error for a request the Client refuses to send.
func (c classifier) rejected(msg string) *Error {
	return &Error{Code: errcode.LLMRejected, Op: c.op, Msg: msg}
}

// unusable is an error for a 200 answer the Client cannot use.
func (c classifier) unusable(msg string, retryable bool, err error) *Error {
	return &Error{Code: errcode.LLMUnavailable, Op: c.op, Msg: msg, Retryable: retryable, Err: err}
}

// captureKey keys the *capture a call stores in its request context, so
// concurrent calls never mix their Retry-After values.
type captureKey struct{}

type capture struct{ retryAfter time.Duration }

func withCapture(ctx context.Context) (context.Context, *capture) {
	c := &capture{}
	return context.WithValue(ctx, captureKey{}, c), c
}

// captureTransport records each answer's Retry-After in the request's
// capture; go-openai does not expose response headers on errors.
type captureTransport struct{ base http.RoundTripper }

func (t captureTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := t.base.RoundTrip(req)
	if err == nil {
		if c, ok := req.Context().Value(captureKey{}).(*capture); ok {
			c.retryAfter = parseRetryAfter(resp.Header, time.Now())
		}
	}
	return resp, err
}

// parseRetryAfter reads retry-after-ms (sent by OpenAI) or Retry-After, in
// seconds or as an HTTP date.
func parseRetryAfter(h http.Header, now time.Time) time.Duration {
	const maxDelay = 24 * time.Hour // beyond that (or NaN), the header is nonsense
	if ms, err := strconv.ParseFloat(h.Get("Retry-After-Ms"), 64); err == nil && ms > 0 && ms <= float64(maxDelay/time.Millisecond) {
		return time.Duration(ms * float64(time.Millisecond))
	}
	v := strings.TrimSpace(h.Get("Retry-After"))
	if v == "" {
		return 0
	}
	if secs, err := strconv.ParseFloat(v, 64); err == nil {
		if secs >= 0 && secs <= maxDelay.Seconds() {
			return time.Duration(secs * float64(time.Second))
		}
		return 0
	}
	if t, err := http.ParseTime(v); err == nil {
		return min(max(0, t.Sub(now)), maxDelay)
	}
	return 0
}
