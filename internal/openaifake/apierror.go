package openaifake

import (
	"cmp"
	"crypto/subtle"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// apiError is OpenAI's error object; Param and Code encode as null when empty.
type apiError struct {
	Message string  `json:"message"`
	Type    string  `json:"type"`
	Param   *string `json:"param"`
	Code    *string `json:"code"`
}

func strPtr(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

func invalidRequest(msg, param, code string) apiError {
	return apiError{Message: msg, Type: "invalid_request_error", Param: strPtr(param), Code: strPtr(code)}
}

func serverError(msg string) apiError {
	return apiError{Message: msg, Type: "server_error"}
}

// failRequest answers with an OpenAI-style error body.
func failRequest(w http.ResponseWriter, status int, e apiError) {
	writeJSON(w, status, map[string]apiError{"error": e})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write(b)
}

// faultError is the error body OpenAI sends for status.
func faultError(status int, code string) apiError {
	switch {
	case status == http.StatusTooManyRequests && code == "insufficient_quota":
		return apiError{
			Message: "You exceeded your current quota, please check your plan and billing details.",
			Type:    "insufficient_quota", Code: strPtr(code),
		}
	case status == http.StatusTooManyRequests:
		return apiError{
			Message: "Rate limit reached for requests per min (RPM): Limit 3, Used 3, Requested 1. Please try again in 20s.",
			Type:    "requests", Code: strPtr(cmp.Or(code, "rate_limit_exceeded")),
		}
	case status >= 500:
		return apiError{
			Message: "The server had an error while processing your request. Sorry about that!",
			Type:    "server_error", Code: strPtr(code),
		}
	case status == http.StatusUnauthorized:
		return invalidRequest("Incorrect API key provided.", "", cmp.Or(code, "invalid_api_key"))
	case status == http.StatusNotFound:
		return invalidRequest("The model does not exist or you do not have access to it.", "", cmp.Or(code, "model_not_found"))
	default:
		return invalidRequest("The request was rejected (injected fault).", "", code)
	}
}

// decodeBody reads a JSON request body into a T. On a bad body it records
// the request and answers 400 as OpenAI does; ok is false then.
func decodeBody[T any](h *Handler, w http.ResponseWriter, r *http.Request) (v T, body []byte, ok bool) {
	body, err := io.ReadAll(io.LimitReader(r.Body, maxBodyBytes))
	if err != nil {
		return v, nil, false
	}
	if err := json.Unmarshal(body, &v); err != nil {
		h.record(r, Request{Body: body})
		failRequest(w, http.StatusBadRequest, invalidRequest("We could not parse the JSON body of your request.", "", ""))
		return v, body, false
	}
	return v, body, true
}

func writeFault(w http.ResponseWriter, f Fault) {
	if f.RetryAfter > 0 {
		secs := int64((f.RetryAfter + time.Second - 1) / time.Second)
		w.Header().Set("Retry-After", strconv.FormatInt(secs, 10))
	}
	status := f.Status
	if f.Body != "" {
		if status == 0 {
			status = http.StatusBadGateway
		}
		ct := "text/html; charset=utf-8"
		if json.Valid([]byte(f.Body)) {
			ct = "application/json"
		}
		w.Header().Set("Content-Type", ct)
		w.WriteHeader(status)
		_, _ = w.Write([]byte(f.Body))
		return
	}
	failRequest(w, status, faultError(status, f.Code))
}

// writeRefusal answers a non-chat request that a Refuse or ContentFilter
// fault hit.
func writeRefusal(w http.ResponseWriter, images bool) {
	if images {
		failRequest(w, http.StatusBadRequest, invalidRequest(
			"Your request was rejected as a result of our safety system. Your prompt may contain text that is not allowed by our safety system.",
			"", "content_policy_violation"))
		return
	}
	failRequest(w, http.StatusBadRequest, invalidRequest("The request was refused (injected fault).", "", ""))
}

// authed enforces WithAPIKey.
func (h *Handler) authed(next http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if h.opts.apiKey == "" {
			next(w, r)
			return
		}
		got, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
		if ok && subtle.ConstantTimeCompare([]byte(got), []byte(h.opts.apiKey)) == 1 {
			next(w, r)
			return
		}
		h.record(r, Request{})
		msg := "You didn't provide an API key. You need to provide your API key in an Authorization header using Bearer auth (i.e. Authorization: Bearer YOUR_KEY)."
		if ok && got != "" {
			msg = fmt.Sprintf("Incorrect API key provided: %s. You can find your API key at https://platform.openai.com/account/api-keys.", maskKey(got))
		}
		failRequest(w, http.StatusUnauthorized, invalidRequest(msg, "", "invalid_api_key"))
	}
}

// maskKey masks a key the way OpenAI does in its 401 message.
func maskKey(k string) string {
	if len(k) <= 8 {
		return strings.Repeat("*", len(k))
	}
	return k[:3] + strings.Repeat("*", len(k)-7) + k[len(k)-4:]
}

func (h *Handler) notFound(w http.ResponseWriter, r *http.Request) {
	failRequest(w, http.StatusNotFound, invalidRequest(fmt.Sprintf("Invalid URL (%s %s)", r.Method, r.URL.Path), "", ""))
}
