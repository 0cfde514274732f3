package payloadcodec

import (
	"crypto/subtle"
	"net/http"
	"slices"
	"strings"

	"go.temporal.io/sdk/converter"
)

// Path is where the admin server mounts the codec endpoint; the Web UI calls
// Path+"/decode" (and "/encode").
const Path = "/codec"

// Handler serves the Temporal remote codec protocol (POST …/encode and
// …/decode) for the Web UI and `temporal --codec-endpoint`. Every request
// needs "Authorization: Bearer <token>"; browsers from origins may call it
// (CORS, with the preflight answered without a token, as browsers send
// none). The Web UI cannot add a static header, so the token may instead be
// a path segment: point the UI at <admin>/codec/t/<token> (it appends
// /decode). With an empty token the endpoint refuses everything.
func Handler(codec converter.PayloadCodec, token string, origins []string) http.Handler {
	inner := converter.NewPayloadCodecHTTPHandler(codec)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if origin := r.Header.Get("Origin"); origin != "" && slices.Contains(origins, origin) {
			h := w.Header()
			h.Set("Access-Control-Allow-Origin", origin)
			h.Set("Access-Control-Allow-Credentials", "true")
			h.Set("Access-Control-Allow-Headers", "Authorization, Content-Type, X-Namespace")
			h.Set("Access-Control-Allow-Methods", "POST, OPTIONS")
			h.Add("Vary", "Origin")
		}
		if r.Method == http.MethodOptions {
			w.WriteHeader(http.StatusNoContent)
			return
		}
		if !authorized(r, token) {
			w.Header().Set("WWW-Authenticate", `Bearer realm="wabot codec"`)
			http.Error(w, "unauthorized", http.StatusUnauthorized)
			return
		}
		inner.ServeHTTP(w, r)
	})
}

func authorized(r *http.Request, token string) bool {
	if token == "" {
		return false
	}
	got, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	if !ok {
		rest, inPath := strings.CutPrefix(r.URL.Path, Path+"/t/")
		got, _, _ = strings.Cut(rest, "/")
		ok = inPath
	}
	return ok && subtle.ConstantTimeCompare([]byte(got), []byte(token)) == 1
}
