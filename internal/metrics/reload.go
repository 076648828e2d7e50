package metrics

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// configReload is the outcome of the last config load, under the names
// Prometheus itself uses, so that the same alert rule watches both.
type configReload struct {
	successful prometheus.Gauge
	at         prometheus.Gauge
}

func newConfigReload() configReload {
	return configReload{
		successful: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "vigil_config_last_reload_successful",
			Help: "Whether the last config load (the start, SIGHUP or a change of the file with watch_config) was applied: 1, or 0 when it was refused.",
		}),
		at: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "vigil_config_last_reload_success_timestamp_seconds",
			Help: "When the config was last loaded and applied, in seconds since the Unix epoch.",
		}),
	}
}

// ConfigLoaded records a config load at at: applied (ok), or refused, which
// leaves the time of the last applied one.
func (m *Metrics) ConfigLoaded(ok bool, at time.Time) {
	if !ok {
		m.reload.successful.Set(0)
		return
	}
	m.reload.successful.Set(1)
	m.reload.at.Set(float64(at.UnixNano()) / 1e9)
}
