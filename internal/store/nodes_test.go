package store

import (
	"errors"
	"reflect"
	"testing"
	"time"

	"github.com/vigil-go/vigil/internal/status"
)

func TestNodeHistoriesSQLite(t *testing.T) { testNodeHistories(t, freshSQLite) }

func TestNodeHistoriesPostgres(t *testing.T) {
	freshPostgres(t) // fail or skip once, here, if the server is missing
	testNodeHistories(t, freshPostgres)
}

// testNodeHistories checks that NodeHistories returns, node by node, exactly
// what Days, Uptime and HourBuckets return, on a history with what those
// must tell apart: other levels, other nodes, ties, gaps, maintenance.
func testNodeHistories(t *testing.T, fresh func(testing.TB) Config) {
	cfg := fresh(t)
	cfg.AliveGap = 2 * time.Hour
	s := open(t, cfg)
	const day = 24 * 60
	const H, S, D = status.Healthy, status.Sick, status.Dead

	// Vigil runs days 0–5 and 6–10; day 5 is a gap.
	markAlive(t, s, "v", 0, 5*day, 60)
	markAlive(t, s, "v", 6*day, 10*day+8*60, 60)
	node := func(svc, n string, m float64, to status.Health) Change {
		return Change{Time: at(m), Level: LevelNode, Service: svc, Node: n, From: H, To: to}
	}
	if err := s.RecordChanges(ctx,
		node("web", "a", 0, H), node("web", "a", 2*day, D),
		// Two changes in the same millisecond: the later one (by id) holds.
		node("web", "a", 4*day, S), node("web", "a", 4*day, D),
		node("web", "a", 7*day+100, H), node("web", "a", 9*day, D), node("web", "a", 9*day+30, H),
		// web/b changed once, long before any range starts.
		node("web", "b", 60, D),
		// A node no longer configured, another level, a replica: none leak.
		node("gone", "old", 3*day, D),
		Change{Time: at(8 * day), Level: LevelService, Service: "web", From: H, To: D},
		Change{Time: at(8 * day), Level: LevelReplica, Service: "web", Node: "a", Replica: "r1", From: H, To: D},
	); err != nil {
		t.Fatal(err)
	}
	var samples []Sample
	for m := 0.0; m < 10*day+8*60; m += 60 {
		h := H
		switch {
		case m >= 2*day && m < 7*day:
			h = D
		case int(m)%(7*60) == 0:
			h = S
		}
		for i, r := range []string{"r1", "r2"} {
			lat := time.Duration(10+i+int(m)%7) * time.Millisecond
			samples = append(samples, Sample{Time: at(m), Service: "web", Node: "a", Replica: r, Health: h, Latency: lat, HasLatency: h != D})
		}
		samples = append(samples,
			Sample{Time: at(m), Service: "web", Node: "c", Replica: "script", Health: H},
			Sample{Time: at(m), Service: "gone", Node: "old", Replica: "x", Health: S, Latency: time.Second, HasLatency: true})
	}
	if err := s.AddSamples(ctx, samples); err != nil {
		t.Fatal(err)
	}

	until := at(10*day + 7*60 + 30)
	q := NodeHistoryQuery{
		Nodes:       []NodeKey{{"web", "a"}, {"web", "b"}, {"web", "c"}, {"web", "never"}},
		Since:       at(3*day + 13*60),
		UptimeSince: []time.Time{until.Add(-24 * time.Hour), until.Add(-7 * 24 * time.Hour), until.Add(-9 * 24 * time.Hour)},
		HoursSince:  until.Add(-24 * time.Hour),
		Until:       until,
		Maintenance: []Window{
			{Start: at(8 * day), End: at(8*day + 120), Targets: []string{"web:a"}},
			{Start: at(9 * day), End: at(9*day + 60), Targets: []string{"web"}},
			{Start: at(0), End: at(10 * day), Targets: []string{"db"}},
		},
	}
	got := map[NodeKey]NodeHistory{}
	err := s.NodeHistories(ctx, q, func(k NodeKey, h NodeHistory) {
		if _, twice := got[k]; twice {
			t.Errorf("%v handed twice", k)
		}
		got[k] = h
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != len(q.Nodes) {
		t.Errorf("NodeHistories handed %d nodes, want %d (the queried ones)", len(got), len(q.Nodes))
	}
	for _, k := range q.Nodes {
		var want NodeHistory
		var err error
		if want.Days, err = s.Days(ctx, k.Service, k.Node, q.Since, q.Until, q.Maintenance); err != nil {
			t.Fatal(err)
		}
		for _, since := range q.UptimeSince {
			rep, err := s.Uptime(ctx, k.Service, k.Node, since, q.Until, q.Maintenance)
			if err != nil {
				t.Fatal(err)
			}
			want.Uptime = append(want.Uptime, rep)
		}
		if want.Hours, err = s.HourBuckets(ctx, SeriesKey{Service: k.Service, Node: k.Node}, q.HoursSince, q.Until); err != nil {
			t.Fatal(err)
		}
		h, ok := got[k]
		if !ok {
			t.Errorf("%v: missing", k)
			continue
		}
		if !reflect.DeepEqual(h.Days, want.Days) {
			t.Errorf("%v: days differ from Days:\n got %+v\nwant %+v", k, h.Days, want.Days)
		}
		if !reflect.DeepEqual(h.Uptime, want.Uptime) {
			t.Errorf("%v: uptime differs from Uptime:\n got %+v\nwant %+v", k, h.Uptime, want.Uptime)
		}
		if !reflect.DeepEqual(h.Hours, want.Hours) {
			t.Errorf("%v: hours differ from HourBuckets:\n got %+v\nwant %+v", k, h.Hours, want.Hours)
		}
	}

	// The comparison is only worth something if the history says
	// something: web/a was down and in maintenance, web/b dead throughout.
	a, b := got[NodeKey{"web", "a"}], got[NodeKey{"web", "b"}]
	if len(a.Days) != 8 || a.Days[0].Worst != D || a.Days[0].Checks != 48 || a.Days[2].Uptime.NoData != 24*time.Hour {
		t.Errorf("web/a days = %+v, want 8 from day 3, dead on the first, no data on day 5", a.Days)
	}
	if len(a.Uptime) != 3 || a.Uptime[0].Ratio != 1 || a.Uptime[1].NoData != 24*time.Hour || a.Uptime[2].Maintenance != 3*time.Hour {
		t.Errorf("web/a uptime = %+v, want up the last day, day 5 without data, 3 h of maintenance in 9 days", a.Uptime)
	}
	if len(a.Hours) != 24 || a.Hours[0].LatencyCount == 0 {
		t.Errorf("web/a hours = %d buckets (%+v), want 24 with latency", len(a.Hours), a.Hours)
	}
	if len(b.Uptime) != 3 || !b.Uptime[1].HasData || b.Uptime[1].Ratio != 0 {
		t.Errorf("web/b uptime = %+v, want dead throughout", b.Uptime)
	}
	if _, ok := got[NodeKey{"gone", "old"}]; ok {
		t.Error("a node that was not asked for is returned")
	}

	bad := q
	bad.Until = q.Since
	if err := s.NodeHistories(ctx, bad, func(NodeKey, NodeHistory) {}); !errors.Is(err, ErrInvalid) {
		t.Errorf("NodeHistories(until = since) = %v, want ErrInvalid", err)
	}
	bad = q
	bad.UptimeSince = []time.Time{q.Until}
	if err := s.NodeHistories(ctx, bad, func(NodeKey, NodeHistory) {}); !errors.Is(err, ErrInvalid) {
		t.Errorf("NodeHistories(uptime from until) = %v, want ErrInvalid", err)
	}
}
