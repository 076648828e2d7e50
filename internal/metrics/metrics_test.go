package metrics

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/vigil-go/vigil/internal/config/configtest"
	"github.com/vigil-go/vigil/internal/status"
	"github.com/vigil-go/vigil/internal/testkit"
)

// sampleSnapshot has a revealing poll node, a hiding push node and a node
// without replicas, with the rollup done as the monitor does it.
func sampleSnapshot() *status.Snapshot {
	services := []status.Service{
		{ID: "web", Label: "Web", Nodes: []status.Node{
			{ID: "api", Label: "API", Mode: status.Poll, RevealReplicaName: true, Replicas: []status.Replica{
				{ID: "https://api.example.com/health", Health: status.Healthy, Latency: 120 * time.Millisecond, HasLatency: true},
				{ID: "https://api2.example.com/health", Health: status.Sick, Latency: 2500 * time.Millisecond, HasLatency: true},
			}},
			{ID: "workers", Label: "Workers", Mode: status.Push, Replicas: []status.Replica{
				{ID: "http://10.0.0.3:8080/private", Health: status.Dead},
				{ID: "worker-2", Health: status.Healthy},
				{ID: "worker-3", Health: status.Healthy, HasLatency: true}, // known, and 0
			}},
		}},
		{ID: "db", Label: "DB", Nodes: []status.Node{
			{ID: "empty", Label: "Empty", Mode: status.Script},
		}},
	}
	health, dead := status.Rollup(services)
	return &status.Snapshot{Version: 7, Health: health, Services: services, Dead: dead}
}

func TestCollectorGauges(t *testing.T) {
	c := newSnapshotCollector(testkit.SourceOf(sampleSnapshot()))
	want := `
# HELP vigil_page_status Health of the whole page: 0 healthy, 1 sick, 2 dead.
# TYPE vigil_page_status gauge
vigil_page_status 2
# HELP vigil_service_status Health of a service: 0 healthy, 1 sick, 2 dead.
# TYPE vigil_service_status gauge
vigil_service_status{service="db"} 0
vigil_service_status{service="web"} 2
# HELP vigil_node_status Health of a node: 0 healthy, 1 sick, 2 dead.
# TYPE vigil_node_status gauge
vigil_node_status{mode="poll",node="api",service="web"} 1
vigil_node_status{mode="push",node="workers",service="web"} 2
vigil_node_status{mode="script",node="empty",service="db"} 0
# HELP vigil_replica_status Health of a replica: 0 healthy, 1 sick, 2 dead. replica is the id when the node sets reveal_replica_name, else the 1-based position.
# TYPE vigil_replica_status gauge
vigil_replica_status{node="api",replica="https://api.example.com/health",service="web"} 0
vigil_replica_status{node="api",replica="https://api2.example.com/health",service="web"} 1
vigil_replica_status{node="workers",replica="1",service="web"} 2
vigil_replica_status{node="workers",replica="2",service="web"} 0
vigil_replica_status{node="workers",replica="3",service="web"} 0
# HELP vigil_replica_latency_seconds Latency of a replica's last check, when known.
# TYPE vigil_replica_latency_seconds gauge
vigil_replica_latency_seconds{node="api",replica="https://api.example.com/health",service="web"} 0.12
vigil_replica_latency_seconds{node="api",replica="https://api2.example.com/health",service="web"} 2.5
vigil_replica_latency_seconds{node="workers",replica="3",service="web"} 0
# HELP vigil_replicas Number of replicas of a node in each status.
# TYPE vigil_replicas gauge
vigil_replicas{node="api",service="web",status="dead"} 0
vigil_replicas{node="api",service="web",status="healthy"} 1
vigil_replicas{node="api",service="web",status="sick"} 1
vigil_replicas{node="empty",service="db",status="dead"} 0
vigil_replicas{node="empty",service="db",status="healthy"} 0
vigil_replicas{node="empty",service="db",status="sick"} 0
vigil_replicas{node="workers",service="web",status="dead"} 1
vigil_replicas{node="workers",service="web",status="healthy"} 2
vigil_replicas{node="workers",service="web",status="sick"} 0
`
	if err := testutil.CollectAndCompare(c, strings.NewReader(want)); err != nil {
		t.Error(err)
	}
}

// TestCollectorFollowsTheSource: the gauges are read at scrape time, so a
// new snapshot shows at the next scrape with nothing else to update.
func TestCollectorFollowsTheSource(t *testing.T) {
	src := testkit.SourceOf(nil)
	c := newSnapshotCollector(src)
	// Before the first snapshot: the page is healthy, nothing else is known.
	if err := testutil.CollectAndCompare(c, strings.NewReader(`
# HELP vigil_page_status Health of the whole page: 0 healthy, 1 sick, 2 dead.
# TYPE vigil_page_status gauge
vigil_page_status 0
`)); err != nil {
		t.Error(err)
	}

	snap := sampleSnapshot()
	src.Store(snap)
	if got := testutil.CollectAndCount(c, "vigil_replica_status"); got != 5 {
		t.Errorf("%d vigil_replica_status series, want 5", got)
	}

	// The dead worker is flushed: the page turns sick.
	next := sampleSnapshot()
	next.Services[0].Nodes[1].Replicas = next.Services[0].Nodes[1].Replicas[1:]
	next.Health, next.Dead = status.Rollup(next.Services)
	src.Store(next)
	if err := testutil.CollectAndCompare(c, strings.NewReader(`
# HELP vigil_page_status Health of the whole page: 0 healthy, 1 sick, 2 dead.
# TYPE vigil_page_status gauge
vigil_page_status 1
# HELP vigil_replica_status Health of a replica: 0 healthy, 1 sick, 2 dead. replica is the id when the node sets reveal_replica_name, else the 1-based position.
# TYPE vigil_replica_status gauge
vigil_replica_status{node="api",replica="https://api.example.com/health",service="web"} 0
vigil_replica_status{node="api",replica="https://api2.example.com/health",service="web"} 1
vigil_replica_status{node="workers",replica="1",service="web"} 0
vigil_replica_status{node="workers",replica="2",service="web"} 0
`), "vigil_page_status", "vigil_replica_status"); err != nil {
		t.Error(err)
	}
}

const checksConfig = `
[server]
manager_token = "m"
reporter_token = "r"

` + configtest.Branding + `
[[probe.service]]
id = "web"
label = "Web"

[[probe.service.node]]
id = "api"
label = "API"
mode = "poll"
replicas = ["https://api.example.com/health"]
`

func TestChecksCounter(t *testing.T) {
	cfg := testkit.Config(t, checksConfig)
	m := New(cfg, testkit.SourceOf(nil))
	m.Checked("web", "api", status.Healthy)
	m.Checked("web", "api", status.Healthy)
	m.Checked("web", "api", status.Dead)
	// A node the config does not name (a config reload in flight, say) is
	// still counted.
	m.Checked("web", "other", status.Sick)

	want := `
# HELP vigil_probe_checks_total Poll and script checks of replicas, by result (healthy, sick, dead).
# TYPE vigil_probe_checks_total counter
vigil_probe_checks_total{node="api",result="dead",service="web"} 1
vigil_probe_checks_total{node="api",result="healthy",service="web"} 2
vigil_probe_checks_total{node="api",result="sick",service="web"} 0
vigil_probe_checks_total{node="other",result="sick",service="web"} 1
`
	if err := testutil.GatherAndCompare(m.Registry(), strings.NewReader(want), "vigil_probe_checks_total"); err != nil {
		t.Error(err)
	}
}

func TestReporterCounter(t *testing.T) {
	m := New(nil, testkit.SourceOf(nil))
	h := m.InstrumentReporter(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Query().Get("fail") != "" {
			http.Error(w, "bad report", http.StatusBadRequest)
			return
		}
		// Writing the body without WriteHeader is a 200.
		io.WriteString(w, "ok")
	}))
	for _, q := range []string{"", "", "?fail=1"} {
		h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("POST", "/reporter/web/api"+q, nil))
	}
	want := `
# HELP vigil_reporter_reports_total Answers of the reporter API to POST /reporter/{probe}/{node}, by HTTP status code.
# TYPE vigil_reporter_reports_total counter
vigil_reporter_reports_total{code="200"} 2
vigil_reporter_reports_total{code="400"} 1
`
	if err := testutil.GatherAndCompare(m.Registry(), strings.NewReader(want), "vigil_reporter_reports_total"); err != nil {
		t.Error(err)
	}
}

func TestNotificationMetrics(t *testing.T) {
	m := New(nil, testkit.SourceOf(nil))
	m.Channels([]string{"email", "slack"}, []string{"delivered", "failed", "given_up"})
	m.Notified("slack", "failed")
	m.Notified("slack", "failed")
	m.Notified("slack", "delivered")
	m.Notified("email", "given_up")
	m.Pending("slack", 3)
	want := `
# HELP vigil_notifications_pending Notifications of a channel waiting to be sent, as the delivering outbox worker last read them.
# TYPE vigil_notifications_pending gauge
vigil_notifications_pending{channel="email"} 0
vigil_notifications_pending{channel="slack"} 3
# HELP vigil_notifications_total Notification delivery attempts by channel and result: delivered, failed (to be retried), given_up.
# TYPE vigil_notifications_total counter
vigil_notifications_total{channel="email",result="delivered"} 0
vigil_notifications_total{channel="email",result="failed"} 0
vigil_notifications_total{channel="email",result="given_up"} 1
vigil_notifications_total{channel="slack",result="delivered"} 1
vigil_notifications_total{channel="slack",result="failed"} 2
vigil_notifications_total{channel="slack",result="given_up"} 0
`
	if err := testutil.GatherAndCompare(m.Registry(), strings.NewReader(want), "vigil_notifications_total", "vigil_notifications_pending"); err != nil {
		t.Error(err)
	}
}

// TestScrape serves the registry over HTTP, as Prometheus reads it: the
// snapshot gauges, the counters and the Go and process collectors.
func TestScrape(t *testing.T) {
	m := New(nil, testkit.SourceOf(sampleSnapshot()))
	m.Checked("web", "api", status.Healthy)
	srv := httptest.NewServer(m)
	defer srv.Close()

	resp, err := http.Get(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	body := string(b)
	if resp.StatusCode != http.StatusOK || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/plain") {
		t.Fatalf("GET = %d, Content-Type %q; want 200 text/plain", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	for _, line := range []string{
		"vigil_page_status 2\n",
		`vigil_replica_status{node="workers",replica="1",service="web"} 2` + "\n",
		`vigil_probe_checks_total{node="api",result="healthy",service="web"} 1` + "\n",
		"# TYPE go_goroutines gauge\n",
		"# TYPE process_resident_memory_bytes gauge\n",
	} {
		if !strings.Contains(body, line) {
			t.Errorf("scrape lacks %q", line)
		}
	}
	if strings.Contains(body, "10.0.0.3") {
		t.Error("scrape shows the id of a replica whose node does not reveal replica names")
	}
}

// TestInvalidLabelDoesNotBreakTheScrape: a push replica id that is not
// valid UTF-8 loses its series, never the scrape or the process.
func TestInvalidLabelDoesNotBreakTheScrape(t *testing.T) {
	snap := sampleSnapshot()
	snap.Services[0].Nodes[0].Replicas[0].ID = "bad\xff"
	m := New(nil, testkit.SourceOf(snap))
	srv := httptest.NewServer(m)
	defer srv.Close()
	resp, err := http.Get(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET = %d, want 200", resp.StatusCode)
	}
	for _, line := range []string{"vigil_page_status 2\n", `replica="https://api2.example.com/health"`} {
		if !strings.Contains(string(b), line) {
			t.Errorf("scrape lacks %q", line)
		}
	}
}
