package history

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/vigil-go/vigil/internal/status"
	"github.com/vigil-go/vigil/internal/store"
	"github.com/vigil-go/vigil/internal/store/storetest"
)

var t0 = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

// tree describes a snapshot: replicas by "service/node/replica", each with
// its health, reason and last check (zero: never checked). Nodes under
// "fleet" are push nodes, the others poll nodes.
type tree []rep

type rep struct {
	path    string
	health  status.Health
	reason  string
	checked time.Time
}

func (tr tree) snapshot(refreshed time.Time) *status.Snapshot {
	var services []status.Service
	for _, r := range tr {
		parts := strings.Split(r.path, "/")
		svcID, nodeID, repID := parts[0], parts[1], parts[2]
		si := slices.IndexFunc(services, func(s status.Service) bool { return s.ID == svcID })
		if si < 0 {
			services = append(services, status.Service{ID: svcID, Label: strings.ToUpper(svcID)})
			si = len(services) - 1
		}
		svc := &services[si]
		ni := slices.IndexFunc(svc.Nodes, func(n status.Node) bool { return n.ID == nodeID })
		if ni < 0 {
			mode := status.Poll
			if svcID == "fleet" {
				mode = status.Push
			}
			svc.Nodes = append(svc.Nodes, status.Node{ID: nodeID, Label: strings.ToUpper(nodeID), Mode: mode})
			ni = len(svc.Nodes) - 1
		}
		if repID == "" {
			continue // a node without replicas
		}
		x := status.Replica{ID: repID, Health: r.health, Reason: r.reason, Checked: r.checked, Since: r.checked}
		if svc.Nodes[ni].Mode == status.Push {
			x.Interval = 30 * time.Second
			x.Load = &status.Load{CPU: 0.25, RAM: 0.5}
		}
		svc.Nodes[ni].Replicas = append(svc.Nodes[ni].Replicas, x)
	}
	health, dead := status.Rollup(services)
	return &status.Snapshot{Health: health, Refreshed: refreshed, Services: services, Dead: dead}
}

// changeStrings renders changes oldest first as "level service/node/replica from>to".
func changeStrings(t *testing.T, st *store.Store) []string {
	t.Helper()
	cs, err := st.Changes(context.Background(), store.ChangeFilter{})
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, c := range slices.Backward(cs) {
		out = append(out, fmt.Sprintf("%s %s/%s/%s %s>%s", c.Level, c.Service, c.Node, c.Replica, c.From, c.To))
	}
	return out
}

func newRecorder(t *testing.T, st Store, replicas ...store.PushReplica) *Recorder {
	t.Helper()
	r, err := New(context.Background(), Options{Store: st, Instance: "test", Now: func() time.Time { return t0 }, Replicas: replicas})
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// record feeds snapshots through the recorder and writes them.
func record(t *testing.T, r *Recorder, snaps ...*status.Snapshot) {
	t.Helper()
	for _, s := range snaps {
		r.Published(nil, s)
	}
	r.take()
	r.flush(context.Background(), true)
	if !r.pending.empty(true) {
		t.Fatalf("pending after flush: %+v", r.pending)
	}
}

func TestRecorder(t *testing.T) {
	storetest.Backends(t, func(t *testing.T, fresh func(testing.TB) store.Config) {
		t.Run("Changes", func(t *testing.T) { testChanges(t, fresh) })
		t.Run("Incidents", func(t *testing.T) { testIncidents(t, fresh) })
		t.Run("IncidentsLeftOpen", func(t *testing.T) { testIncidentsLeftOpen(t, fresh) })
		t.Run("Replicas", func(t *testing.T) { testReplicas(t, fresh) })
		t.Run("Samples", func(t *testing.T) { testSamples(t, fresh) })
		t.Run("Run", func(t *testing.T) { testRun(t, fresh) })
	})
}

// testChanges checks that status changes are recorded at every level, that
// unchecked replicas hold their node back, and that a restarted recorder
// records nothing that did not change.
func testChanges(t *testing.T, fresh func(testing.TB) store.Config) {
	cfg := fresh(t)
	st := storetest.Open(t, cfg)
	r := newRecorder(t, st)
	t1, t2 := t0.Add(time.Minute), t0.Add(2*time.Minute)

	record(t, r, tree{
		{"web/front/a", status.Healthy, "", t0},
		{"web/front/b", status.Healthy, "", time.Time{}}, // not checked yet
		{"web/api/c", status.Dead, "status 503", t0},
		{"fleet/workers/", 0, "", time.Time{}}, // a push node nobody reported to
	}.snapshot(t0))
	want := []string{
		"replica web/front/a healthy>healthy",
		"replica web/api/c dead>dead",
		"node web/api/ dead>dead",
		"node fleet/workers/ healthy>healthy",
		"service fleet// healthy>healthy",
	}
	if got := changeStrings(t, st); !slices.Equal(got, want) {
		t.Fatalf("first snapshot recorded\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}

	healthy := tree{
		{"web/front/a", status.Healthy, "", t0},
		{"web/front/b", status.Sick, "slow", t1},
		{"web/api/c", status.Healthy, "", t1},
		{"fleet/workers/", 0, "", time.Time{}},
	}
	record(t, r, healthy.snapshot(t1), healthy.snapshot(t2)) // the second changes nothing
	want = append(want,
		"replica web/front/b sick>sick",
		"node web/front/ sick>sick",
		"replica web/api/c dead>healthy",
		"node web/api/ dead>healthy",
		"service web// sick>sick",
		"general // sick>sick",
	)
	if got := changeStrings(t, st); !slices.Equal(got, want) {
		t.Fatalf("after recovery recorded\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	cs, err := st.Changes(context.Background(), store.ChangeFilter{Service: "web", Node: "front", Level: store.LevelNode})
	if err != nil || len(cs) != 1 || cs[0].Reason != "1 of 2 replicas sick: slow" || !cs[0].Time.Equal(t1) {
		t.Errorf("front's change = %+v, %v; want at %v with reason %q", cs, err, t1, "1 of 2 replicas sick: slow")
	}

	// A restart: replicas unchecked again, then checked with the same
	// health. Nothing is new.
	r = newRecorder(t, st)
	unchecked := slices.Clone(healthy)
	for i := range unchecked {
		unchecked[i].checked = time.Time{}
		unchecked[i].health = status.Healthy
	}
	t3 := t2.Add(time.Minute)
	healthy[1].checked = t3
	record(t, r, unchecked.snapshot(t3), healthy.snapshot(t3))
	if got := changeStrings(t, st); !slices.Equal(got, want) {
		t.Fatalf("after a restart recorded\n%s\nwant nothing new:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

// testIncidents checks that a node going dead opens one automatic incident,
// that a restart continues it, and that recovery resolves it.
func testIncidents(t *testing.T, fresh func(testing.TB) store.Config) {
	ctx := context.Background()
	st := storetest.Open(t, fresh(t))
	r := newRecorder(t, st)
	up := tree{{"web/api/a", status.Healthy, "", t0}, {"web/api/b", status.Healthy, "", t0}}
	down := tree{{"web/api/a", status.Dead, "status 503", t0}, {"web/api/b", status.Dead, "refused", t0}}
	sick := tree{{"web/api/a", status.Sick, "slow", t0}, {"web/api/b", status.Healthy, "", t0}}

	record(t, r, up.snapshot(t0), down.snapshot(t0.Add(time.Minute)), down.snapshot(t0.Add(2*time.Minute)))
	open, err := st.Incidents(ctx, store.IncidentFilter{OpenOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	if len(open) != 1 || !open[0].Auto || !slices.Equal(open[0].Nodes, []string{"web:api"}) ||
		!open[0].Opened.Equal(t0.Add(time.Minute)) || open[0].Title != "WEB: API is down" ||
		len(open[0].Updates) != 1 || open[0].Updates[0].Text != "2 of 2 replicas dead: status 503" {
		t.Fatalf("open incidents = %+v, want one automatic incident for web:api opened at %v", open, t0.Add(time.Minute))
	}

	// Restart while still dead: the same incident goes on.
	r = newRecorder(t, st)
	record(t, r, down.snapshot(t0.Add(10*time.Minute)))
	// Sick is not dead: the outage is over.
	record(t, r, sick.snapshot(t0.Add(12*time.Minute)))
	all, err := st.Incidents(ctx, store.IncidentFilter{})
	if err != nil {
		t.Fatal(err)
	}
	if len(all) != 1 || all[0].ID != open[0].ID || all[0].IsOpen() || all[0].Duration(time.Time{}) != 11*time.Minute {
		t.Fatalf("incidents = %+v, want the same one resolved after 11m", all)
	}
	if u := all[0].Updates; len(u) != 2 || u[1].Status != "resolved" || u[1].Text != "API is sick again after 11m0s" {
		t.Errorf("updates = %+v, want a resolution note with the duration", u)
	}

	// A new outage is a new incident; an operator resolving it first is
	// not an error when the node recovers.
	record(t, r, down.snapshot(t0.Add(20*time.Minute)))
	open, err = st.Incidents(ctx, store.IncidentFilter{OpenOnly: true})
	if err != nil || len(open) != 1 || open[0].ID == all[0].ID {
		t.Fatalf("after a second outage open = %+v, %v; want one new incident", open, err)
	}
	if err := st.ResolveIncident(ctx, open[0].ID, t0.Add(21*time.Minute)); err != nil {
		t.Fatal(err)
	}
	record(t, r, up.snapshot(t0.Add(22*time.Minute)))
	got, err := st.Incident(ctx, open[0].ID)
	if err != nil || !got.Resolved.Equal(t0.Add(21*time.Minute)) {
		t.Errorf("operator-resolved incident = %+v, %v; want it left as resolved at 21m", got, err)
	}
}

// testIncidentsLeftOpen checks that a restart resolves the automatic
// incidents nothing else would: of a node whose recovery was recorded just
// before vigil stopped, and of a node no longer configured.
func testIncidentsLeftOpen(t *testing.T, fresh func(testing.TB) store.Config) {
	ctx := context.Background()
	st := storetest.Open(t, fresh(t))
	if err := st.RecordChanges(ctx,
		store.Change{Time: t0, Level: store.LevelNode, Service: "web", Node: "api", From: status.Healthy, To: status.Dead},
		store.Change{Time: t0.Add(time.Minute), Level: store.LevelNode, Service: "web", Node: "api", From: status.Dead, To: status.Healthy},
	); err != nil {
		t.Fatal(err)
	}
	var ids []int64
	for _, node := range []string{"web:api", "web:gone"} {
		in, err := st.OpenIncident(ctx, store.Incident{Title: node, Auto: true, Nodes: []string{node}, Opened: t0})
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, in.ID)
	}
	manual, err := st.OpenIncident(ctx, store.Incident{Title: "planned", Nodes: []string{"web:api"}, Opened: t0})
	if err != nil {
		t.Fatal(err)
	}
	r := newRecorder(t, st)
	record(t, r, tree{{"web/api/a", status.Healthy, "", t0.Add(2 * time.Minute)}}.snapshot(t0.Add(2*time.Minute)))
	for _, id := range ids {
		in, err := st.Incident(ctx, id)
		if err != nil || !in.Resolved.Equal(t0.Add(2*time.Minute)) {
			t.Errorf("incident %d = %+v, %v; want resolved at the first snapshot", id, in, err)
		}
	}
	if in, err := st.Incident(ctx, manual.ID); err != nil || !in.IsOpen() {
		t.Errorf("an operator's incident = %+v, %v; want it left open", in, err)
	}
	want := []string{"node web/api/ healthy>dead", "node web/api/ dead>healthy",
		"replica web/api/a healthy>healthy", "service web// healthy>healthy", "general // healthy>healthy"}
	if got := changeStrings(t, st); !slices.Equal(got, want) {
		t.Errorf("changes = %q, want %q: no new node change", got, want)
	}
}

// testReplicas checks that push replicas are saved when they report, once
// per batch, and deleted when they disappear.
func testReplicas(t *testing.T, fresh func(testing.TB) store.Config) {
	ctx := context.Background()
	st := storetest.Open(t, fresh(t))
	t1, t2 := t0.Add(10*time.Second), t0.Add(20*time.Second)
	stored := store.PushReplica{Service: "fleet", Node: "workers", Replica: "old", Mode: status.Push,
		Interval: time.Minute, LastReport: t0.Add(-time.Hour), Health: status.Healthy}
	if err := st.SaveReplica(ctx, stored); err != nil {
		t.Fatal(err)
	}
	r := newRecorder(t, st, stored)
	record(t, r,
		tree{{"fleet/workers/p1", status.Healthy, "", t0}}.snapshot(t0),
		tree{{"fleet/workers/p1", status.Healthy, "", t1}, {"fleet/workers/p2", status.Sick, "CPU load 1.20 above 0.99", t1}}.snapshot(t1),
	)
	list, err := st.LoadReplicas(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(list) != 2 || list[0].Replica != "p1" || !list[0].LastReport.Equal(t1) || list[0].Interval != 30*time.Second ||
		list[0].Load == nil || list[0].Load.RAM != 0.5 || list[0].Mode != status.Push {
		t.Fatalf("stored = %+v, want p1 at its last report %v and p2, and old deleted", list, t1)
	}
	if list[1].Replica != "p2" || list[1].Health != status.Sick || list[1].Reason != "CPU load 1.20 above 0.99" {
		t.Errorf("p2 = %+v, want sick with its reason", list[1])
	}
	record(t, r, tree{{"fleet/workers/p2", status.Sick, "", t1}}.snapshot(t2))
	list, err = st.LoadReplicas(ctx)
	if err != nil || len(list) != 1 || list[0].Replica != "p2" {
		t.Errorf("after p1 left stored = %+v, %v; want only p2", list, err)
	}
}

func observation(replica string, at time.Time, h status.Health, latency time.Duration) status.Observation {
	return status.Observation{Service: "web", Node: "api", Replica: replica, At: at,
		Health: h, Latency: latency}
}

// testSamples checks that observations reach the minute and hour buckets.
func testSamples(t *testing.T, fresh func(testing.TB) store.Config) {
	ctx := context.Background()
	st := storetest.Open(t, fresh(t))
	r := newRecorder(t, st)
	for i := range 12000 { // two minutes, 10 ms apart
		h := status.Healthy
		if i%4 == 0 {
			h = status.Dead
		}
		r.Observed(observation("a", t0.Add(time.Duration(i)*10*time.Millisecond), h, time.Duration(i%100+1)*time.Millisecond))
	}
	record(t, r)
	mins, err := st.MinuteBuckets(ctx, store.SeriesKey{Service: "web", Node: "api"}, t0, t0.Add(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	if len(mins) != 2 || mins[0].Checks() != 6000 || mins[0].Dead != 1500 || mins[1].Checks() != 6000 {
		t.Fatalf("minute buckets = %+v, want two of 6000 samples, a quarter dead", mins)
	}
	if b := mins[0]; b.LatencyMin != time.Millisecond || b.LatencyMax != 100*time.Millisecond || b.LatencyAvg() != 50500*time.Microsecond {
		t.Errorf("latency min/avg/max = %v/%v/%v, want 1ms/50.5ms/100ms", b.LatencyMin, b.LatencyAvg(), b.LatencyMax)
	}
	hours, err := st.HourBuckets(ctx, store.SeriesKey{Service: "web"}, t0, t0.Add(time.Hour))
	if err != nil || len(hours) != 1 || hours[0].Checks() != 12000 {
		t.Errorf("hour buckets = %+v, %v; want one of 12000", hours, err)
	}
}

// testRun checks the running recorder: the hooks never wait, everything
// queued is written by the time Run returns, and vigil is marked running.
func testRun(t *testing.T, fresh func(testing.TB) store.Config) {
	ctx := context.Background()
	st := storetest.Open(t, fresh(t))
	now := time.Now().UTC().Truncate(time.Millisecond)
	r, err := New(ctx, Options{Store: st, Instance: "test", FlushEvery: time.Hour, SampleFlushEvery: 50 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	// Hooks called before Run and from many goroutines at once.
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			for i := range 500 {
				r.Observed(observation(fmt.Sprint("r", g), now.Add(time.Duration(i)*time.Millisecond), status.Healthy, time.Millisecond))
			}
		})
	}
	wg.Wait()
	stored := func() int64 {
		hours, err := st.HourBuckets(ctx, store.SeriesKey{Service: "web"}, now.Add(-time.Hour), now.Add(time.Hour))
		if err != nil {
			t.Fatal(err)
		}
		var n int64
		for _, b := range hours {
			n += b.Checks()
		}
		return n
	}
	runCtx, stop := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() { r.Run(runCtx); close(done) }()
	// Samples are written at their own tick, not at the (hourly) tick of
	// changes.
	for deadline := time.Now().Add(10 * time.Second); stored() != 4000; time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("%d of 4000 samples written by a running recorder", stored())
		}
	}
	// What is queued at shutdown is written before Run returns.
	r.Published(nil, tree{{"web/api/r0", status.Dead, "down", now}}.snapshot(now))
	r.Observed(observation("r0", now, status.Dead, time.Millisecond))
	stop()
	<-done
	if n := stored(); n != 4001 {
		t.Errorf("samples stored = %d, want all 4001", n)
	}
	if got := changeStrings(t, st); !slices.Contains(got, "node web/api/ dead>dead") {
		t.Errorf("changes = %q, want the snapshot published just before shutdown", got)
	}
	up, err := st.Uptime(ctx, "web", "api", now.Add(-time.Minute), time.Now().Add(time.Minute), nil)
	if err != nil || up.Down <= 0 || up.Up != 0 {
		t.Errorf("uptime = %+v, %v; want time down while vigil ran", up, err)
	}
}

// flaky is a store whose writes of changes and samples fail while failing is set.
type flaky struct {
	*store.Store
	mu      sync.Mutex
	failing bool
}

var errDown = errors.New("database down")

func (f *flaky) down() bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.failing
}

func (f *flaky) RecordChanges(ctx context.Context, cs ...store.Change) error {
	if f.down() {
		return errDown
	}
	return f.Store.RecordChanges(ctx, cs...)
}

func (f *flaky) AddBatch(ctx context.Context, b *store.SampleBatch) error {
	if f.down() {
		return errDown
	}
	return f.Store.AddBatch(ctx, b)
}

// TestRecorderRetries checks that a failed write is kept and retried after a
// delay, and that the memory it takes is bounded.
func TestRecorderRetries(t *testing.T) {
	st := &flaky{Store: storetest.Open(t, storetest.SQLite(t)), failing: true}
	clock := t0
	r, err := New(context.Background(), Options{Store: st, Now: func() time.Time { return clock }, MaxPending: 100})
	if err != nil {
		t.Fatal(err)
	}
	// 150 minutes of samples, one a minute, over three hours: the cap
	// keeps the newest 100 minute buckets, and every hour.
	for i := range 150 {
		r.Observed(observation("a", t0.Add(time.Duration(i)*time.Minute), status.Healthy, time.Millisecond))
	}
	r.Published(nil, tree{{"web/api/a", status.Healthy, "", t0}}.snapshot(t0))
	r.take()
	r.flush(context.Background(), true)
	if r.pending.samples.Buckets() != 100 || r.pending.samples.Samples() != 100 || len(r.pending.changes) != 4 {
		t.Fatalf("pending after a failure: %d minute buckets, %d samples, %d changes; want the newest 100 and 4 changes",
			r.pending.samples.Buckets(), r.pending.samples.Samples(), len(r.pending.changes))
	}
	st.mu.Lock()
	st.failing = false
	st.mu.Unlock()
	r.flush(context.Background(), true)
	if r.pending.samples.Buckets() != 100 {
		t.Fatal("retried before the retry delay")
	}
	clock = clock.Add(2 * DefaultFlushEvery)
	r.flush(context.Background(), true)
	if !r.pending.empty(true) {
		t.Fatalf("pending after the database came back: %+v", r.pending)
	}
	ctx := context.Background()
	count := func(bs []store.Bucket, err error) (n int64, first time.Time) {
		if err != nil {
			t.Fatal(err)
		}
		for _, b := range bs {
			n += b.Checks()
		}
		if len(bs) > 0 {
			first = bs[0].Start
		}
		return n, first
	}
	mins, first := count(st.MinuteBuckets(ctx, store.SeriesKey{Service: "web"}, t0, t0.Add(4*time.Hour)))
	if mins != 100 || !first.Equal(t0.Add(50*time.Minute)) {
		t.Errorf("stored %d minute samples from %v, want the newest 100, from %v", mins, first, t0.Add(50*time.Minute))
	}
	if hours, _ := count(st.HourBuckets(ctx, store.SeriesKey{Service: "web"}, t0, t0.Add(4*time.Hour))); hours != 150 {
		t.Errorf("stored %d hour samples, want all 150", hours)
	}
}

func (f *flaky) MarkAlive(ctx context.Context, instance string, t time.Time) error {
	if f.down() {
		return errDown
	}
	return f.Store.MarkAlive(ctx, instance, t)
}

// TestAliveKeptThroughOutage: the heartbeats the database missed while it
// was down are written once it is back, so the time vigil ran through the
// outage counts as up, not as "no data".
func TestAliveKeptThroughOutage(t *testing.T) {
	ctx := context.Background()
	st := &flaky{Store: storetest.Open(t, storetest.SQLite(t))}
	clock := t0
	r, err := New(ctx, Options{Store: st, Instance: "test", Now: func() time.Time { return clock }})
	if err != nil {
		t.Fatal(err)
	}
	if err := st.RecordChanges(ctx, store.Change{Time: t0, Level: store.LevelNode, Service: "web", Node: "api",
		From: status.Healthy, To: status.Healthy}); err != nil {
		t.Fatal(err)
	}
	r.markAlive(ctx)
	st.mu.Lock()
	st.failing = true
	st.mu.Unlock()
	for range 6 { // three minutes of heartbeats lost, twice the alive gap
		clock = clock.Add(DefaultAliveEvery)
		r.markAlive(ctx)
	}
	st.mu.Lock()
	st.failing = false
	st.mu.Unlock()
	clock = clock.Add(DefaultAliveEvery)
	r.markAlive(ctx)
	up, err := st.Uptime(ctx, "web", "api", t0, clock, nil)
	if err != nil {
		t.Fatal(err)
	}
	if want := clock.Sub(t0); up.Up != want || up.NoData != 0 {
		t.Errorf("uptime through the outage = %+v, want up %v and no \"no data\"", up, want)
	}
}
