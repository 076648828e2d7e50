package alerting

import (
	"fmt"
	"maps"
	"slices"
	"testing"
	"time"

	"github.com/vigil-go/vigil/internal/alertpolicy"
	"github.com/vigil-go/vigil/internal/config"
	"github.com/vigil-go/vigil/internal/notify"
	"github.com/vigil-go/vigil/internal/status"
	"github.com/vigil-go/vigil/internal/testkit"
)

// snapshotOf is the tree of snapshot (web/core: a, b; web/edge: c) with
// the given replicas in the given health, each with a reason.
func snapshotOf(at time.Time, health map[string]status.Health) *status.Snapshot {
	s := snapshot(at)
	for si := range s.Services {
		svc := &s.Services[si]
		for ni := range svc.Nodes {
			n := &svc.Nodes[ni]
			for ri := range n.Replicas {
				r := &n.Replicas[ri]
				if h, ok := health[status.DeadID(svc.ID, n.ID, r.ID)]; ok {
					r.Health, r.Reason = h, "slow: 2.1 s"
					if h == status.Dead {
						r.Reason = "status 503, want 200–399"
					}
				}
			}
		}
	}
	s.Health, s.Dead = status.Rollup(s.Services)
	return s
}

// TestNotifyOn routes web/core (notify_on dead, recovered, sick) to the
// webhook only and leaves web/edge (notify_on dead) to every channel: core
// going sick and back is announced to the webhook with the reason, edge's
// outage to both, and its recovery to neither.
func TestNotifyOn(t *testing.T) {
	chs, err := notify.Build([]notify.Section{
		&notify.Slack{HookURL: "http://127.0.0.1:9/slack"},
		&notify.Webhook{HookURL: "http://127.0.0.1:9/hook"},
	}, notify.Options{})
	if err != nil {
		t.Fatal(err)
	}
	c := testkit.NewClock(t0)
	h := newHarness(t, dbPath(t), c, alertpolicy.New(&config.Notify{}), chs, nil, func(o *Options) {
		o.Routes = map[string][]string{"web:core": {"webhook"}}
		o.NotifyOn = map[string][]string{
			"web:core": {config.EventDead, config.EventRecovered, config.EventSick},
			"web:edge": {config.EventDead},
		}
	})
	heard := func(from int) map[string][]string {
		out := map[string][]string{}
		for _, q := range h.out.all()[from:] {
			for _, it := range q.items {
				m := it.Message
				out[it.Channel] = append(out[it.Channel], fmt.Sprintf("%s %s dead=%v recovered=%v reasons=%v", m.Kind, m.Status, m.Dead, m.Recovered, m.Reasons))
			}
		}
		return out
	}
	step := func(what string, health map[string]status.Health, want map[string][]string) {
		t.Helper()
		from := len(h.out.all())
		for end := c.Now().Add(30 * time.Second); c.Now().Before(end); c.Advance(10 * time.Second) {
			h.e.Process(ctx, snapshotOf(c.Now(), health))
		}
		if got := heard(from); !maps.EqualFunc(got, want, slices.Equal) {
			t.Errorf("%s: queued\n%q\nwant\n%q", what, got, want)
		}
	}
	step("all healthy", nil, map[string][]string{})
	step("core sick", map[string]status.Health{"web:core:a": status.Sick}, map[string][]string{
		"webhook": {"changed sick dead=[web:core:a] recovered=[] reasons=map[web:core:a:slow: 2.1 s]"},
	})
	step("core back", nil, map[string][]string{
		"webhook": {"changed healthy dead=[] recovered=[web:core:a] reasons=map[]"},
	})
	step("edge sick: not announced", map[string]status.Health{"web:edge:c": status.Sick}, map[string][]string{})
	step("edge dead", map[string]status.Health{"web:edge:c": status.Dead}, map[string][]string{
		"slack":   {"changed dead dead=[web:edge:c] recovered=[] reasons=map[web:edge:c:status 503, want 200–399]"},
		"webhook": {"changed dead dead=[web:edge:c] recovered=[] reasons=map[web:edge:c:status 503, want 200–399]"},
	})
	step("edge back: not announced", nil, map[string][]string{})
	step("edge dead again: announced", map[string]status.Health{"web:edge:c": status.Dead}, map[string][]string{
		"slack":   {"changed dead dead=[web:edge:c] recovered=[] reasons=map[web:edge:c:status 503, want 200–399]"},
		"webhook": {"changed dead dead=[web:edge:c] recovered=[] reasons=map[web:edge:c:status 503, want 200–399]"},
	})
}
