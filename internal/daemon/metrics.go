package daemon

import (
	"github.com/vigil-go/vigil/internal/config"
	"github.com/vigil-go/vigil/internal/metrics"
	"github.com/vigil-go/vigil/internal/monitor"
	"github.com/vigil-go/vigil/internal/web"
)

// newMetrics builds the Prometheus metrics over src (the status the page
// shows: the decided one in cluster mode) and counts probe checks from the
// monitor's Observed hook. It returns nil, so that the web server serves no
// /metrics, unless [server] metrics_enabled is true.
func newMetrics(cfg *config.Config, src metrics.Source, h *hooks) web.Metrics {
	if !cfg.Server.MetricsEnabled {
		return nil
	}
	m := metrics.New(cfg, src)
	h.onObserved = append(h.onObserved, func(o monitor.Observation) {
		m.Checked(o.Service, o.Node, o.Result.Health)
	})
	return m
}
