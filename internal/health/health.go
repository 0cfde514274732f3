// Package health serves a process's liveness and readiness endpoints:
// /livez (the process runs), /readyz (every dependency answers) and /healthz
// (a JSON summary of each check).
package health

import (
	"context"
	"encoding/json"
	"net/http"
	"sync"
	"time"
)

// Check reports whether one dependency works.
type Check func(ctx context.Context) error

// Checker runs named checks.
type Checker struct {
	timeout time.Duration
	mu      sync.RWMutex
	names   []string
	checks  map[string]Check
}

// New returns a Checker whose checks each get timeout (default 2s).
func New(timeout time.Duration) *Checker {
	if timeout <= 0 {
		timeout = 2 * time.Second
	}
	return &Checker{timeout: timeout, checks: map[string]Check{}}
}

// Add registers a named check; a later Add with the same name replaces it.
func (c *Checker) Add(name string, check Check) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, ok := c.checks[name]; !ok {
		c.names = append(c.names, name)
	}
	c.checks[name] = check
}

// Result is one check's outcome.
type Result struct {
	Name     string `json:"name"`
	OK       bool   `json:"ok"`
	Error    string `json:"error,omitempty"`
	Duration string `json:"duration"`
}

// Run runs every check concurrently and returns their results in the order added.
func (c *Checker) Run(ctx context.Context) ([]Result, bool) {
	c.mu.RLock()
	names := append([]string(nil), c.names...)
	checks := make([]Check, len(names))
	for i, n := range names {
		checks[i] = c.checks[n]
	}
	c.mu.RUnlock()

	results := make([]Result, len(names))
	var wg sync.WaitGroup
	for i := range names {
		wg.Go(func() {
			cctx, cancel := context.WithTimeout(ctx, c.timeout)
			defer cancel()
			start := time.Now()
			err := checks[i](cctx)
			results[i] = Result{Name: names[i], OK: err == nil, Duration: time.Since(start).Round(time.Microsecond).String()}
			if err != nil {
				results[i].Error = err.Error()
			}
		})
	}
	wg.Wait()
	ok := true
	for _, r := range results {
		ok = ok && r.OK
	}
	return results, ok
}

// Register mounts /livez, /readyz and /healthz on mux.
func (c *Checker) Register(mux *http.ServeMux) {
	mux.HandleFunc("GET /livez", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		_, _ = w.Write([]byte("ok\n"))
	})
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, r *http.Request) {
		results, ok := c.Run(r.Context())
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		if !ok {
			w.WriteHeader(http.StatusServiceUnavailable)
		}
		for _, res := range results {
			status := "ok"
			if !res.OK {
				status = "failed"
			}
			_, _ = w.Write([]byte(res.Name + " " + status + "\n"))
		}
	})
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		results, ok := c.Run(r.Context())
		w.Header().Set("Content-Type", "application/json")
		if !ok {
			w.WriteHeader(http.StatusServiceUnavailable)
		}
		_ = json.NewEncoder(w).Encode(struct {
			OK     bool     `json:"ok"`
			Checks []Result `json:"checks"`
		}{ok, results})
	})
}
