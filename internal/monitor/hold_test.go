package monitor

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/vigil-go/vigil/internal/probe"
	"github.com/vigil-go/vigil/internal/status"
)

// TestHoldThresholds feeds a replica's results through failure_threshold 3
// and success_threshold 2: a flip needs that many consecutive results, a
// result back on the shown side clears the count, and sick and dead add up
// as unhealthy.
func TestHoldThresholds(t *testing.T) {
	h := hold{failures: 3, successes: 2}
	cur, reason, p := status.Healthy, "", status.Pending{}
	steps := []struct {
		in      status.Health
		shown   status.Health
		pending string
	}{
		{status.Dead, status.Healthy, "failing 1 of 3"},
		{status.Dead, status.Healthy, "failing 2 of 3"},
		{status.Healthy, status.Healthy, ""}, // back: the count starts again
		{status.Dead, status.Healthy, "failing 1 of 3"},
		{status.Sick, status.Healthy, "failing 2 of 3"}, // sick is unhealthy too
		{status.Dead, status.Dead, ""},                  // the third: it flips
		{status.Healthy, status.Dead, "recovering 1 of 2"},
		{status.Healthy, status.Healthy, ""},
	}
	for i, s := range steps {
		res := probe.Result{Health: s.in, Reason: fmt.Sprintf("result %d", i)}
		if s.in == status.Healthy {
			res.Reason = ""
		}
		shown, np := h.apply(cur, reason, p, res)
		if shown.Health != s.shown || np.String() != s.pending {
			t.Fatalf("step %d (%s): shows %s, pending %q; want %s, %q", i, s.in, shown.Health, np.String(), s.shown, s.pending)
		}
		if shown.Health == cur && s.in != cur && shown.Reason != reason {
			t.Fatalf("step %d: a held-back result changed the shown reason to %q", i, shown.Reason)
		}
		cur, reason, p = shown.Health, shown.Reason, np
	}
	// The zero hold lets every result through, as Vigil does.
	if shown, np := (hold{}).apply(status.Healthy, "", status.Pending{}, probe.Result{Health: status.Dead}); shown.Health != status.Dead || np.Count != 0 {
		t.Errorf("zero hold: shows %s pending %+v, want dead at once", shown.Health, np)
	}
}

// TestNodeTimingAndThresholds runs two nodes against real targets: one
// with its own poll_interval of 1 s and failure_threshold 3 under a global
// interval of 4 s. The fast node is checked at its own rate, and a failing
// target shows dead only at its third failed check, pending before.
func TestNodeTimingAndThresholds(t *testing.T) {
	var fastHits, slowHits atomic.Int64
	var failing atomic.Bool
	fast := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fastHits.Add(1)
		if failing.Load() {
			w.WriteHeader(http.StatusServiceUnavailable)
		}
	}))
	defer fast.Close()
	slow := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { slowHits.Add(1) }))
	defer slow.Close()
	m := newMonitor(t, fmt.Sprintf(`
[[probe.service]]
id = "web"
label = "Web"

[[probe.service.node]]
id = "fast"
label = "Fast"
mode = "poll"
replicas = ["%s/"]
poll_interval = 1
poll_delay_dead = 1
failure_threshold = 3

[[probe.service.node]]
id = "slow"
label = "Slow"
mode = "poll"
replicas = ["%s/"]
`, fast.URL, slow.URL))
	m.cfg.Load().Metrics.PollInterval = 4 // the global, after validation
	m = New(Options{Config: m.cfg.Load(), Logger: m.log})
	run(t, m)
	time.Sleep(3500 * time.Millisecond)
	if f, s := fastHits.Load(), slowHits.Load(); f < 3 || s != 1 {
		t.Fatalf("in 3.5 s: %d checks of the 1 s node, %d of the 4 s one; want at least 3 and exactly 1", f, s)
	}

	failing.Store(true)
	failed := fastHits.Load()
	snap := waitFor(t, m, "the first failure held back", func(s *status.Snapshot) bool {
		return replica(s, "web", "fast", 0).Pending.Count > 0
	})
	if r := replica(snap, "web", "fast", 0); r.Health != status.Healthy || r.Pending.Health != status.Dead || r.Pending.Of != 3 {
		t.Fatalf("after a failed check: %s pending %+v, want healthy, dead pending of 3", r.Health, r.Pending)
	}
	snap = waitFor(t, m, "dead after three failures", func(s *status.Snapshot) bool {
		return replica(s, "web", "fast", 0).Health == status.Dead
	})
	if checks := fastHits.Load() - failed; checks < 3 {
		t.Errorf("dead after %d failed checks, want 3", checks)
	}
	if r := replica(snap, "web", "fast", 0); r.Pending.Count != 0 || r.Reason == "" {
		t.Errorf("dead replica: pending %+v reason %q; want nothing pending and the reason", r.Pending, r.Reason)
	}
}
