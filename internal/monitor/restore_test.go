package monitor

import (
	"errors"
	"io"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/vigil-go/vigil/internal/status"
	"github.com/vigil-go/vigil/internal/testkit"
)

const restoreProbes = `
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
`

// TestRestoreKeepsTheReportSchedule checks that restored replicas go dead
// interval + grace after their last report, not after the restart, and that
// one reporting again is healthy with its new report.
func TestRestoreKeepsTheReportSchedule(t *testing.T) {
	cfg := testkit.Config(t, baseConfig+restoreProbes)
	// push_delay_dead 20 s and local_delay_dead 40 s, the defaults.
	clock := testkit.NewClock(time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC))
	m := New(Options{Config: cfg, Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), Now: clock.Now})
	start := clock.Now()
	n, skipped := m.Restore([]RestoredReplica{
		// Silent for 60 s, promised 30 s: already past 30 + 20.
		{Service: "app", Node: "workers", Replica: "gone", Mode: status.Push, Interval: 30 * time.Second,
			LastReport: start.Add(-60 * time.Second), Load: &status.Load{CPU: 0.1, RAM: 0.2}},
		// Reported 10 s before the restart: due dead 40 s after it.
		{Service: "app", Node: "workers", Replica: "quiet", Mode: status.Push, Interval: 30 * time.Second,
			LastReport: start.Add(-10 * time.Second), Load: &status.Load{CPU: 0.1, RAM: 0.2}},
		{Service: "app", Node: "workers", Replica: "back", Mode: status.Push, Interval: 30 * time.Second,
			LastReport: start.Add(-10 * time.Second), Load: &status.Load{CPU: 0.1, RAM: 0.2}},
		{Service: "app", Node: "edge", Replica: "db", Mode: status.Local, Interval: 120 * time.Second,
			LastReport: start.Add(-5 * time.Second), Health: status.Sick, Reason: "reported sick by Vigil Local"},
		{Service: "app", Node: "removed", Replica: "x", Mode: status.Push, Interval: time.Second, LastReport: start},
		{Service: "app", Node: "edge", Replica: "y", Mode: status.Push, Interval: time.Second, LastReport: start},
	})
	if n != 4 {
		t.Errorf("restored %d, want 4", n)
	}
	if len(skipped) != 2 || !errors.Is(skipped[0], status.ErrUnknownNode) || !errors.Is(skipped[1], status.ErrWrongMode) {
		t.Errorf("skipped = %v, want the unknown node and the wrong mode", skipped)
	}

	s := m.Snapshot()
	byID := func(s *status.Snapshot, node string) map[string]status.Replica {
		_, nd := s.Find("app", node)
		out := map[string]status.Replica{}
		for _, r := range nd.Replicas {
			out[r.ID] = r
		}
		return out
	}
	w := byID(s, "workers")
	if r := w["gone"]; r.Health != status.Dead || !strings.Contains(r.Reason, "no report for 1m0s") {
		t.Errorf("gone = %s %q, want dead for a minute of silence", r.Health, r.Reason)
	}
	if r := w["quiet"]; r.Health != status.Healthy || !r.Checked.Equal(start.Add(-10*time.Second)) ||
		r.Interval != 30*time.Second || r.Load == nil || r.Load.RAM != 0.2 {
		t.Errorf("quiet = %+v, want healthy with its last report, interval and load", r)
	}
	if r := byID(s, "edge")["db"]; r.Health != status.Sick || r.Load != nil {
		t.Errorf("local db = %s load %v, want the reported sick health and no load", r.Health, r.Load)
	}

	if err := m.Report("app", "workers", pushReport("back", 30*time.Second)); err != nil {
		t.Fatal(err)
	}
	// 39 s after the restart "quiet" is 49 s silent: still healthy.
	m.publish(clock.Advance(39 * time.Second))
	if r := byID(m.Snapshot(), "workers")["quiet"]; r.Health != status.Healthy {
		t.Errorf("quiet 49 s after its last report = %s, want healthy", r.Health)
	}
	m.publish(clock.Advance(time.Second))
	s = m.Snapshot()
	w = byID(s, "workers")
	if r := w["quiet"]; r.Health != status.Dead {
		t.Errorf("quiet 50 s after its last report = %s, want dead", r.Health)
	}
	if r := w["back"]; r.Health != status.Healthy || !r.Checked.Equal(start) {
		t.Errorf("back = %s checked %v, want healthy, reported at %v", r.Health, r.Checked, start)
	}
	if r := byID(s, "edge")["db"]; r.Health != status.Sick {
		t.Errorf("local db 45 s after its report = %s, want still sick (120 + 40 s allowed)", r.Health)
	}
	if _, nd := s.Find("app", "workers"); len(nd.Replicas) != 3 {
		t.Errorf("workers has %d replicas, want 3 (a report for a restored replica must not add one)", len(nd.Replicas))
	}
}
