package alertpolicy

import (
	"encoding/json"
	"fmt"
	"math"
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/vigil-go/vigil/internal/config"
	"github.com/vigil-go/vigil/internal/notify"
	"github.com/vigil-go/vigil/internal/status"
)

var t0 = time.Date(2026, 11, 22, 8, 0, 0, 0, time.UTC)

// pass is the aggregation period: every rule is checked at this granularity.
const pass = 10 * time.Second

func snap(h status.Health, dead ...string) *status.Snapshot {
	return &status.Snapshot{Health: h, Dead: dead}
}

func kinds(alerts []Alert) []notify.Kind {
	var k []notify.Kind
	for _, a := range alerts {
		k = append(k, a.Kind)
	}
	return k
}

func TestStartup(t *testing.T) {
	if a, ok := (Policy{StartupNotification: true}).Startup(t0); !ok || a.Kind != notify.Startup || a.Status != status.Healthy || len(a.Dead) != 0 || !a.At.Equal(t0) {
		t.Errorf("Startup = %+v, %v; want a healthy startup alert at t0", a, ok)
	}
	if _, ok := (Policy{}).Startup(t0); ok {
		t.Error("Startup with startup_notification off = true, want false")
	}
	if a, _ := (Policy{StartupNotification: true}).Startup(t0); a.Escalated(0) {
		t.Error("startup alert is escalated, want never")
	}
}

func TestChangeRules(t *testing.T) {
	// Reminders are on, but no time passes: only changes can fire.
	p := Policy{ReminderInterval: time.Minute}
	H, S, D := status.Healthy, status.Sick, status.Dead
	cases := []struct {
		prev, cur status.Health
		want      []notify.Kind
	}{
		{H, D, []notify.Kind{notify.Changed}},
		{S, D, []notify.Kind{notify.Changed}},
		{D, S, []notify.Kind{notify.Changed}},
		{D, H, []notify.Kind{notify.Changed}},
		{H, S, nil},
		{S, H, nil},
		{H, H, nil},
		{S, S, nil},
		{D, D, nil},
	}
	for _, tc := range cases {
		st := State{Status: tc.prev, LastNotified: t0}
		var s *status.Snapshot
		if tc.cur == D {
			s = snap(D, "web:core:a")
		} else {
			s = snap(tc.cur)
		}
		next, got := p.Decide(st, s, t0.Add(pass))
		if !slices.Equal(kinds(got), tc.want) {
			t.Errorf("Decide(%s → %s) = %v, want %v", tc.prev, tc.cur, kinds(got), tc.want)
		}
		if next.Status != tc.cur {
			t.Errorf("Decide(%s → %s) state status = %s, want %s", tc.prev, tc.cur, next.Status, tc.cur)
		}
		if len(got) == 1 {
			if a := got[0]; a.Status != tc.cur || !a.At.Equal(t0.Add(pass)) || a.Escalated(0) {
				t.Errorf("Decide(%s → %s) alert = %+v, want status %s at t0+10s, not escalated", tc.prev, tc.cur, a, tc.cur)
			}
			if !next.LastNotified.Equal(t0.Add(pass)) {
				t.Errorf("Decide(%s → %s) LastNotified = %v, want now", tc.prev, tc.cur, next.LastNotified)
			}
		} else if !next.LastNotified.Equal(t0) {
			t.Errorf("Decide(%s → %s) without alert moved LastNotified to %v", tc.prev, tc.cur, next.LastNotified)
		}
	}
}

// TestDeadSetChangeIsSilent: dead→dead with other replicas says nothing.
func TestDeadSetChangeIsSilent(t *testing.T) {
	p := Policy{}
	st, got := p.Decide(State{}, snap(status.Dead, "a"), t0)
	if !slices.Equal(kinds(got), []notify.Kind{notify.Changed}) || !slices.Equal(got[0].Dead, []string{"a"}) {
		t.Fatalf("first dead pass = %+v, want one change listing a", got)
	}
	if _, got = p.Decide(st, snap(status.Dead, "a", "b"), t0.Add(pass)); len(got) != 0 {
		t.Errorf("dead {a} → dead {a b} = %v, want nothing", kinds(got))
	}
}

// reminderTimes runs passes every 10 s for the given span after a page
// turned dead at t0, and returns the gaps between consecutive notifications
// (the first gap is from the change notification).
func reminderGaps(t *testing.T, p Policy, span time.Duration) []time.Duration {
	t.Helper()
	st, got := p.Decide(State{}, snap(status.Dead, "a"), t0)
	if len(got) != 1 || got[0].Kind != notify.Changed {
		t.Fatalf("first dead pass = %v, want a change", kinds(got))
	}
	last := t0
	var gaps []time.Duration
	for now := t0.Add(pass); !now.After(t0.Add(span)); now = now.Add(pass) {
		st, got = p.Decide(st, snap(status.Dead, "a"), now)
		for _, a := range got {
			if a.Kind != notify.Reminder {
				t.Fatalf("at %v: %s alert, want reminders only", now.Sub(t0), a.Kind)
			}
			gaps = append(gaps, now.Sub(last))
			last = now
		}
	}
	return gaps
}

func TestReminderBackoff(t *testing.T) {
	s := time.Second
	cases := []struct {
		fn    string
		limit int
		span  time.Duration
		want  []time.Duration
	}{
		// Vigil's example: linear, 300 s, limit 3 → 300, 600, 900, 900.
		{"linear", 3, 2700 * s, []time.Duration{300 * s, 600 * s, 900 * s, 900 * s}},
		{"none", 3, 1200 * s, []time.Duration{300 * s, 300 * s, 300 * s, 300 * s}},
		{"square", 3, 6900 * s, []time.Duration{300 * s, 1200 * s, 2700 * s, 2700 * s}},
		{"cubic", 3, 19200 * s, []time.Duration{300 * s, 2400 * s, 8100 * s, 8100 * s}},
		{"linear", 1, 1200 * s, []time.Duration{300 * s, 300 * s, 300 * s, 300 * s}},
		{"linear", 0, 600 * s, []time.Duration{300 * s, 300 * s}},
		{"linear", 5, 4500 * s, []time.Duration{300 * s, 600 * s, 900 * s, 1200 * s, 1500 * s}},
	}
	for _, tc := range cases {
		t.Run(fmt.Sprintf("%s-limit%d", tc.fn, tc.limit), func(t *testing.T) {
			interval := config.Seconds(300)
			p := New(&config.Notify{ReminderInterval: &interval, ReminderBackoffFunction: tc.fn, ReminderBackoffLimit: tc.limit})
			if got := reminderGaps(t, p, tc.span); !slices.Equal(got, tc.want) {
				t.Errorf("reminder gaps = %v, want %v", got, tc.want)
			}
		})
	}
}

func TestNoReminders(t *testing.T) {
	if got := reminderGaps(t, Policy{}, 24*time.Hour); len(got) != 0 {
		t.Errorf("reminders without reminder_interval = %v, want none", got)
	}
	// A dead page that was never announced (LastNotified zero) gets no
	// reminder: only a change can start the reminder clock.
	p := Policy{ReminderInterval: time.Minute}
	if _, got := p.Decide(State{Status: status.Dead}, snap(status.Dead, "a"), t0); len(got) != 0 {
		t.Errorf("reminder without a previous notification = %v, want none", kinds(got))
	}
}

// TestBackoffResetsOnRecovery: a new outage starts from N = 1 and E = 0.
func TestBackoffResetsOnRecovery(t *testing.T) {
	p := Policy{ReminderInterval: 300 * time.Second, BackoffExponent: 1, BackoffLimit: 3, Escalate: true}
	st, _ := p.Decide(State{}, snap(status.Dead, "a"), t0)
	now := t0
	for range 2 {
		now = now.Add(time.Hour)
		st, _ = p.Decide(st, snap(status.Dead, "a"), now)
	}
	if st.Backoff != 3 || st.Escalation != 2 {
		t.Fatalf("after two reminders Backoff, Escalation = %d, %d; want 3, 2", st.Backoff, st.Escalation)
	}
	now = now.Add(pass)
	st, _ = p.Decide(st, snap(status.Sick), now) // dead → sick
	if st.Backoff != 1 || st.Escalation != 0 {
		t.Errorf("after recovery Backoff, Escalation = %d, %d; want 1, 0", st.Backoff, st.Escalation)
	}
	now = now.Add(pass)
	st, _ = p.Decide(st, snap(status.Dead, "a"), now)
	_, got := p.Decide(st, snap(status.Dead, "a"), now.Add(300*time.Second))
	if len(got) != 1 || got[0].Kind != notify.Reminder || got[0].Escalation != 1 {
		t.Errorf("first reminder of a new outage = %+v, want a reminder after 300 s escalating one target", got)
	}
}

func TestEscalation(t *testing.T) {
	cases := []struct {
		escalate bool
		want     [][]bool // per reminder: escalated targets 0..2
	}{
		{true, [][]bool{
			{true, false, false},
			{true, true, false},
			{true, true, true},
			{true, true, true},
		}},
		{false, [][]bool{
			{true, true, true},
			{true, true, true},
			{true, true, true},
		}},
	}
	for _, tc := range cases {
		t.Run(fmt.Sprintf("escalate=%v", tc.escalate), func(t *testing.T) {
			p := Policy{ReminderInterval: time.Minute, Escalate: tc.escalate}
			st, got := p.Decide(State{}, snap(status.Dead, "a"), t0)
			if a := got[0]; a.Escalated(0) || a.Escalated(1) {
				t.Errorf("change alert escalated, want never")
			}
			now := t0
			for i, want := range tc.want {
				now = now.Add(time.Minute)
				st, got = p.Decide(st, snap(status.Dead, "a"), now)
				if len(got) != 1 || got[0].Kind != notify.Reminder {
					t.Fatalf("pass %d = %v, want a reminder", i, kinds(got))
				}
				esc := []bool{got[0].Escalated(0), got[0].Escalated(1), got[0].Escalated(2)}
				if !slices.Equal(esc, want) {
					t.Errorf("reminder %d escalated targets = %v, want %v", i+1, esc, want)
				}
			}
			// Leaving dead: the change is not escalated, whatever E was.
			_, got = p.Decide(st, snap(status.Healthy), now.Add(pass))
			if a := got[0]; a.Kind != notify.Changed || a.Escalated(0) {
				t.Errorf("recovery alert = %+v, want a change that is not escalated", a)
			}
		})
	}
}

func TestIgnoreReminders(t *testing.T) {
	p := Policy{ReminderInterval: time.Minute}
	st, _ := p.Decide(State{}, snap(status.Dead, "a"), t0)
	st.IgnoreRemindersUntil = t0.Add(5 * time.Minute)
	var at []time.Duration
	for now := t0.Add(pass); now.Before(t0.Add(7 * time.Minute)); now = now.Add(pass) {
		var got []Alert
		st, got = p.Decide(st, snap(status.Dead, "a"), now)
		if len(got) > 0 {
			at = append(at, now.Sub(t0))
		}
	}
	if want := []time.Duration{5 * time.Minute, 6 * time.Minute}; !slices.Equal(at, want) {
		t.Errorf("reminders at %v, want %v (none while ignored)", at, want)
	}

	// A change is sent while reminders are ignored, and the deadline stays.
	st.IgnoreRemindersUntil = t0.Add(time.Hour)
	st, got := p.Decide(st, snap(status.Healthy), t0.Add(8*time.Minute))
	if len(got) != 1 || got[0].Kind != notify.Changed {
		t.Errorf("recovery while reminders are ignored = %v, want a change", kinds(got))
	}
	if !st.IgnoreRemindersUntil.Equal(t0.Add(time.Hour)) {
		t.Errorf("IgnoreRemindersUntil = %v after a change, want it kept", st.IgnoreRemindersUntil)
	}
}

func TestRecovered(t *testing.T) {
	p := Policy{ReminderInterval: time.Minute}
	steps := []struct {
		at            time.Duration
		snap          *status.Snapshot
		kind          notify.Kind // "" for no alert
		dead, recover []string
	}{
		{0, snap(status.Dead, "a", "b"), notify.Changed, []string{"a", "b"}, nil},
		{10 * time.Second, snap(status.Dead, "a"), "", nil, nil}, // b back: silent
		{time.Minute, snap(status.Dead, "a"), notify.Reminder, []string{"a"}, []string{"b"}},
		{70 * time.Second, snap(status.Dead, "a", "c"), "", nil, nil}, // c died…
		{80 * time.Second, snap(status.Dead, "a"), "", nil, nil},      // …and came back
		{90 * time.Second, snap(status.Healthy), notify.Changed, nil, []string{"a", "c"}},
		{100 * time.Second, snap(status.Dead, "d"), notify.Changed, []string{"d"}, nil},
	}
	var st State
	for _, s := range steps {
		var got []Alert
		st, got = p.Decide(st, s.snap, t0.Add(s.at))
		if s.kind == "" {
			if len(got) != 0 {
				t.Errorf("at %v: %v, want no alert", s.at, kinds(got))
			}
			continue
		}
		if len(got) != 1 || got[0].Kind != s.kind {
			t.Fatalf("at %v: %v, want one %s", s.at, kinds(got), s.kind)
		}
		if !slices.Equal(got[0].Dead, s.dead) || !slices.Equal(got[0].Recovered, s.recover) {
			t.Errorf("at %v: Dead, Recovered = %q, %q; want %q, %q", s.at, got[0].Dead, got[0].Recovered, s.dead, s.recover)
		}
	}
}

// TestRestart: a stored state carries an announced outage across a restart;
// it is neither announced again nor forgotten.
func TestRestart(t *testing.T) {
	p := Policy{ReminderInterval: 5 * time.Minute}
	st, _ := p.Decide(State{}, snap(status.Dead, "a"), t0)
	b, err := json.Marshal(st)
	if err != nil {
		t.Fatal(err)
	}
	var restored State
	if err := json.Unmarshal(b, &restored); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(restored, st) {
		t.Fatalf("State JSON round trip = %+v, want %+v", restored, st)
	}
	if _, got := p.Decide(restored, snap(status.Dead, "a"), t0.Add(time.Minute)); len(got) != 0 {
		t.Errorf("first pass after restart, still dead = %v, want nothing", kinds(got))
	}
	if _, got := p.Decide(restored, snap(status.Dead, "a"), t0.Add(5*time.Minute)); len(got) != 1 || got[0].Kind != notify.Reminder {
		t.Errorf("pass after restart, 5 min after the change = %v, want the reminder", kinds(got))
	}
	if _, got := p.Decide(restored, snap(status.Healthy), t0.Add(time.Minute)); len(got) != 1 || !slices.Equal(got[0].Recovered, []string{"a"}) {
		t.Errorf("recovery after restart = %+v, want a change naming a as recovered", got)
	}
}

func TestDecideKeepsInputs(t *testing.T) {
	p := Policy{ReminderInterval: time.Minute}
	st := State{Status: status.Dead, Dead: []string{"a", "b"}, LastNotified: t0}
	s := snap(status.Dead, "a", "c")
	next, got := p.Decide(st, s, t0.Add(time.Minute))
	if !slices.Equal(st.Dead, []string{"a", "b"}) || !slices.Equal(s.Dead, []string{"a", "c"}) {
		t.Errorf("Decide changed its inputs: state %q, snapshot %q", st.Dead, s.Dead)
	}
	got[0].Dead[0] = "changed"
	if next.Dead[0] != "a" || s.Dead[0] != "a" {
		t.Error("the alert's Dead shares memory with the state or the snapshot")
	}
}

func TestDeliveries(t *testing.T) {
	channels := []notify.Channel{
		{Name: "email", Targets: []notify.Target{{Channel: "email"}}},
		{Name: "twilio", RemindersOnly: true, Targets: []notify.Target{{Channel: "twilio", Key: "+1"}, {Channel: "twilio", Key: "+2"}}},
		{Name: "pushover", Targets: []notify.Target{{Channel: "pushover", Key: "u1"}, {Channel: "pushover", Key: "u2"}, {Channel: "pushover", Key: "u3"}}},
		{Name: "webhook", Targets: []notify.Target{{Channel: "webhook"}}},
	}
	page := Page{Title: "Crisp Status", URL: "https://status.crisp.chat/"}
	type row struct {
		channel, target string
		escalated       bool
	}
	rows := func(ds []Delivery) []row {
		var r []row
		for _, d := range ds {
			r = append(r, row{d.Channel, d.Target, d.Message.Escalated})
		}
		return r
	}

	change := Alert{Kind: notify.Changed, Status: status.Dead, At: t0, Dead: []string{"web:core:a"}}
	want := []row{{"email", "", false}, {"pushover", "u1", false}, {"pushover", "u2", false}, {"pushover", "u3", false}, {"webhook", "", false}}
	if got := rows(change.Deliveries(channels, page)); !slices.Equal(got, want) {
		t.Errorf("change Deliveries = %v, want %v (no reminders_only channel)", got, want)
	}

	reminder := Alert{Kind: notify.Reminder, Status: status.Dead, At: t0, Dead: []string{"web:core:a"}, Escalation: 2}
	want = []row{
		{"email", "", true}, {"twilio", "+1", true}, {"twilio", "+2", true},
		{"pushover", "u1", true}, {"pushover", "u2", true}, {"pushover", "u3", false}, {"webhook", "", true},
	}
	ds := reminder.Deliveries(channels, page)
	if got := rows(ds); !slices.Equal(got, want) {
		t.Errorf("reminder Deliveries = %v, want %v", got, want)
	}
	wantMsg := notify.Message{
		Kind: notify.Reminder, Status: status.Dead, Time: "08:00:00 UTC+00:00",
		Dead: []string{"web:core:a"}, PageTitle: "Crisp Status", PageURL: "https://status.crisp.chat/", Escalated: true,
	}
	if !reflect.DeepEqual(ds[0].Message, wantMsg) {
		t.Errorf("Deliveries[0].Message = %+v, want %+v", ds[0].Message, wantMsg)
	}
}

func TestNewPolicy(t *testing.T) {
	off := false
	interval := config.Seconds(120)
	cases := []struct {
		in   *config.Notify
		want Policy
	}{
		{nil, Policy{}},
		{&config.Notify{ReminderBackoffFunction: "none", ReminderBackoffLimit: 3}, Policy{StartupNotification: true, BackoffLimit: 3}},
		{&config.Notify{StartupNotification: &off, ReminderInterval: &interval, ReminderBackoffFunction: "square", ReminderBackoffLimit: 4, ReminderEscalate: true},
			Policy{ReminderInterval: 2 * time.Minute, BackoffExponent: 2, BackoffLimit: 4, Escalate: true}},
		{&config.Notify{ReminderBackoffFunction: "cubic"}, Policy{StartupNotification: true, BackoffExponent: 3}},
		{&config.Notify{ReminderBackoffFunction: "linear"}, Policy{StartupNotification: true, BackoffExponent: 1}},
	}
	for _, tc := range cases {
		if got := New(tc.in); got != tc.want {
			t.Errorf("New(%+v) = %+v, want %+v", tc.in, got, tc.want)
		}
	}
}

func TestGap(t *testing.T) {
	p := Policy{ReminderInterval: 300 * time.Second, BackoffExponent: 3}
	for _, tc := range []struct {
		n    int
		want time.Duration
	}{{0, 300 * time.Second}, {1, 300 * time.Second}, {2, 2400 * time.Second}, {65535, math.MaxInt64}} {
		if got := p.Gap(tc.n); got != tc.want {
			t.Errorf("Gap(%d) = %v, want %v", tc.n, got, tc.want)
		}
	}
}

// TestMessageTime: messages write Vigil's UTC time, or the page's zone
// with its offset when [branding] time_zone sets one.
func TestMessageTime(t *testing.T) {
	shanghai, err := time.LoadLocation("Asia/Shanghai")
	if err != nil {
		t.Fatal(err)
	}
	at := time.Date(2026, 3, 1, 8, 58, 28, 0, time.UTC)
	a := Alert{Kind: notify.Changed, Status: status.Dead, At: at}
	for _, tt := range []struct {
		loc  *time.Location
		want string
	}{{nil, "08:58:28 UTC+00:00"}, {time.UTC, "08:58:28 UTC+00:00"}, {shanghai, "16:58:28 UTC+08:00"}} {
		if got := a.Message(Page{Title: "T", URL: "https://status.example/", Location: tt.loc}).Time; got != tt.want {
			t.Errorf("time in %v = %q, want %q", tt.loc, got, tt.want)
		}
	}
}

// TestOutageIdentity checks that the announcement, the reminders and the
// recovery of one outage carry one identity, also through a restart (the
// state as stored) and when a new process decides the announcement again
// from the same stored state, later; and that the next outage gets another.
func TestOutageIdentity(t *testing.T) {
	p := Policy{ReminderInterval: time.Minute}
	st, alerts := p.Decide(State{}, snap(status.Dead, "web:a:r1"), t0)
	if len(alerts) != 1 || alerts[0].Outage != "0" {
		t.Fatalf("first announcement = %+v, want outage \"0\"", alerts)
	}
	// A new leader that never saw the saved state decides the same
	// announcement from the same previous state a minute later: same id.
	if _, again := p.Decide(State{}, snap(status.Dead, "web:a:r1"), t0.Add(time.Minute)); again[0].Outage != alerts[0].Outage {
		t.Errorf("announcement decided again = %q, want %q", again[0].Outage, alerts[0].Outage)
	}
	raw, err := json.Marshal(st)
	if err != nil {
		t.Fatal(err)
	}
	var restored State
	if err := json.Unmarshal(raw, &restored); err != nil {
		t.Fatal(err)
	}
	st, alerts = p.Decide(restored, snap(status.Dead, "web:a:r1"), t0.Add(2*time.Minute))
	if len(alerts) != 1 || alerts[0].Kind != notify.Reminder || alerts[0].Outage != "0" {
		t.Fatalf("reminder after a restart = %+v, want outage \"0\"", alerts)
	}
	st, alerts = p.Decide(st, snap(status.Healthy), t0.Add(3*time.Minute))
	if len(alerts) != 1 || alerts[0].Kind != notify.Changed || alerts[0].Outage != "0" {
		t.Fatalf("recovery = %+v, want outage \"0\"", alerts)
	}
	if m := alerts[0].Message(Page{}); m.Outage != "0" {
		t.Errorf("recovery message outage = %q, want \"0\"", m.Outage)
	}
	_, alerts = p.Decide(st, snap(status.Dead, "web:a:r2"), t0.Add(4*time.Minute))
	if want := fmt.Sprint(t0.Add(3 * time.Minute).UnixMilli()); len(alerts) != 1 || alerts[0].Outage != want {
		t.Errorf("second outage = %+v, want outage %q (after the recovery sent then)", alerts, want)
	}
	if a, _ := p.Startup(t0); a.Outage != "" {
		t.Errorf("startup outage = %q, want none", a.Outage)
	}
	// A state saved mid-outage before outages had an identity gets one
	// from what is stored, kept from then on.
	old := State{Status: status.Dead, LastNotified: t0.Add(5 * time.Minute)}
	st, _ = p.Decide(old, snap(status.Dead, "web:a:r1"), t0.Add(5*time.Minute+pass))
	_, alerts = p.Decide(st, snap(status.Dead, "web:a:r1"), t0.Add(7*time.Minute))
	if want := fmt.Sprint(t0.Add(5 * time.Minute).UnixMilli()); len(alerts) != 1 || alerts[0].Outage != want {
		t.Errorf("reminder of an outage saved without identity = %+v, want %q", alerts, want)
	}
}

// TestQuietStartup checks that an incident tool gets no startup delivery
// but every change and reminder.
func TestQuietStartup(t *testing.T) {
	chs := []notify.Channel{
		{Name: "pagerduty", QuietStartup: true, Targets: []notify.Target{{}}},
		{Name: "slack", Targets: []notify.Target{{}}},
	}
	start, _ := Policy{StartupNotification: true}.Startup(t0)
	if d := start.Deliveries(chs, Page{}); len(d) != 1 || d[0].Channel != "slack" {
		t.Errorf("startup deliveries = %+v, want slack only", d)
	}
	for _, k := range []notify.Kind{notify.Changed, notify.Reminder} {
		if d := (Alert{Kind: k, Status: status.Dead}).Deliveries(chs, Page{}); len(d) != 2 {
			t.Errorf("%s deliveries = %+v, want both channels", k, d)
		}
	}
}
