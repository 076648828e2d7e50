package web

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/vigil-go/vigil/internal/config"
	"github.com/vigil-go/vigil/internal/config/configtest"
	"github.com/vigil-go/vigil/internal/monitor"
	"github.com/vigil-go/vigil/internal/status"
)

const reporterConfig = `
[server]
manager_token = "manager-secret"
reporter_token = "reporter-secret"

` + configtest.Branding + `
[metrics]
push_delay_dead = 1
local_delay_dead = 1
%s

[[probe.service]]
id = "app"
label = "App"

[[probe.service.node]]
id = "workers"
label = "Workers"
mode = "push"

[[probe.service.node]]
id = "edge"
label = "Edge"
mode = "local"

[[probe.service.node]]
id = "site"
label = "Site"
mode = "poll"
replicas = ["tcp://127.0.0.1:9"]
`

// reporterServer runs a real monitor behind a real web server.
type reporterServer struct {
	*httptest.Server
	mon *monitor.Monitor
}

func newReporterServer(t *testing.T, metrics string) *reporterServer {
	t.Helper()
	return newReporterServerOf(t, fmt.Sprintf(reporterConfig, metrics))
}

// newReporterServerOf serves the config text (reporterConfig, changed).
func newReporterServerOf(t *testing.T, text string) *reporterServer {
	t.Helper()
	cfg, _, err := config.Parse("test.cfg", []byte(text), nil)
	if err != nil {
		t.Fatal(err)
	}
	log := slog.New(slog.DiscardHandler)
	mon := monitor.New(monitor.Options{Config: cfg, Logger: log})
	site, err := New(context.Background(), Options{Config: cfg, Source: mon, Reporter: mon, Logger: log})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Go(func() { mon.Run(ctx) })
	srv := httptest.NewServer(site)
	t.Cleanup(func() {
		srv.Close()
		cancel()
		wg.Wait()
	})
	return &reporterServer{srv, mon}
}

type reply struct {
	code   int
	body   string
	header http.Header
}

func (rs *reporterServer) send(t *testing.T, method, path, contentType, body string, auth ...string) reply {
	t.Helper()
	req, err := http.NewRequest(method, rs.URL+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	if len(auth) == 2 {
		req.SetBasicAuth(auth[0], auth[1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return reply{resp.StatusCode, string(b), resp.Header}
}

func (rs *reporterServer) post(t *testing.T, path, body string) reply {
	t.Helper()
	return rs.send(t, "POST", path, "application/json", body, "", "reporter-secret")
}

// waitReplicas waits until the node's replicas have the given healths, in order.
func (rs *reporterServer) waitReplicas(t *testing.T, service, node string, want ...status.Health) status.Node {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		_, n := rs.mon.Snapshot().Find(service, node)
		got := []status.Health{}
		for _, r := range n.Replicas {
			got = append(got, r.Health)
		}
		if fmt.Sprint(got) == fmt.Sprint(want) {
			return *n
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s:%s replicas = %v, want %v", service, node, got, want)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestReporterErrors(t *testing.T) {
	rs := newReporterServer(t, "")
	good := `{"replica": "10.0.0.1", "interval": 30, "load": {"cpu": 0.5, "ram": 0.4}}`
	tests := []struct {
		name             string
		method, path     string
		contentType      string
		body             string
		auth             []string
		wantCode         int
		wantBody         string
		wantAuthenticate bool
	}{
		{"no auth", "POST", "/reporter/app/workers/", "application/json", good, nil, 401,
			"authentication required: HTTP Basic with the token as password\n", true},
		{"bearer is not basic", "POST", "/reporter/app/workers/", "application/json", good, nil, 401,
			"authentication required: HTTP Basic with the token as password\n", true},
		{"wrong token", "POST", "/reporter/app/workers/", "application/json", good, []string{"", "nope"}, 403,
			"wrong token\n", true},
		{"manager token is not the reporter token", "POST", "/reporter/app/workers/", "application/json", good, []string{"", "manager-secret"}, 403,
			"wrong token\n", true},
		{"auth before unknown node", "POST", "/reporter/nope/nope/", "application/json", good, nil, 401,
			"authentication required: HTTP Basic with the token as password\n", true},
		{"form content type", "POST", "/reporter/app/workers/", "application/x-www-form-urlencoded", good, []string{"", "reporter-secret"}, 400,
			"content type must be application/json\n", false},
		{"no content type", "POST", "/reporter/app/workers/", "", good, []string{"", "reporter-secret"}, 400,
			"content type must be application/json\n", false},
		{"malformed JSON", "POST", "/reporter/app/workers/", "application/json", `{"replica": `, []string{"", "reporter-secret"}, 400,
			"invalid JSON: unexpected end of JSON input\n", false},
		{"replica missing", "POST", "/reporter/app/workers/", "application/json", `{"interval": 30, "load": {"cpu": 0.1, "ram": 0.1}}`, []string{"", "reporter-secret"}, 400,
			"replica: required string\n", false},
		{"replica not a string", "POST", "/reporter/app/workers/", "application/json", `{"replica": 3, "interval": 30, "load": {"cpu": 0.1, "ram": 0.1}}`, []string{"", "reporter-secret"}, 400,
			"invalid JSON: json: cannot unmarshal number into Go struct field reportBody.replica of type string\n", false},
		{"empty replica", "POST", "/reporter/app/workers/", "application/json", `{"replica": "", "interval": 30, "load": {"cpu": 0.1, "ram": 0.1}}`, []string{"", "reporter-secret"}, 400,
			"invalid report: replica must not be empty\n", false},
		{"interval missing", "POST", "/reporter/app/workers/", "application/json", `{"replica": "a", "load": {"cpu": 0.1, "ram": 0.1}}`, []string{"", "reporter-secret"}, 400,
			"interval: required whole number of seconds\n", false},
		{"interval as string", "POST", "/reporter/app/workers/", "application/json", `{"replica": "a", "interval": "30", "load": {"cpu": 0.1, "ram": 0.1}}`, []string{"", "reporter-secret"}, 400,
			"interval: required whole number of seconds\n", false},
		{"fractional interval", "POST", "/reporter/app/workers/", "application/json", `{"replica": "a", "interval": 2.5, "load": {"cpu": 0.1, "ram": 0.1}}`, []string{"", "reporter-secret"}, 400,
			"interval: required whole number of seconds, got 2.5\n", false},
		{"negative interval", "POST", "/reporter/app/workers/", "application/json", `{"replica": "a", "interval": -30, "load": {"cpu": 0.1, "ram": 0.1}}`, []string{"", "reporter-secret"}, 400,
			"interval: must not be negative, got -30\n", false},
		{"absurd interval", "POST", "/reporter/app/workers/", "application/json", `{"replica": "a", "interval": 18446744073709551615, "load": {"cpu": 0.1, "ram": 0.1}}`, []string{"", "reporter-secret"}, 400,
			"interval: at most 2678400 seconds (744h0m0s), got 18446744073709551615\n", false},
		{"negative cpu", "POST", "/reporter/app/workers/", "application/json", `{"replica": "a", "interval": 30, "load": {"cpu": -0.1, "ram": 0.1}}`, []string{"", "reporter-secret"}, 400,
			"invalid report: load.cpu and load.ram must not be negative\n", false},
		{"load without ram", "POST", "/reporter/app/workers/", "application/json", `{"replica": "a", "interval": 30, "load": {"cpu": 0.1}}`, []string{"", "reporter-secret"}, 400,
			"load: cpu and ram are required numbers\n", false},
		{"neither load nor health", "POST", "/reporter/app/workers/", "application/json", `{"replica": "a", "interval": 30}`, []string{"", "reporter-secret"}, 400,
			"invalid report: a report needs load (push) or health (local)\n", false},
		{"unknown health", "POST", "/reporter/app/edge/", "application/json", `{"replica": "a", "interval": 30, "health": "up"}`, []string{"", "reporter-secret"}, 400,
			"health: unknown health \"up\" (want healthy, sick or dead)\n", false},
		{"unknown service", "POST", "/reporter/nope/workers/", "application/json", good, []string{"", "reporter-secret"}, 404,
			"unknown service or node\n", false},
		{"unknown node", "POST", "/reporter/app/nope/", "application/json", good, []string{"", "reporter-secret"}, 404,
			"unknown service or node\n", false},
		{"load to a local node", "POST", "/reporter/app/edge/", "application/json", good, []string{"", "reporter-secret"}, 412,
			"node mode does not accept the report: push report sent to a local node\n", false},
		{"health to a push node", "POST", "/reporter/app/workers/", "application/json", `{"replica": "a", "interval": 30, "health": "healthy"}`, []string{"", "reporter-secret"}, 412,
			"node mode does not accept the report: local report sent to a push node\n", false},
		{"load to a poll node", "POST", "/reporter/app/site/", "application/json", good, []string{"", "reporter-secret"}, 412,
			"node mode does not accept the report: push report sent to a poll node\n", false},
		{"body too large", "POST", "/reporter/app/workers/", "application/json", `{"replica": "` + strings.Repeat("a", 2<<20) + `"}`, []string{"", "reporter-secret"}, 413,
			"body larger than 2097152 bytes\n", false},
		{"flush unknown replica", "DELETE", "/reporter/app/workers/10.9.9.9/", "", "", []string{"", "reporter-secret"}, 404,
			"unknown replica\n", false},
		{"flush unknown node", "DELETE", "/reporter/app/nope/a/", "", "", []string{"", "reporter-secret"}, 404,
			"unknown service or node\n", false},
		{"flush a poll node", "DELETE", "/reporter/app/site/tcp:%2F%2F127.0.0.1:9/", "", "", []string{"", "reporter-secret"}, 412,
			"node mode does not accept the report: only push and local replicas can be flushed, app:site is a poll node\n", false},
		{"flush without auth", "DELETE", "/reporter/app/workers/a/", "", "", nil, 401,
			"authentication required: HTTP Basic with the token as password\n", true},
		{"GET is not a route", "GET", "/reporter/app/workers/", "", "", []string{"", "reporter-secret"}, 404, "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got reply
			if tt.name == "bearer is not basic" {
				req, _ := http.NewRequest(tt.method, rs.URL+tt.path, strings.NewReader(tt.body))
				req.Header.Set("Content-Type", tt.contentType)
				req.Header.Set("Authorization", "Bearer reporter-secret")
				resp, err := http.DefaultClient.Do(req)
				if err != nil {
					t.Fatal(err)
				}
				b, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				got = reply{resp.StatusCode, string(b), resp.Header}
			} else {
				got = rs.send(t, tt.method, tt.path, tt.contentType, tt.body, tt.auth...)
			}
			if got.code != tt.wantCode || got.body != tt.wantBody {
				t.Errorf("%s %s = %d %q, want %d %q", tt.method, tt.path, got.code, got.body, tt.wantCode, tt.wantBody)
			}
			wantAuth := ""
			if tt.wantAuthenticate {
				wantAuth = `Basic realm="Reporter Token"`
			}
			if h := got.header.Get("WWW-Authenticate"); h != wantAuth {
				t.Errorf("WWW-Authenticate = %q, want %q", h, wantAuth)
			}
		})
	}
	if _, n := rs.mon.Snapshot().Find("app", "workers"); len(n.Replicas) != 0 {
		t.Errorf("rejected reports created replicas: %+v", n.Replicas)
	}
}

// TestReporterLifecycle follows push and local replicas through Vigil's
// rules: healthy on report, sick above a threshold, dead when silent, gone
// when flushed.
func TestReporterLifecycle(t *testing.T) {
	rs := newReporterServer(t, "push_system_cpu_sick_above = 0.9")

	// py-vigil-reporter: user name "Authorization", an integral float interval.
	got := rs.send(t, "POST", "/reporter/app/workers/", "application/json",
		`{"replica": "10.0.0.1", "interval": 1.0, "load": {"cpu": 0.25, "ram": 0.5}}`, "Authorization", "reporter-secret")
	if got.code != 200 || got.body != "" {
		t.Fatalf("py-style report = %d %q, want 200 and an empty body", got.code, got.body)
	}
	if got := rs.post(t, "/reporter/app/workers", `{"replica": "10.0.0.2", "interval": 60, "load": {"cpu": 1.5, "ram": 0.1}}`); got.code != 200 {
		t.Fatalf("second report = %d %q", got.code, got.body)
	}
	n := rs.waitReplicas(t, "app", "workers", status.Healthy, status.Sick)
	if n.Replicas[0].Load == nil || n.Replicas[0].Load.CPU != 0.25 || n.Replicas[0].Load.RAM != 0.5 {
		t.Errorf("load = %+v, want cpu 0.25 ram 0.5", n.Replicas[0].Load)
	}
	if r := n.Replicas[1]; r.Reason != "CPU load 1.50 above 0.90" {
		t.Errorf("sick reason = %q", r.Reason)
	}

	// Vigil Local: health with a JSON content type carrying a charset.
	got = rs.send(t, "POST", "/reporter/app/edge/", "application/json; charset=utf-8",
		`{"replica": "tcp://10.1.0.1:80", "health": "sick", "interval": 1}`, "", "reporter-secret")
	if got.code != 200 {
		t.Fatalf("local report = %d %q", got.code, got.body)
	}
	rs.waitReplicas(t, "app", "edge", status.Sick)

	// The 1 s reporters fall silent: dead after interval + delay_dead (1 + 1 s).
	n = rs.waitReplicas(t, "app", "workers", status.Dead, status.Sick)
	if !strings.HasPrefix(n.Replicas[0].Reason, "no report for ") {
		t.Errorf("dead reason = %q, want it to say no report", n.Replicas[0].Reason)
	}
	rs.waitReplicas(t, "app", "edge", status.Dead)
	s := rs.mon.Snapshot()
	// The poll replica (nothing listens on port 9) is dead too, and last.
	if s.Health != status.Dead || len(s.Dead) != 3 || s.Dead[0] != "app:workers:10.0.0.1" || s.Dead[1] != "app:edge:tcp://10.1.0.1:80" {
		t.Errorf("page = %s dead %q", s.Health, s.Dead)
	}

	// A report brings it back; a flush removes it.
	rs.post(t, "/reporter/app/workers/", `{"replica": "10.0.0.1", "interval": 60, "load": {"cpu": 0.1, "ram": 0.1}}`)
	rs.waitReplicas(t, "app", "workers", status.Healthy, status.Sick)
	if got := rs.send(t, "DELETE", "/reporter/app/workers/10.0.0.2/", "", "", "", "reporter-secret"); got.code != 200 || got.body != "" {
		t.Errorf("flush = %d %q, want 200 and an empty body", got.code, got.body)
	}
	got = rs.send(t, "DELETE", "/reporter/app/edge/tcp:%2F%2F10.1.0.1:80/", "", "", "", "reporter-secret")
	if got.code != 200 {
		t.Errorf("flush of an escaped replica id = %d %q, want 200", got.code, got.body)
	}
	rs.waitReplicas(t, "app", "workers", status.Healthy)
	rs.waitReplicas(t, "app", "edge")
}

// TestReplicaExpire checks push_replica_expire: a replica silent for that
// long is removed rather than staying dead forever.
func TestReplicaExpire(t *testing.T) {
	rs := newReporterServer(t, "push_replica_expire = 3")
	rs.post(t, "/reporter/app/workers/", `{"replica": "spot-1", "interval": 1, "load": {"cpu": 0.1, "ram": 0.1}}`)
	rs.waitReplicas(t, "app", "workers", status.Healthy)
	rs.waitReplicas(t, "app", "workers", status.Dead)
	rs.waitReplicas(t, "app", "workers")
	if _, n := rs.mon.Snapshot().Find("app", "workers"); n.Health != status.Healthy {
		t.Errorf("node after expiry = %s, want healthy", n.Health)
	}
}
