package web

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/vigil-go/vigil/internal/config"
	"github.com/vigil-go/vigil/internal/config/configtest"
	"github.com/vigil-go/vigil/internal/metrics"
	"github.com/vigil-go/vigil/internal/monitor"
)

const metricsConfig = `
[server]
manager_token = "manager-secret"
reporter_token = "reporter-secret"
%s

` + configtest.Branding + `
[[probe.service]]
id = "app"
label = "App"

[[probe.service.node]]
id = "site"
label = "Site"
mode = "poll"
reveal_replica_name = true
replicas = ["https://www.example.com/"]

[[probe.service.node]]
id = "backend"
label = "Backend"
mode = "poll"
replicas = ["http://10.0.0.3:8080/health", "http://10.0.0.4:8080/health"]

[[probe.service.node]]
id = "workers"
label = "Workers"
mode = "push"
`

// metricsServer serves a monitor that is built but never run: its snapshot
// is the initial one (every replica healthy and unchecked), and reports
// reach it through the real reporter routes.
type metricsServer struct {
	*httptest.Server
	metrics *metrics.Metrics
}

// newMetricsServer builds the server from the [server] lines given; with
// withMetrics false, no Metrics are passed to the web server.
func newMetricsServer(t *testing.T, server string, withMetrics bool) *metricsServer {
	t.Helper()
	cfg, _, err := config.Parse("test.cfg", []byte(fmt.Sprintf(metricsConfig, server)), nil)
	if err != nil {
		t.Fatal(err)
	}
	log := slog.New(slog.DiscardHandler)
	mon := monitor.New(monitor.Options{Config: cfg, Logger: log})
	m := metrics.New(cfg, mon)
	o := Options{Config: cfg, Source: mon, Reporter: mon, Logger: log}
	if withMetrics {
		o.Metrics = m
	}
	site, err := New(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(site)
	t.Cleanup(srv.Close)
	return &metricsServer{srv, m}
}

func (ms *metricsServer) get(t *testing.T, path string, auth ...string) reply {
	t.Helper()
	rs := reporterServer{Server: ms.Server}
	return rs.send(t, "GET", path, "", "", auth...)
}

func TestMetricsOffUnlessEnabled(t *testing.T) {
	for _, c := range []struct {
		name        string
		server      string
		withMetrics bool
	}{
		{"metrics built, metrics_enabled unset", "", true},
		{"metrics built, metrics_enabled = false", "metrics_enabled = false", true},
		{"metrics_enabled = true, no metrics built", "metrics_enabled = true", false},
	} {
		t.Run(c.name, func(t *testing.T) {
			ms := newMetricsServer(t, c.server, c.withMetrics)
			if got := ms.get(t, "/metrics"); got.code != http.StatusNotFound || got.body != "" {
				t.Errorf("GET /metrics = %d %q, want 404 and an empty body", got.code, got.body)
			}
		})
	}
}

func TestMetricsScrape(t *testing.T) {
	ms := newMetricsServer(t, "metrics_enabled = true", true)
	got := ms.get(t, "/metrics/") // trailing slashes are trimmed, as on every route
	if got.code != http.StatusOK {
		t.Fatalf("GET /metrics = %d %q, want 200", got.code, got.body)
	}
	for _, line := range []string{
		"vigil_page_status 0",
		`vigil_node_status{mode="poll",node="backend",service="app"} 0`,
		`vigil_node_status{mode="push",node="workers",service="app"} 0`,
		`vigil_replica_status{node="site",replica="https://www.example.com/",service="app"} 0`,
		`vigil_replica_status{node="backend",replica="1",service="app"} 0`,
		`vigil_replica_status{node="backend",replica="2",service="app"} 0`,
		`vigil_replicas{node="backend",service="app",status="healthy"} 2`,
		`vigil_replicas{node="workers",service="app",status="healthy"} 0`,
		`vigil_probe_checks_total{node="backend",result="dead",service="app"} 0`,
	} {
		if !strings.Contains(got.body, line+"\n") {
			t.Errorf("scrape lacks %q", line)
		}
	}
	if strings.Contains(got.body, "10.0.0.") {
		t.Error("scrape shows the id of a replica whose node does not reveal replica names")
	}
}

func TestMetricsToken(t *testing.T) {
	ms := newMetricsServer(t, "metrics_enabled = true\nmetrics_token = \"scrape-secret\"", true)
	got := ms.get(t, "/metrics")
	if got.code != http.StatusUnauthorized || got.header.Get("WWW-Authenticate") == "" {
		t.Errorf("GET /metrics without credentials = %d (WWW-Authenticate %q), want 401 with a challenge",
			got.code, got.header.Get("WWW-Authenticate"))
	}
	if got := ms.get(t, "/metrics", "", "reporter-secret"); got.code != http.StatusForbidden {
		t.Errorf("GET /metrics with the reporter token = %d, want 403", got.code)
	}
	got = ms.get(t, "/metrics", "prometheus", "scrape-secret")
	if got.code != http.StatusOK || !strings.Contains(got.body, "vigil_page_status 0\n") {
		t.Errorf("GET /metrics with the token = %d, want 200 and the page status; body:\n%.300s", got.code, got.body)
	}
}

// TestReporterAnswersCounted counts the reporter API's answers, the
// authentication failures included; flushes are not reports.
func TestReporterAnswersCounted(t *testing.T) {
	ms := newMetricsServer(t, "metrics_enabled = true", true)
	rs := reporterServer{Server: ms.Server}
	report := `{"replica": "10.0.0.1", "interval": 60, "load": {"cpu": 0.25, "ram": 0.5}}`
	sends := []struct {
		path, body string
		auth       []string
		want       int
	}{
		{"/reporter/app/workers", report, nil, http.StatusUnauthorized},
		{"/reporter/app/workers", report, []string{"", "wrong"}, http.StatusForbidden},
		{"/reporter/app/workers", report, []string{"", "reporter-secret"}, http.StatusOK},
		{"/reporter/app/workers/", report, []string{"", "reporter-secret"}, http.StatusOK},
		{"/reporter/app/workers", `{"replica":`, []string{"", "reporter-secret"}, http.StatusBadRequest},
	}
	for _, s := range sends {
		if got := rs.send(t, "POST", s.path, "application/json", s.body, s.auth...); got.code != s.want {
			t.Fatalf("POST %s %s = %d %q, want %d", s.path, s.body, got.code, got.body, s.want)
		}
	}
	if got := rs.send(t, "DELETE", "/reporter/app/workers/10.0.0.1", "", "", "", "reporter-secret"); got.code != http.StatusOK {
		t.Fatalf("flush = %d %q, want 200", got.code, got.body)
	}

	want := `
# HELP vigil_reporter_reports_total Answers of the reporter API to POST /reporter/{probe}/{node}, by HTTP status code.
# TYPE vigil_reporter_reports_total counter
vigil_reporter_reports_total{code="200"} 2
vigil_reporter_reports_total{code="400"} 1
vigil_reporter_reports_total{code="401"} 1
vigil_reporter_reports_total{code="403"} 1
`
	if err := testutil.GatherAndCompare(ms.metrics.Registry(), strings.NewReader(want), "vigil_reporter_reports_total"); err != nil {
		t.Error(err)
	}
}
