package health_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/wabot/wabot/internal/health"
)

func TestEndpoints(t *testing.T) {
	t.Parallel()
	c := health.New(0)
	c.Add("postgres", func(context.Context) error { return nil })
	failing := errors.New("dial tcp: connection refused")
	redisErr := error(nil)
	c.Add("redis", func(context.Context) error { return redisErr })
	mux := http.NewServeMux()
	c.Register(mux)
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)

	get := func(path string) (int, string) {
		req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, srv.URL+path, nil)
		require.NoError(t, err)
		resp, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		defer func() { _ = resp.Body.Close() }()
		body, err := io.ReadAll(resp.Body)
		require.NoError(t, err)
		return resp.StatusCode, string(body)
	}

	code, _ := get("/readyz")
	require.Equal(t, http.StatusOK, code)

	redisErr = failing
	code, body := get("/readyz")
	require.Equal(t, http.StatusServiceUnavailable, code)
	require.Contains(t, body, "redis failed")
	require.Contains(t, body, "postgres ok")

	code, body = get("/healthz")
	require.Equal(t, http.StatusServiceUnavailable, code)
	var sum struct {
		OK     bool
		Checks []health.Result
	}
	require.NoError(t, json.Unmarshal([]byte(body), &sum))
	require.False(t, sum.OK)
	require.Len(t, sum.Checks, 2)
	require.Equal(t, "redis", sum.Checks[1].Name)
	require.Contains(t, sum.Checks[1].Error, "connection refused")

	code, _ = get("/livez")
	require.Equal(t, http.StatusOK, code)
}
