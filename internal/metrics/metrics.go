// Package metrics exposes Vigil's state to Prometheus.
//
// The status gauges are read from the monitor's snapshot when Prometheus
// scrapes, by a custom collector: probing pays nothing for them, and a
// scrape always agrees with what the status page shows. What is kept as
// events happen: probe checks (one Inc per result, from the monitor's
// Observed hook), reporter API answers, and the outbox's delivery attempts
// and pending messages (from its hooks: a scrape runs no database query).
//
// Replica ids are often private URLs (http://10.0.0.3:8080/health), so the
// replica label holds the id only when the node sets reveal_replica_name,
// as on the page; otherwise it holds the replica's 1-based position in the
// node, the number the page shows in its box.
package metrics

import (
	"net/http"
	"strconv"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/vigil-go/vigil/internal/config"
	"github.com/vigil-go/vigil/internal/status"
)

// Source publishes the state to expose; Snapshot never blocks and returns
// an immutable value (nil before the first one is published).
type Source interface {
	Snapshot() *status.Snapshot
}

// healths lists every health, for the series that carry one per status.
var healths = [...]status.Health{status.Healthy, status.Sick, status.Dead}

// Metrics holds Vigil's registry. It serves the exposition format as an
// http.Handler; its methods are safe for concurrent use.
type Metrics struct {
	reg     *prometheus.Registry
	handler http.Handler

	checks *prometheus.CounterVec
	// checkCounters holds a counter per configured (service, node, result),
	// built at New and read-only after, so a probe result costs a map read
	// and an atomic add rather than the vector's hashing and locking.
	checkCounters map[checkKey]prometheus.Counter
	reports       *prometheus.CounterVec
	notifications *prometheus.CounterVec
	pending       *prometheus.GaugeVec
	reload        configReload
}

type checkKey struct {
	service, node string
	result        status.Health
}

// New registers the snapshot collector over src, the checks and reports
// counters and the Go runtime and process collectors. cfg, when not nil,
// names the configured services and nodes: their check counters start at
// zero, so that rate() sees the first check of each.
func New(cfg *config.Config, src Source) *Metrics {
	m := &Metrics{
		reg: prometheus.NewRegistry(),
		checks: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "vigil_probe_checks_total",
			Help: "Poll and script checks of replicas, by result (healthy, sick, dead).",
		}, []string{"service", "node", "result"}),
		checkCounters: map[checkKey]prometheus.Counter{},
		reports: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "vigil_reporter_reports_total",
			Help: "Answers of the reporter API to POST /reporter/{probe}/{node}, by HTTP status code.",
		}, []string{"code"}),
		notifications: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "vigil_notifications_total",
			Help: "Notification delivery attempts by channel and result: delivered, failed (to be retried), given_up.",
		}, []string{"channel", "result"}),
		pending: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "vigil_notifications_pending",
			Help: "Notifications of a channel waiting to be sent, as the delivering outbox worker last read them.",
		}, []string{"channel"}),
	}
	if cfg != nil {
		for _, svc := range cfg.Probe.Services {
			for _, node := range svc.Nodes {
				for _, h := range healths {
					m.checkCounters[checkKey{svc.ID, node.ID, h}] = m.checks.WithLabelValues(svc.ID, node.ID, h.String())
				}
			}
		}
	}
	m.reload = newConfigReload()
	m.reg.MustRegister(
		m.reload.successful,
		m.reload.at,
		newSnapshotCollector(src),
		m.checks,
		m.reports,
		m.notifications,
		m.pending,
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
	)
	// ContinueOnError: a scrape that cannot gather one collector still
	// returns the others rather than nothing.
	m.handler = promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{ErrorHandling: promhttp.ContinueOnError})
	return m
}

// Registry returns the registry, to gather from in tests or to add
// collectors to.
func (m *Metrics) Registry() *prometheus.Registry { return m.reg }

// ServeHTTP answers a scrape.
func (m *Metrics) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	m.handler.ServeHTTP(w, r)
}

// Checked counts one poll or script check result of a replica of the given
// service and node (push and local reports are counted by
// vigil_reporter_reports_total). It returns at once: it is called from the
// monitor's Observed hook.
func (m *Metrics) Checked(service, node string, result status.Health) {
	if c, ok := m.checkCounters[checkKey{service, node, result}]; ok {
		c.Inc()
		return
	}
	m.checks.WithLabelValues(service, node, result.String()).Inc()
}

// InstrumentReporter counts the answers h gives, by status code, in
// vigil_reporter_reports_total. Wrap the whole route, authentication
// included, so that rejected reports are counted too.
func (m *Metrics) InstrumentReporter(h http.Handler) http.Handler {
	return promhttp.InstrumentHandlerCounter(m.reports, h)
}

// ReplicaLabel is the replica label of the replica at index i (0-based) of
// node: its id when the node reveals replica names, else its 1-based
// position.
func ReplicaLabel(node *status.Node, i int) string {
	if node.RevealReplicaName {
		return status.Redacted(node.Replicas[i].ID)
	}
	return strconv.Itoa(i + 1)
}

// Channels starts the notification series of the named channels at zero,
// so that rate() and alerts on them see the first event.
func (m *Metrics) Channels(names, results []string) {
	for _, ch := range names {
		for _, r := range results {
			m.notifications.WithLabelValues(ch, r)
		}
		m.pending.WithLabelValues(ch)
	}
}

// Notified counts one delivery attempt of channel with its result
// (one of the results given to Channels). It returns at once.
func (m *Metrics) Notified(channel, result string) {
	m.notifications.WithLabelValues(channel, result).Inc()
}

// Pending sets how many notifications of channel wait to be sent.
func (m *Metrics) Pending(channel string, n int) {
	m.pending.WithLabelValues(channel).Set(float64(n))
}
