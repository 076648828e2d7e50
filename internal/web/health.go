package web

import (
	"context"
	"io"
	"net/http"
	"time"
)

// Readiness says whether Vigil is ready to take traffic (implemented by
// internal/health): nil, or why not.
type Readiness interface {
	Ready(ctx context.Context) error
}

// readyTimeout bounds the work of one GET /readyz; the readiness check
// bounds its own store ping more tightly.
const readyTimeout = 2 * time.Second

// healthRoutes registers the probes of load balancers and orchestrators,
// public (no token) and under path_prefix like every route:
//
//   - GET /healthz answers 200 "ok" while the process serves HTTP: a
//     liveness probe, which restarts a process that stops answering;
//   - GET /readyz answers 200 "ok" when Readiness says so, and 503 with the
//     reason otherwise: a readiness probe, which only takes the process out
//     of rotation. Without a Readiness it is /healthz.
//
// Neither is ever cached by a proxy: each answer is the state now.
func (s *Server) healthRoutes() {
	s.mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		healthAnswer(w, http.StatusOK, "ok")
	})
	s.mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, r *http.Request) {
		if s.readiness == nil {
			healthAnswer(w, http.StatusOK, "ok")
			return
		}
		ctx, cancel := context.WithTimeout(r.Context(), readyTimeout)
		defer cancel()
		if err := s.readiness.Ready(ctx); err != nil {
			healthAnswer(w, http.StatusServiceUnavailable, err.Error())
			return
		}
		healthAnswer(w, http.StatusOK, "ok")
	})
}

func healthAnswer(w http.ResponseWriter, code int, text string) {
	h := w.Header()
	h.Set("Content-Type", "text/plain; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	w.WriteHeader(code)
	_, _ = io.WriteString(w, text+"\n")
}
