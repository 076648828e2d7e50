package monitor

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/vigil-go/vigil/internal/config/configtest"
	"github.com/vigil-go/vigil/internal/status"
	"github.com/vigil-go/vigil/internal/testkit"
)

const baseConfig = `
[server]
manager_token = "m"
reporter_token = "r"

` + configtest.Branding + `
[metrics]
poll_interval = 1
poll_retry = 0
poll_retry_wait = 0
poll_delay_dead = 2
poll_delay_sick = 2
script_interval = 1
script_timeout = 1
`

func newMonitor(t *testing.T, probes string) *Monitor {
	t.Helper()
	cfg := testkit.Config(t, baseConfig+probes)
	return New(Options{Config: cfg, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
}

// run starts m and stops it when the test ends.
func run(t *testing.T, m *Monitor) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Go(func() { m.Run(ctx) })
	t.Cleanup(func() { cancel(); wg.Wait() })
}

// waitFor polls the published snapshot until cond holds, or fails after 15s.
func waitFor(t *testing.T, m *Monitor, what string, cond func(*status.Snapshot) bool) *status.Snapshot {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for {
		s := m.Snapshot()
		if cond(s) {
			return s
		}
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s; last snapshot: %s", what, describe(s))
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func describe(s *status.Snapshot) string {
	var b strings.Builder
	fmt.Fprintf(&b, "v%d %s dead=%q", s.Version, s.Health, s.Dead)
	for _, svc := range s.Services {
		for _, n := range svc.Nodes {
			for _, r := range n.Replicas {
				fmt.Fprintf(&b, "\n  %s:%s:%s %s %q", svc.ID, n.ID, r.ID, r.Health, r.Reason)
			}
		}
	}
	return b.String()
}

func replica(s *status.Snapshot, service, node string, i int) status.Replica {
	_, n := s.Find(service, node)
	if n == nil || i >= len(n.Replicas) {
		return status.Replica{ID: "missing"}
	}
	return n.Replicas[i]
}

func TestMonitorTransitions(t *testing.T) {
	var failing atomic.Bool
	target := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if failing.Load() {
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	}))
	defer target.Close()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			c.Close()
		}
	}()

	m := newMonitor(t, fmt.Sprintf(`
[[probe.service]]
id = "web"
label = "Web"

[[probe.service.node]]
id = "front"
label = "Front"
mode = "poll"
replicas = ["%s/health", "tcp://%s"]

[[probe.service]]
id = "jobs"
label = "Jobs"

[[probe.service.node]]
id = "cron"
label = "Cron"
mode = "script"
scripts = ['''
echo queue is long >&2
exit 1
''']
`, target.URL, ln.Addr()))

	first := m.Snapshot()
	if !first.Refreshed.IsZero() || first.Health != status.Healthy {
		t.Errorf("initial snapshot = %s refreshed %v, want healthy and not yet refreshed", first.Health, first.Refreshed)
	}
	run(t, m)

	s := waitFor(t, m, "first checks", func(s *status.Snapshot) bool {
		return !replica(s, "web", "front", 0).Checked.IsZero() &&
			!replica(s, "web", "front", 1).Checked.IsZero() &&
			replica(s, "jobs", "cron", 0).Health == status.Sick
	})
	if r := replica(s, "web", "front", 0); r.Health != status.Healthy || !r.HasLatency {
		t.Errorf("http replica = %s (latency known %v), want healthy with a latency", r.Health, r.HasLatency)
	}
	if r := replica(s, "jobs", "cron", 0); !strings.Contains(r.Reason, "queue is long") {
		t.Errorf("script reason = %q, want the script's output", r.Reason)
	}
	if s.Health != status.Sick || len(s.Dead) != 0 {
		t.Errorf("general = %s dead %q, want sick with nothing dead", s.Health, s.Dead)
	}
	if s.Refreshed.IsZero() {
		t.Error("snapshot not refreshed after the first aggregation")
	}

	failing.Store(true)
	s = waitFor(t, m, "http replica dead", func(s *status.Snapshot) bool {
		return replica(s, "web", "front", 0).Health == status.Dead
	})
	wantID := "web:front:" + target.URL + "/health"
	if s.Health != status.Dead || !slices.Equal(s.Dead, []string{wantID}) {
		t.Errorf("general = %s dead %q, want dead [%s]", s.Health, s.Dead, wantID)
	}
	if r := replica(s, "web", "front", 0); !strings.Contains(r.Reason, "status 503") {
		t.Errorf("reason = %q, want it to name the status", r.Reason)
	}
	if svc, node := s.Find("web", "front"); svc.Health != status.Dead || node.Health != status.Dead {
		t.Errorf("service %s node %s, want both dead", svc.Health, node.Health)
	}

	failing.Store(false)
	s = waitFor(t, m, "recovery", func(s *status.Snapshot) bool {
		return replica(s, "web", "front", 0).Health == status.Healthy
	})
	if r := replica(s, "web", "front", 0); r.Reason != "" {
		t.Errorf("healthy replica keeps reason %q", r.Reason)
	}
	if s.Health != status.Sick || len(s.Dead) != 0 {
		t.Errorf("after recovery general = %s dead %q, want sick (the script) and nothing dead", s.Health, s.Dead)
	}
}

// TestMonitorSnapshotsAreImmutable checks that a published snapshot does not
// change when later results arrive.
func TestMonitorSnapshotsAreImmutable(t *testing.T) {
	var failing atomic.Bool
	target := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if failing.Load() {
			w.WriteHeader(http.StatusInternalServerError)
		}
	}))
	defer target.Close()
	m := newMonitor(t, fmt.Sprintf(`
[[probe.service]]
id = "s"
label = "S"
[[probe.service.node]]
id = "n"
label = "N"
mode = "poll"
replicas = ["%s"]
`, target.URL))
	run(t, m)
	healthy := waitFor(t, m, "healthy", func(s *status.Snapshot) bool {
		return !replica(s, "s", "n", 0).Checked.IsZero()
	})
	failing.Store(true)
	dead := waitFor(t, m, "dead", func(s *status.Snapshot) bool { return s.Health == status.Dead })
	if healthy.Health != status.Healthy || replica(healthy, "s", "n", 0).Health != status.Healthy {
		t.Errorf("an older snapshot changed: %s", describe(healthy))
	}
	if dead.Version <= healthy.Version {
		t.Errorf("versions %d then %d, want growing", healthy.Version, dead.Version)
	}
}

// TestMonitorHooks checks that every probe result is observed and every
// published snapshot is handed over with its predecessor.
func TestMonitorHooks(t *testing.T) {
	target := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	defer target.Close()
	cfg := testkit.Config(t, baseConfig+fmt.Sprintf(`
[[probe.service]]
id = "s"
label = "S"
[[probe.service.node]]
id = "n"
label = "N"
mode = "poll"
replicas = ["%s"]
`, target.URL))
	var mu sync.Mutex
	var observed []status.Observation
	var versions [][2]uint64
	m := New(Options{
		Config: cfg,
		Logger: slog.New(slog.DiscardHandler),
		Observed: func(o status.Observation) {
			mu.Lock()
			observed = append(observed, o)
			mu.Unlock()
		},
		Published: func(prev, cur *status.Snapshot) {
			mu.Lock()
			versions = append(versions, [2]uint64{prev.Version, cur.Version})
			mu.Unlock()
		},
	})
	run(t, m)
	waitFor(t, m, "two checks", func(*status.Snapshot) bool {
		mu.Lock()
		defer mu.Unlock()
		return len(observed) >= 2
	})
	mu.Lock()
	defer mu.Unlock()
	if o := observed[0]; o.Service != "s" || o.Node != "n" || o.Replica != target.URL || o.Health != status.Healthy || o.At.IsZero() {
		t.Errorf("observation = %+v", o)
	}
	if len(versions) == 0 {
		t.Fatal("no snapshot published")
	}
	for i, v := range versions {
		if v[1] != v[0]+1 || (i > 0 && v[0] != versions[i-1][1]) {
			t.Errorf("published versions %v, want each (previous, previous+1) in sequence", versions)
			break
		}
	}
}

// TestMonitorRedactsReplicaPassword checks that a replica URL's password
// reaches neither the info log nor the dead list alerts are sent from.
func TestMonitorRedactsReplicaPassword(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.WriteHeader(http.StatusServiceUnavailable)
	}))
	t.Cleanup(srv.Close)
	replica := strings.Replace(srv.URL, "http://", "http://ops:hunter2@", 1) + "/health"
	cfg := testkit.Config(t, baseConfig+fmt.Sprintf(`
[probe]
[[probe.service]]
id = "web"
label = "Web"
[[probe.service.node]]
id = "api"
label = "API"
mode = "poll"
replicas = [%q]
`, replica))
	var logs testkit.LogBuffer
	m := New(Options{Config: cfg, Logger: slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelInfo}))})
	run(t, m)
	snap := waitFor(t, m, "the replica dead", func(s *status.Snapshot) bool { return len(s.Dead) == 1 })
	if want := "web:api:" + strings.Replace(replica, "hunter2", "xxxxx", 1); snap.Dead[0] != want {
		t.Errorf("dead list = %q, want [%q]", snap.Dead, want)
	}
	deadline := time.Now().Add(5 * time.Second)
	for !strings.Contains(logs.String(), "general status changed") && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	if out := logs.String(); !strings.Contains(out, "replica status changed") || strings.Contains(out, "hunter2") {
		t.Errorf("info log should say the replica changed, without its password:\n%s", out)
	}
}
