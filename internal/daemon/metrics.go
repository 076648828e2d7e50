package daemon

import (
	"time"

	"github.com/vigil-go/vigil/internal/config"
	"github.com/vigil-go/vigil/internal/metrics"
	"github.com/vigil-go/vigil/internal/status"
	"github.com/vigil-go/vigil/internal/web"
)

// newMetrics builds the Prometheus metrics over the feed's status (the one
// the page shows: the decided one in cluster mode) and counts this
// member's probe checks. It returns nil unless [server] metrics_enabled is
// true.
func newMetrics(cfg *config.Config, feed *statusFeed) *metrics.Metrics {
	if !cfg.Server.MetricsEnabled {
		return nil
	}
	m := metrics.New(cfg, feed)
	m.ConfigLoaded(true, time.Now()) // the config read at start counts as the first load
	feed.OnResult(func(o status.Observation) {
		m.Checked(o.Service, o.Node, o.Health)
	})
	return m
}

// webMetrics is m for the web server, which serves no /metrics without it.
func webMetrics(m *metrics.Metrics) web.Metrics {
	if m == nil {
		return nil // not a typed nil: the server tests for nil
	}
	return m
}
