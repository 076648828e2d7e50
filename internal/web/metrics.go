package web

import "net/http"

// Metrics is what the server needs of the Prometheus metrics (implemented
// by internal/metrics): the scrape handler, and a counter of the reporter
// API's answers.
type Metrics interface {
	http.Handler // answers GET /metrics
	// InstrumentReporter counts the answers h gives, by status code.
	InstrumentReporter(h http.Handler) http.Handler
}

// enabledMetrics returns o.Metrics when the config enables metrics, nil
// otherwise: metrics_enabled = false serves no /metrics even when the
// caller built them.
func enabledMetrics(o Options) Metrics {
	if o.Metrics == nil || o.Config == nil || !o.Config.Server.MetricsEnabled {
		return nil
	}
	return o.Metrics
}

// metricsRoute registers GET /metrics when metrics are enabled, behind
// HTTP Basic with [server] metrics_token as the password when one is set.
// Without metrics the path falls through to the catch-all 404.
func (s *Server) metricsRoute() {
	if s.metrics == nil {
		return
	}
	h := s.metrics.ServeHTTP
	if token := s.cfg.Server.MetricsToken; token != "" {
		h = requireToken(token, h)
	}
	s.mux.HandleFunc("GET /metrics", h)
}

// countReports counts the answers of a reporter route, its authentication
// failures included, when metrics are enabled.
func (s *Server) countReports(h http.HandlerFunc) http.HandlerFunc {
	if s.metrics == nil {
		return h
	}
	return s.metrics.InstrumentReporter(h).ServeHTTP
}
