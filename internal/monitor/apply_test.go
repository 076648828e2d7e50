package monitor

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/vigil-go/vigil/internal/config"
	"github.com/vigil-go/vigil/internal/status"
	"github.com/vigil-go/vigil/internal/testkit"
)

// countingTarget serves body with code, and counts the requests.
func countingTarget(t *testing.T, code int, body string, delay time.Duration) (*httptest.Server, *atomic.Int64) {
	t.Helper()
	var hits atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		time.Sleep(delay)
		w.WriteHeader(code)
		fmt.Fprint(w, body)
	}))
	t.Cleanup(srv.Close)
	return srv, &hits
}

func parseConfig(t *testing.T, probes string) *config.Config {
	t.Helper()
	cfg := testkit.Config(t, baseConfig+probes)
	return cfg
}

func pollNode(id, url, extra string) string {
	return fmt.Sprintf("\n[[probe.service.node]]\nid = %q\nlabel = %q\nmode = \"poll\"\nreplicas = [%q]\n%s\n", id, id, url, extra)
}

func TestApplyKeepsStartsAndStops(t *testing.T) {
	keptSrv, keptHits := countingTarget(t, http.StatusOK, "all good", 0)
	goneSrv, goneHits := countingTarget(t, http.StatusServiceUnavailable, "down", 0)
	newSrv, newHits := countingTarget(t, http.StatusOK, "fine", 0)

	push := "\n[[probe.service.node]]\nid = \"jobs\"\nlabel = \"Jobs\"\nmode = \"push\"\n"
	before := "[[probe.service]]\nid = \"web\"\nlabel = \"Web\"\n" +
		pollNode("kept", keptSrv.URL+"/", "") + pollNode("gone", goneSrv.URL+"/", "") + push
	m := newMonitor(t, before)
	run(t, m)
	if err := m.Report("web", "jobs", status.Report{Replica: "worker-1", Interval: time.Minute, Load: &status.Load{CPU: 0.5, RAM: 0.25}}); err != nil {
		t.Fatal(err)
	}
	s := waitFor(t, m, "kept healthy and gone dead", func(s *status.Snapshot) bool {
		return !replica(s, "web", "kept", 0).Checked.IsZero() && replica(s, "web", "gone", 0).Health == status.Dead
	})
	keptBefore := replica(s, "web", "kept", 0)
	pushBefore := replica(s, "web", "jobs", 0)

	// kept now wants a body it does not get; gone is removed; added is new.
	after := "[[probe.service]]\nid = \"web\"\nlabel = \"Web\"\n" +
		pollNode("added", newSrv.URL+"/", "") +
		pollNode("kept", keptSrv.URL+"/", `http_body_healthy_match = "^everything fine$"`) + push
	done := m.Apply(parseConfig(t, after))
	if done != (Applied{Started: 1, Stopped: 1, Kept: 1}) {
		t.Errorf("Apply = %+v, want 1 started, 1 stopped, 1 kept", done)
	}

	// At once: the kept replicas keep their state, the removed node is gone,
	// the new one is there, unchecked.
	s = m.Snapshot()
	if got := replica(s, "web", "kept", 0); got.Health != keptBefore.Health || !got.Checked.Equal(keptBefore.Checked) || !got.Since.Equal(keptBefore.Since) {
		t.Errorf("kept replica after Apply = %+v, want its state before: %+v", got, keptBefore)
	}
	if got := replica(s, "web", "jobs", 0); got.ID != "worker-1" || got.Load == nil || got.Load.CPU != 0.5 || !got.Checked.Equal(pushBefore.Checked) {
		t.Errorf("push replica after Apply = %+v, want its last report kept: %+v", got, pushBefore)
	}
	if _, n := s.Find("web", "gone"); n != nil {
		t.Errorf("removed node still in the snapshot: %s", describe(s))
	}
	if _, n := s.Find("web", "added"); n == nil || n.Replicas[0].Checked.IsZero() == false {
		t.Errorf("added node missing or checked already: %s", describe(s))
	}
	for _, id := range s.Dead {
		if strings.Contains(id, "gone") {
			t.Errorf("removed replica still listed dead: %q", s.Dead)
		}
	}

	// Then: the new node is probed, the kept one with its new expectation,
	// and the removed one never again.
	waitFor(t, m, "added checked, kept dead on its new body match", func(s *status.Snapshot) bool {
		return !replica(s, "web", "added", 0).Checked.IsZero() && replica(s, "web", "kept", 0).Health == status.Dead
	})
	if !strings.Contains(replica(m.Snapshot(), "web", "kept", 0).Reason, "body") {
		t.Errorf("kept replica's reason = %q, want the body mismatch", replica(m.Snapshot(), "web", "kept", 0).Reason)
	}
	if newHits.Load() == 0 || keptHits.Load() == 0 {
		t.Errorf("hits: added %d, kept %d", newHits.Load(), keptHits.Load())
	}
	stopped := goneHits.Load()
	time.Sleep(2500 * time.Millisecond) // over two intervals of 1 s
	if n := goneHits.Load(); n != stopped {
		t.Errorf("the removed node was probed %d more times after Apply", n-stopped)
	}
	if err := m.Report("web", "gone", status.Report{Replica: "x", Load: &status.Load{}}); err != status.ErrUnknownNode {
		t.Errorf("report to the removed node: %v, want status.ErrUnknownNode", err)
	}
}

// A check in flight when its replica moves in the tree (a service before
// it removed) lands in the replica, at its new place; one in flight when
// its replica is removed is dropped.
func TestApplyDuringACheck(t *testing.T) {
	slowSrv, slowHits := countingTarget(t, http.StatusServiceUnavailable, "down", 600*time.Millisecond)
	firstSrv, _ := countingTarget(t, http.StatusOK, "ok", 0)
	goneSrv, goneHits := countingTarget(t, http.StatusOK, "ok", 600*time.Millisecond)

	svc := func(id string) string { return fmt.Sprintf("\n[[probe.service]]\nid = %q\nlabel = %q\n", id, id) }
	m := newMonitor(t, svc("first")+pollNode("a", firstSrv.URL+"/", "")+
		svc("second")+pollNode("slow", slowSrv.URL+"/", "")+pollNode("gone", goneSrv.URL+"/", ""))
	run(t, m)
	deadline := time.Now().Add(10 * time.Second)
	for slowHits.Load() == 0 || goneHits.Load() == 0 {
		if time.Now().After(deadline) {
			t.Fatal("the slow targets were never probed")
		}
		time.Sleep(5 * time.Millisecond)
	}
	// Both slow checks are in flight: move slow to index 0, remove gone.
	m.Apply(parseConfig(t, svc("second")+pollNode("slow", slowSrv.URL+"/", "")))
	s := waitFor(t, m, "slow's result", func(s *status.Snapshot) bool { return !replica(s, "second", "slow", 0).Checked.IsZero() })
	if got := replica(s, "second", "slow", 0); got.Health != status.Dead {
		t.Errorf("slow = %+v, want dead from its own check", got)
	}
	if len(s.Services) != 1 || len(s.Services[0].Nodes) != 1 {
		t.Errorf("tree after Apply: %s", describe(s))
	}
}

// A shorter interval applies from the next check, not after the old wait.
func TestApplyShorterInterval(t *testing.T) {
	srv, hits := countingTarget(t, http.StatusOK, "ok", 0)
	svc := "[[probe.service]]\nid = \"web\"\nlabel = \"Web\"\n"
	m := newMonitor(t, svc+pollNode("api", srv.URL+"/", "poll_interval = 3600"))
	run(t, m)
	waitFor(t, m, "first check", func(s *status.Snapshot) bool { return !replica(s, "web", "api", 0).Checked.IsZero() })
	first := hits.Load()
	time.Sleep(300 * time.Millisecond)
	if hits.Load() != first {
		t.Fatalf("checked again within the hour-long interval")
	}
	m.Apply(parseConfig(t, svc+pollNode("api", srv.URL+"/", "poll_interval = 2")))
	deadline := time.Now().Add(5 * time.Second)
	for hits.Load() < first+2 {
		if time.Now().After(deadline) {
			t.Fatalf("%d checks in 5 s after the interval went from an hour to 2 s", hits.Load()-first)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
