package monitor

import (
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/vigil-go/vigil/internal/probe"
	"github.com/vigil-go/vigil/internal/status"
)

func pushReport(replica string, interval time.Duration) status.Report {
	return status.Report{Replica: replica, Interval: interval, Load: &status.Load{CPU: 0.1, RAM: 0.2}}
}

// TestQueueCheckedOncePerInterval checks the RabbitMQ fix over Vigil: fifty
// replicas reporting mean one management API call per interval, not fifty,
// and the queue's figures and load flag reach every replica.
func TestQueueCheckedOncePerInterval(t *testing.T) {
	var calls atomic.Int32
	api := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		if r.URL.EscapedPath() != "/prefix/api/queues/%2F/jobs" {
			t.Errorf("path = %s, want the api_url prefix kept", r.URL.EscapedPath())
		}
		if u, p, _ := r.BasicAuth(); u != "guest" || p != "guest" {
			t.Errorf("auth = %s:%s", u, p)
		}
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprint(w, `{"messages_ready": 150, "messages_unacknowledged": 3}`)
	}))
	defer api.Close()

	m := newMonitor(t, fmt.Sprintf(`
[plugins.rabbitmq]
api_url = "%s/prefix"
auth_username = "guest"
auth_password = "guest"
virtualhost = "%%2F"
queue_ready_healthy_below = 100
queue_nack_healthy_below = 100
queue_ready_dead_above = 1000
queue_nack_dead_above = 1000

[[probe.service]]
id = "app"
label = "App"

[[probe.service.node]]
id = "workers"
label = "Workers"
mode = "push"
rabbitmq_queue = "jobs"
`, api.URL))
	run(t, m)
	for i := range 50 {
		if err := m.Report("app", "workers", pushReport(fmt.Sprintf("10.0.0.%d", i), time.Minute)); err != nil {
			t.Fatal(err)
		}
	}
	s := waitFor(t, m, "queue figures on every replica", func(s *status.Snapshot) bool {
		_, n := s.Find("app", "workers")
		if len(n.Replicas) != 50 {
			return false
		}
		for _, r := range n.Replicas {
			if r.Queue == nil || r.Health != status.Sick {
				return false
			}
		}
		return true
	})
	_, n := s.Find("app", "workers")
	if q := n.Replicas[49].Queue; q.Ready != 150 || q.Unacked != 3 {
		t.Errorf("queue = %+v, want 150 ready, 3 unacked", q)
	}
	if r := n.Replicas[0].Reason; !strings.Contains(r, "150") {
		t.Errorf("reason = %q, want the ready count", r)
	}
	for i := range 50 {
		m.Report("app", "workers", pushReport(fmt.Sprintf("10.0.0.%d", i), time.Minute))
	}
	time.Sleep(300 * time.Millisecond)
	if got := calls.Load(); got != 1 {
		t.Errorf("management API called %d times for 100 reports in one interval, want 1", got)
	}
}

func TestReportErrors(t *testing.T) {
	m := newMonitor(t, `
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
`)
	healthy := status.Healthy
	tests := []struct {
		name          string
		service, node string
		report        status.Report
		want          error
	}{
		{"unknown service", "nope", "workers", pushReport("a", time.Second), status.ErrUnknownNode},
		{"unknown node", "app", "nope", pushReport("a", time.Second), status.ErrUnknownNode},
		{"health to push", "app", "workers", status.Report{Replica: "a", Interval: time.Second, Health: &healthy}, status.ErrWrongMode},
		{"load to local", "app", "edge", pushReport("a", time.Second), status.ErrWrongMode},
		{"empty replica", "app", "workers", pushReport("", time.Second), status.ErrBadReport},
		{"interval too long", "app", "workers", pushReport("a", status.MaxReportInterval+time.Second), status.ErrBadReport},
		{"nothing reported", "app", "workers", status.Report{Replica: "a", Interval: time.Second}, status.ErrBadReport},
		{"negative ram", "app", "workers", status.Report{Replica: "a", Load: &status.Load{RAM: -1}}, status.ErrBadReport},
		{"accepted", "app", "workers", pushReport("a", time.Second), nil},
		{"load wins over health", "app", "workers", status.Report{Replica: "b", Load: &status.Load{}, Health: &healthy}, nil},
	}
	for _, tt := range tests {
		if err := m.Report(tt.service, tt.node, tt.report); !errors.Is(err, tt.want) {
			t.Errorf("%s: Report = %v, want %v", tt.name, err, tt.want)
		}
	}
	if err := m.Flush("app", "workers", "zzz"); !errors.Is(err, status.ErrUnknownReplica) {
		t.Errorf("Flush(unknown) = %v", err)
	}
	if err := m.Flush("app", "workers", "a"); err != nil {
		t.Errorf("Flush(a) = %v", err)
	}
}

func TestDynamicHealth(t *testing.T) {
	now := time.Unix(1_000_000, 0)
	d := &dynamicReplica{}
	const interval = 30 * time.Second
	tests := []struct {
		name   string
		mode   status.Mode
		rep    status.Replica
		queue  *queueState
		local  status.Health
		want   status.Health
		reason string
	}{
		{"fresh push", status.Push, status.Replica{Checked: now.Add(-49 * time.Second), Load: &status.Load{CPU: 0.5, RAM: 0.5}}, nil, 0, status.Healthy, ""},
		{"silent push at the bound", status.Push, status.Replica{Checked: now.Add(-50 * time.Second), Load: &status.Load{}}, nil, 0, status.Dead, "no report for 50s (reports every 30s)"},
		{"cpu equal to threshold is fine", status.Push, status.Replica{Checked: now, Load: &status.Load{CPU: 0.99}}, nil, 0, status.Healthy, ""},
		{"cpu above", status.Push, status.Replica{Checked: now, Load: &status.Load{CPU: 0.991}}, nil, 0, status.Sick, "CPU load 0.99 above 0.99"},
		{"ram above", status.Push, status.Replica{Checked: now, Load: &status.Load{RAM: 1.2}}, nil, 0, status.Sick, "memory 1.20 above 0.99"},
		{"stalled queue", status.Push, status.Replica{Checked: now, Load: &status.Load{}}, &queueState{QueueResult: probe.QueueResult{OK: true, Stalled: true, Reason: "q stalled"}}, 0, status.Dead, "q stalled"},
		{"local reports sick", status.Local, status.Replica{Checked: now}, nil, status.Sick, status.Sick, "reported sick by Vigil Local"},
		{"local silent", status.Local, status.Replica{Checked: now.Add(-time.Hour)}, nil, status.Healthy, status.Dead, "no report for 1h0m0s (reports every 30s)"},
	}
	for _, tt := range tests {
		d.reported = tt.local
		tt.rep.Interval = interval
		deadline := tt.rep.Checked.Add(interval + 20*time.Second)
		got, reason := dynamicHealth(tt.mode, d, &tt.rep, tt.queue, now, deadline, 0.99, 0.99)
		if got != tt.want || reason != tt.reason {
			t.Errorf("%s: dynamicHealth = %s %q, want %s %q", tt.name, got, reason, tt.want, tt.reason)
		}
	}
}
