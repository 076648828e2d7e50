package web

import (
	"context"
	"errors"
	"net/http"
	"sync/atomic"
	"testing"
)

// switchReadiness is a Readiness a test flips.
type switchReadiness struct{ err atomic.Pointer[error] }

func (s *switchReadiness) Ready(context.Context) error {
	if p := s.err.Load(); p != nil {
		return *p
	}
	return nil
}

func (s *switchReadiness) set(err error) { s.err.Store(&err) }

// TestHealthEndpoints: /healthz answers 200 while serving; /readyz follows
// the Readiness, with its reason in a 503's body; both live under
// path_prefix only, need no token even when every token is set, and are
// never cached.
func TestHealthEndpoints(t *testing.T) {
	cfg := testConfig(t)
	cfg.Server.PathPrefix = "/status"
	cfg.Server.ManagerToken, cfg.Server.ReporterToken, cfg.Server.MetricsToken = "m", "r", "p"
	ready := &switchReadiness{}
	ready.set(errors.New("not ready: first round of checks not done: 2 replicas not checked yet"))
	ts := newTestServer(t, Options{Config: cfg, Readiness: ready})

	check := func(path string, code int, body string) {
		t.Helper()
		res := ts.get(t, path)
		if res.code != code || res.body != body {
			t.Errorf("GET %s = %d %q, want %d %q", path, res.code, res.body, code, body)
		}
		if code != http.StatusNotFound {
			wantHeaders(t, "GET "+path, res.header, map[string]string{
				"Cache-Control": "no-store",
				"Content-Type":  "text/plain; charset=utf-8",
			})
		}
	}
	check("/status/healthz", 200, "ok\n")
	check("/status/readyz", 503, "not ready: first round of checks not done: 2 replicas not checked yet\n")
	ready.set(nil)
	check("/status/readyz", 200, "ok\n")
	check("/status/healthz/", 200, "ok\n") // trailing slash, as every route
	ready.set(errors.New("not ready: store does not answer: ping: connection refused"))
	check("/status/readyz", 503, "not ready: store does not answer: ping: connection refused\n")
	check("/status/healthz", 200, "ok\n") // liveness does not follow readiness

	check("/healthz", 404, "")
	check("/readyz", 404, "")
	if res := ts.do(t, http.MethodPost, "/status/healthz"); res.code != http.StatusNotFound {
		t.Errorf("POST /status/healthz = %d, want 404 as every wrong method", res.code)
	}
	if res := ts.do(t, http.MethodHead, "/status/readyz"); res.code != http.StatusServiceUnavailable {
		t.Errorf("HEAD /status/readyz = %d, want 503 as GET", res.code)
	}
}

// TestReadyWithoutReadiness: a server built without a Readiness is ready
// while it serves.
func TestReadyWithoutReadiness(t *testing.T) {
	ts := newTestServer(t, Options{})
	for _, path := range []string{"/healthz", "/readyz"} {
		if res := ts.get(t, path); res.code != 200 || res.body != "ok\n" {
			t.Errorf("GET %s = %d %q, want 200 \"ok\\n\"", path, res.code, res.body)
		}
	}
}
