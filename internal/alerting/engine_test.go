package alerting

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/vigil-go/vigil/internal/alertpolicy"
	"github.com/vigil-go/vigil/internal/config"
	"github.com/vigil-go/vigil/internal/notify"
	"github.com/vigil-go/vigil/internal/outbox"
	"github.com/vigil-go/vigil/internal/status"
	"github.com/vigil-go/vigil/internal/store"
	"github.com/vigil-go/vigil/internal/testkit"
)

var ctx = context.Background()

var t0 = time.Date(2026, 3, 1, 8, 0, 0, 0, time.UTC)

// queued is one Enqueue call that reached the outbox.
type queued struct {
	at    time.Time
	items []outbox.Item
	added int
}

// recordingOutbox writes to a real outbox (an SQLite store, through
// outbox.Worker) and remembers each call, so tests see what was queued and
// how much of it was new.
type recordingOutbox struct {
	w     *outbox.Worker
	clock *testkit.Clock
	mu    sync.Mutex
	calls []queued
}

func (r *recordingOutbox) Enqueue(ctx context.Context, items []outbox.Item) (int, error) {
	n, err := r.w.Enqueue(ctx, items)
	if err == nil {
		r.mu.Lock()
		r.calls = append(r.calls, queued{at: r.clock.Now(), items: items, added: n})
		r.mu.Unlock()
	}
	return n, err
}

func (r *recordingOutbox) all() []queued {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.calls)
}

// kinds lists the kinds of the calls that added something new.
func (r *recordingOutbox) kinds() []notify.Kind {
	var out []notify.Kind
	for _, c := range r.all() {
		if c.added > 0 {
			out = append(out, c.items[0].Message.Kind)
		}
	}
	return out
}

type harness struct {
	st     *store.Store
	clock  *testkit.Clock
	out    *recordingOutbox
	e      *Engine
	logs   *bytes.Buffer
	logsMu *sync.Mutex
}

// newHarness opens (or reopens) the SQLite store at path and starts an
// engine on it at the clock's time, as vigil does at each start.
func newHarness(t *testing.T, path string, c *testkit.Clock, p alertpolicy.Policy, chs []notify.Channel, storeWrap func(Store) Store, tune ...func(*Options)) *harness {
	t.Helper()
	st, err := store.Open(ctx, store.Config{Path: path})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	h := &harness{st: st, clock: c, logs: &bytes.Buffer{}, logsMu: &sync.Mutex{}}
	h.out = &recordingOutbox{w: outbox.New(outbox.Options{Store: st, Channels: chs, Now: c.Now}), clock: c}
	var es Store = st
	if storeWrap != nil {
		es = storeWrap(st)
	}
	o := Options{
		Policy: p, Channels: chs, Page: alertpolicy.Page{Title: "Test", URL: "https://status.example/"},
		Store: es, Outbox: h.out, Now: c.Now, SettleTimeout: time.Minute,
		Logger: slog.New(slog.NewTextHandler(lockedWriter{h.logsMu, h.logs}, nil)),
	}
	for _, f := range tune {
		f(&o)
	}
	h.e, err = New(ctx, o)
	if err != nil {
		t.Fatal(err)
	}
	return h
}

type lockedWriter struct {
	mu *sync.Mutex
	w  *bytes.Buffer
}

func (l lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

func (h *harness) log() string {
	h.logsMu.Lock()
	defer h.logsMu.Unlock()
	return h.logs.String()
}

// snapshot is the tree web/core (replicas a, b) and web/edge (replica c),
// every replica checked, with the given replicas dead.
func snapshot(at time.Time, dead ...string) *status.Snapshot {
	node := func(id string, replicas ...string) status.Node {
		n := status.Node{ID: id, Mode: status.Poll}
		for _, r := range replicas {
			h := status.Healthy
			if slices.Contains(dead, "web:"+id+":"+r) {
				h = status.Dead
			}
			n.Replicas = append(n.Replicas, status.Replica{ID: r, Health: h, Checked: at})
		}
		return n
	}
	services := []status.Service{{ID: "web", Nodes: []status.Node{node("core", "a", "b"), node("edge", "c")}}}
	health, deadList := status.Rollup(services)
	return &status.Snapshot{Health: health, Refreshed: at, Services: services, Dead: deadList}
}

// run feeds the engine a snapshot every 10 s (the monitor's aggregation
// period) for span, starting now.
func (h *harness) run(span time.Duration, dead ...string) {
	for end := h.clock.Now().Add(span); h.clock.Now().Before(end); h.clock.Advance(10 * time.Second) {
		h.e.Process(ctx, snapshot(h.clock.Now(), dead...))
	}
}

func webhookChannels(t *testing.T) []notify.Channel {
	chs, err := notify.Build([]notify.Section{&notify.Webhook{HookURL: "http://127.0.0.1:9/hook"}}, notify.Options{})
	if err != nil {
		t.Fatal(err)
	}
	return chs
}

func dbPath(t *testing.T) string { return filepath.Join(t.TempDir(), "vigil.db") }

// TestReminderSchedules checks every backoff function and the limit, with
// a synthetic clock: the gaps between reminders are interval × N^x, N
// growing by one per reminder up to the limit.
func TestReminderSchedules(t *testing.T) {
	const interval = time.Minute
	for _, fn := range []struct {
		name string
		x    int
	}{{"none", 0}, {"linear", 1}, {"square", 2}, {"cubic", 3}} {
		t.Run(fn.name, func(t *testing.T) {
			seconds := config.Seconds(60)
			p := alertpolicy.New(&config.Notify{ReminderInterval: &seconds, ReminderBackoffFunction: fn.name, ReminderBackoffLimit: 3})
			h := newHarness(t, dbPath(t), testkit.NewClock(t0), p, webhookChannels(t), nil)
			const span = 2 * time.Hour
			h.run(span, "web:core:a")

			var gaps []time.Duration
			var last time.Time
			for _, c := range h.out.all() {
				if !last.IsZero() {
					gaps = append(gaps, c.at.Sub(last))
				}
				last = c.at
				if want := notify.Reminder; len(gaps) > 0 && c.items[0].Message.Kind != want {
					t.Errorf("call %d kind %s, want %s", len(gaps), c.items[0].Message.Kind, want)
				}
			}
			var want []time.Duration
			for n, total := 1, time.Duration(0); ; n++ {
				g := interval
				for range fn.x {
					g *= time.Duration(min(n, 3))
				}
				if total += g; total >= span {
					break
				}
				want = append(want, g)
			}
			if !slices.Equal(gaps, want) {
				t.Errorf("gaps between notifications = %v, want %v", gaps, want)
			}
		})
	}
}

// TestEscalationTargets: with reminder_escalate, each reminder escalates
// one more Pushover user; without, every user on every reminder. A change
// notification is never escalated.
func TestEscalationTargets(t *testing.T) {
	chs, err := notify.Build([]notify.Section{&notify.Pushover{AppToken: "app", UserKeys: []string{"u1", "u2", "u3"}}}, notify.Options{})
	if err != nil {
		t.Fatal(err)
	}
	for _, escalate := range []bool{true, false} {
		seconds := config.Seconds(60)
		p := alertpolicy.New(&config.Notify{ReminderInterval: &seconds, ReminderBackoffFunction: "none", ReminderEscalate: escalate})
		h := newHarness(t, dbPath(t), testkit.NewClock(t0), p, chs, nil)
		h.run(4*time.Minute+5*time.Second, "web:core:a")
		var got [][]string
		for _, c := range h.out.all() {
			var users []string
			for _, it := range c.items {
				if it.Message.Escalated {
					users = append(users, it.Target)
				}
			}
			got = append(got, users)
		}
		want := [][]string{nil, {"u1"}, {"u1", "u2"}, {"u1", "u2", "u3"}, {"u1", "u2", "u3"}}
		if !escalate {
			want = [][]string{nil, {"u1", "u2", "u3"}, {"u1", "u2", "u3"}, {"u1", "u2", "u3"}, {"u1", "u2", "u3"}}
		}
		if !slices.EqualFunc(got, want, slices.Equal) {
			t.Errorf("escalate=%v: escalated users per notification = %q, want %q", escalate, got, want)
		}
	}
}

// TestRestartContinues: after a restart the outage is not announced again,
// the reminder schedule goes on from the stored state, and the recovery is
// announced with the replicas that came back.
func TestRestartContinues(t *testing.T) {
	path := dbPath(t)
	c := testkit.NewClock(t0)
	seconds := config.Seconds(300)
	p := alertpolicy.New(&config.Notify{ReminderInterval: &seconds, ReminderBackoffFunction: "linear", ReminderBackoffLimit: 3})
	chs := webhookChannels(t)

	h1 := newHarness(t, path, c, p, chs, nil)
	h1.run(6*time.Minute, "web:core:a") // change at 0, reminder at 5 min
	if got, want := h1.out.kinds(), []notify.Kind{notify.Changed, notify.Reminder}; !slices.Equal(got, want) {
		t.Fatalf("before the restart: %v, want %v", got, want)
	}

	c.Advance(time.Minute) // vigil is down for a minute
	h2 := newHarness(t, path, c, p, chs, nil)
	h2.run(3*time.Minute, "web:core:a")
	if got := h2.out.kinds(); len(got) != 0 {
		t.Errorf("after the restart, still dead: queued %v, want nothing", got)
	}
	// Linear: the second reminder comes 10 min after the first (t0+5m).
	h2.run(6*time.Minute, "web:core:a")
	calls := h2.out.all()
	if len(calls) != 1 || calls[0].items[0].Message.Kind != notify.Reminder || !calls[0].at.Equal(t0.Add(15*time.Minute)) {
		t.Errorf("after the restart: %+v, want one reminder at t0+15m", calls)
	}

	c.Advance(time.Minute)
	h3 := newHarness(t, path, c, p, chs, nil) // recovered while vigil was down
	h3.run(10 * time.Second)
	calls = h3.out.all()
	if len(calls) != 1 {
		t.Fatalf("recovery after a restart: %d calls, want 1", len(calls))
	}
	m := calls[0].items[0].Message
	if m.Kind != notify.Changed || m.Status != status.Healthy || !slices.Equal(m.Recovered, []string{"web:core:a"}) || len(m.Dead) != 0 {
		t.Errorf("recovery message = %+v, want changed to healthy, recovered web:core:a", m)
	}
}

// failingPut is a store whose PutReminder fails: vigil dies between
// queueing an alert and saving the state that says it was sent.
type failingPut struct{ Store }

func (failingPut) PutReminder(context.Context, string, store.ReminderState) error {
	return errors.New("disk on fire")
}

// TestCrashBeforeStateSaved: the alert is decided again after the restart,
// with the same ids, so the outbox holds it once.
func TestCrashBeforeStateSaved(t *testing.T) {
	path := dbPath(t)
	c := testkit.NewClock(t0)
	chs := webhookChannels(t)
	p := alertpolicy.New(&config.Notify{})
	h1 := newHarness(t, path, c, p, chs, func(s Store) Store { return failingPut{s} })
	h1.run(10*time.Second, "web:core:a")
	if calls := h1.out.all(); len(calls) != 1 || calls[0].added != 1 {
		t.Fatalf("first run: %+v, want one new delivery", calls)
	}
	if !bytes.Contains([]byte(h1.log()), []byte("cannot save the alert state")) {
		t.Errorf("the failed save is not logged:\n%s", h1.log())
	}

	c.Advance(30 * time.Second)
	h2 := newHarness(t, path, c, p, chs, nil)
	h2.run(10*time.Second, "web:core:a")
	calls := h2.out.all()
	if len(calls) != 1 || calls[0].added != 0 || calls[0].items[0].ID != h1.out.all()[0].items[0].ID {
		t.Errorf("after the restart: %+v, want the same alert again, with the same id, adding nothing", calls)
	}
	due, err := h2.st.Due(ctx, "webhook", c.Now(), 0)
	if err != nil || len(due) != 1 {
		t.Errorf("outbox holds %d pending webhook messages (%v), want 1", len(due), err)
	}
	// Saved this time: nothing more is queued.
	h2.run(time.Minute, "web:core:a")
	if n := len(h2.out.all()); n != 1 {
		t.Errorf("%d calls after the state was saved, want still 1", n)
	}
}

// TestMaintenanceMutes: a node under maintenance pages no one; the muted
// alert is logged; other nodes still alert.
func TestMaintenanceMutes(t *testing.T) {
	c := testkit.NewClock(t0)
	h := newHarness(t, dbPath(t), c, alertpolicy.New(&config.Notify{}), webhookChannels(t), nil)
	if _, err := h.st.AddMaintenance(ctx, store.Window{Start: t0.Add(-time.Minute), End: t0.Add(10 * time.Minute), Targets: []string{"web:core"}}); err != nil {
		t.Fatal(err)
	}
	h.run(time.Minute, "web:core:a")
	if calls := h.out.all(); len(calls) != 0 {
		t.Errorf("dead node under maintenance queued %+v, want nothing", calls)
	}
	if n := bytes.Count([]byte(h.log()), []byte("alert muted by maintenance")); n != 1 {
		t.Errorf("muted alert logged %d times, want once:\n%s", n, h.log())
	}
	h.run(10*time.Second, "web:core:a", "web:edge:c")
	calls := h.out.all()
	if len(calls) != 1 || !slices.Equal(calls[0].items[0].Message.Dead, []string{"web:edge:c"}) {
		t.Errorf("node outside maintenance: %+v, want one alert naming web:edge:c only", calls)
	}
}

// TestSettle: before every replica was checked once, a snapshot shows
// unchecked replicas as healthy; the engine waits (up to SettleTimeout).
func TestSettle(t *testing.T) {
	path := dbPath(t)
	c := testkit.NewClock(t0)
	chs := webhookChannels(t)
	p := alertpolicy.New(&config.Notify{})
	h1 := newHarness(t, path, c, p, chs, nil)
	h1.run(10*time.Second, "web:core:a")

	c.Advance(time.Minute)
	h2 := newHarness(t, path, c, p, chs, nil)
	unchecked := snapshot(c.Now())
	unchecked.Services[0].Nodes[0].Replicas[0].Checked = time.Time{}
	h2.e.Process(ctx, unchecked) // a not checked yet: shows healthy
	if calls := h2.out.all(); len(calls) != 0 {
		t.Fatalf("decided on an unsettled snapshot: %+v", calls)
	}
	c.Advance(time.Minute) // SettleTimeout: decide anyway
	h2.e.Process(ctx, unchecked)
	if got := h2.out.kinds(); !slices.Equal(got, []notify.Kind{notify.Changed}) {
		t.Errorf("after the settle timeout: %v, want the change", got)
	}
}

// TestIgnoreReminders: muted reminders stay muted across a restart and
// resume at the given time.
func TestIgnoreReminders(t *testing.T) {
	path := dbPath(t)
	c := testkit.NewClock(t0)
	chs := webhookChannels(t)
	seconds := config.Seconds(60)
	p := alertpolicy.New(&config.Notify{ReminderInterval: &seconds})
	h1 := newHarness(t, path, c, p, chs, nil)
	h1.run(10*time.Second, "web:core:a")
	until := t0.Add(10 * time.Minute)
	if err := h1.e.IgnoreReminders(ctx, until); err != nil {
		t.Fatal(err)
	}
	if got := h1.e.RemindersIgnoredUntil(); !got.Equal(until) {
		t.Errorf("RemindersIgnoredUntil = %v, want %v", got, until)
	}
	h2 := newHarness(t, path, c, p, chs, nil)
	if got := h2.e.RemindersIgnoredUntil(); !got.Equal(until) {
		t.Errorf("after a restart RemindersIgnoredUntil = %v, want %v", got, until)
	}
	h2.run(10*time.Minute+30*time.Second, "web:core:a")
	calls := h2.out.all()
	if len(calls) != 1 || calls[0].items[0].Message.Kind != notify.Reminder || !calls[0].at.Equal(until) {
		t.Errorf("reminders while ignored: %+v, want the first one at %v", calls, until)
	}
	if err := h2.e.IgnoreReminders(ctx, time.Time{}); err != nil || !h2.e.RemindersIgnoredUntil().IsZero() {
		t.Errorf("clearing: %v, until %v; want nil, zero", err, h2.e.RemindersIgnoredUntil())
	}
}

// TestPublishedKeepsTransitions: snapshots waiting to be decided replace
// each other, except where the page moves into or out of dead.
func TestPublishedKeepsTransitions(t *testing.T) {
	h := newHarness(t, dbPath(t), testkit.NewClock(t0), alertpolicy.New(&config.Notify{}), webhookChannels(t), nil)
	seq := []*status.Snapshot{
		snapshot(t0), snapshot(t0.Add(time.Second)),
		snapshot(t0.Add(2*time.Second), "web:core:a"), snapshot(t0.Add(3*time.Second), "web:core:a"),
		snapshot(t0.Add(4 * time.Second)),
	}
	for i, s := range seq {
		var prev *status.Snapshot
		if i > 0 {
			prev = seq[i-1]
		}
		h.e.Published(prev, s)
	}
	h.e.mu.Lock()
	got := slices.Clone(h.e.pending)
	h.e.mu.Unlock()
	if want := []*status.Snapshot{seq[1], seq[3], seq[4]}; !slices.Equal(got, want) {
		t.Errorf("pending = %d snapshots, want the last of each run: healthy, dead, healthy", len(got))
	}
}

// TestPublishedIsBounded: a flapping page that the engine cannot keep up
// with costs at most maxPending waiting snapshots, the newest last.
func TestPublishedIsBounded(t *testing.T) {
	h := newHarness(t, dbPath(t), testkit.NewClock(t0), alertpolicy.New(&config.Notify{}), webhookChannels(t), nil)
	var last *status.Snapshot
	for i := range 3 * maxPending {
		if i%2 == 0 {
			last = snapshot(t0.Add(time.Duration(i) * time.Second))
		} else {
			last = snapshot(t0.Add(time.Duration(i)*time.Second), "web:core:a")
		}
		h.e.Published(nil, last)
	}
	h.e.mu.Lock()
	n, newest := len(h.e.pending), h.e.pending[len(h.e.pending)-1]
	h.e.mu.Unlock()
	if n != maxPending || newest != last {
		t.Errorf("pending = %d snapshots (newest is the last published: %v), want %d ending with the last", n, newest == last, maxPending)
	}
}

// TestRunSendsStartupOnceAndDecides drives the engine through Run: the
// startup notification, then a published outage.
func TestRunSendsStartupOnceAndDecides(t *testing.T) {
	h := newHarness(t, dbPath(t), testkit.NewClock(t0), alertpolicy.New(&config.Notify{}), webhookChannels(t), nil)
	rctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() { h.e.Run(rctx); close(done) }()
	h.e.Published(nil, snapshot(t0, "web:core:a"))
	deadline := time.Now().Add(10 * time.Second)
	for len(h.out.kinds()) < 2 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	cancel()
	<-done
	if got, want := h.out.kinds(), []notify.Kind{notify.Startup, notify.Changed}; !slices.Equal(got, want) {
		t.Errorf("queued %v, want %v", got, want)
	}
}

// TestRoutes: web:edge is routed to Slack only, web:core to every channel.
// Slack hears about both nodes, the webhook about web:core alone: each is
// told when its nodes go down and come back, with its own dead list, and a
// restart keeps each one's state.
func TestRoutes(t *testing.T) {
	chs, err := notify.Build([]notify.Section{
		&notify.Slack{HookURL: "http://127.0.0.1:9/slack"},
		&notify.Webhook{HookURL: "http://127.0.0.1:9/hook"},
	}, notify.Options{})
	if err != nil {
		t.Fatal(err)
	}
	routes := func(o *Options) { o.Routes = map[string][]string{"web:edge": {"slack"}} }
	path := dbPath(t)
	c := testkit.NewClock(t0)
	p := alertpolicy.New(&config.Notify{})
	h := newHarness(t, path, c, p, chs, nil, routes)

	// heard returns, per channel, the kinds, statuses and dead lists queued
	// since the call at index from.
	heard := func(from int) map[string][]string {
		out := map[string][]string{}
		for _, q := range h.out.all()[from:] {
			for _, it := range q.items {
				m := it.Message
				out[it.Channel] = append(out[it.Channel], fmt.Sprintf("%s %s dead=%v recovered=%v", m.Kind, m.Status, m.Dead, m.Recovered))
			}
		}
		return out
	}
	step := func(what string, want map[string][]string, dead ...string) {
		t.Helper()
		from := len(h.out.all())
		h.run(30*time.Second, dead...)
		if got := heard(from); !maps.EqualFunc(got, want, slices.Equal) {
			t.Errorf("%s: queued %q, want %q", what, got, want)
		}
	}
	step("edge down", map[string][]string{"slack": {"changed dead dead=[web:edge:c] recovered=[]"}}, "web:edge:c")
	step("core down too", map[string][]string{"webhook": {"changed dead dead=[web:core:a] recovered=[]"}}, "web:edge:c", "web:core:a")

	// A restart in the middle of the outage announces nothing again.
	h = newHarness(t, path, c, p, chs, nil, routes)
	step("after a restart", map[string][]string{}, "web:edge:c", "web:core:a")

	step("all back", map[string][]string{
		"slack":   {"changed healthy dead=[] recovered=[web:edge:c web:core:a]"},
		"webhook": {"changed healthy dead=[] recovered=[web:core:a]"},
	})
}
