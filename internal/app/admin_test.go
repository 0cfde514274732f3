package app_test

import (
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/wabot/wabot/internal/app"
	"github.com/wabot/wabot/internal/config"
	"github.com/wabot/wabot/internal/health"
)

// The profiler is on the admin server only when ADMIN_PPROF asks for it.
func TestAdminServesPprofOnlyWhenEnabled(t *testing.T) {
	t.Parallel()
	for _, on := range []bool{false, true} {
		var cfg config.Config
		cfg.HTTP.Pprof = on
		srv := httptest.NewServer(app.AdminHandlerFor(&app.Deps{Config: cfg, Health: health.New(time.Second), Alerts: &app.Alerts{}}))
		resp, err := http.Get(srv.URL + "/debug/pprof/goroutine?debug=1")
		require.NoError(t, err)
		_ = resp.Body.Close()
		srv.Close()
		want := http.StatusNotFound
		if on {
			want = http.StatusOK
		}
		require.Equal(t, want, resp.StatusCode, "ADMIN_PPROF=%v", on)
	}
}
