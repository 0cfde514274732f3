package openaifake

import (
	"net/http/httptest"
	"sync"
)

// Server is the fake API listening on 127.0.0.1 at a random port. The
// Handler's methods (Enqueue, SetLatency, Hold, SetReply, Requests) are
// available on it.
type Server struct {
	*Handler
	ts        *httptest.Server
	closeOnce sync.Once
}

// New starts a Server. Close it when done (t.Cleanup(s.Close)).
func New(opts ...Option) *Server {
	h := NewHandler(opts...)
	return &Server{Handler: h, ts: httptest.NewServer(h)}
}

// URL is the base URL including /v1, for openai.ClientConfig.BaseURL.
func (s *Server) URL() string { return s.ts.URL + "/v1" }

// Close releases held and hanging requests, then stops the server and waits
// for its requests to finish. It is idempotent.
func (s *Server) Close() {
	s.closeOnce.Do(func() {
		s.Handler.Close()
		s.ts.Close()
	})
}
