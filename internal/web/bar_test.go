package web

import (
	"context"
	"fmt"
	"html"
	"io/fs"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/vigil-go/vigil/internal/status"
	"github.com/vigil-go/vigil/internal/store"
	"github.com/vigil-go/vigil/internal/testkit"
)

// dayLine of the day page, as a visitor reads it.
type dayLineSeen struct{ status, word, text string }

var dayLineRE = regexp.MustCompile(`<li class="day" data-status="(\w+)"><i class="day-swatch bar-(\w+)"></i> <span class="day-state">([^<]*)</span> <span class="day-text">([^<]*)</span></li>`)

// dayLines fetches a node's day page and returns its days, oldest first.
func dayLines(t *testing.T, ts *testServer, service, node string) []dayLineSeen {
	t.Helper()
	res := ts.get(t, "/status/history/"+service+"/"+node+"/days")
	if res.code != 200 || res.header.Get("Content-Type") != "text/html; charset=utf-8" {
		t.Fatalf("GET day page of %s/%s = %d %s", service, node, res.code, res.header.Get("Content-Type"))
	}
	var out []dayLineSeen
	for _, m := range dayLineRE.FindAllStringSubmatch(res.body, -1) {
		if m[1] != m[2] {
			t.Errorf("day %q: state %s drawn as %s", m[4], m[1], m[2])
		}
		out = append(out, dayLineSeen{status: m[1], word: html.UnescapeString(m[3]), text: html.UnescapeString(m[4])})
	}
	return out
}

func days(states ...string) []dayView {
	var out []dayView
	for _, s := range states {
		n := 1
		if st, count, ok := strings.Cut(s, "*"); ok {
			s = st
			fmt.Sscan(count, &n)
		}
		for range n {
			out = append(out, dayView{Status: s})
		}
	}
	return out
}

func TestBarRuns(t *testing.T) {
	tests := []struct {
		name  string
		days  []dayView
		runs  string
		label string
	}{
		{"healthy all along", days("healthy*90"), "", "90 days: 90 healthy"},
		{"new install", days("none*89", "healthy"),
			`<i class="bar-none" style="--a:0;--n:89"></i>`, "90 days: 1 healthy, 89 without data"},
		{"an outage", days("healthy*40", "sick*2", "dead", "sick", "healthy*46"),
			`<i class="bar-sick" style="--a:40;--n:2"></i><i class="bar-dead" style="--a:42"></i><i class="bar-sick" style="--a:43"></i>`,
			"90 days: 86 healthy, 3 sick, 1 dead"},
		{"today dead", days("healthy*89", "dead"), `<i class="bar-dead" style="--a:89"></i>`, "90 days: 89 healthy, 1 dead"},
		// A state the page does not know is drawn as no data, never as a
		// class name nobody styles.
		{"unknown state", days("healthy*88", "Health(7)", "none"), `<i class="bar-none" style="--a:88;--n:2"></i>`, "90 days: 88 healthy, 2 without data"},
	}
	for _, tt := range tests {
		b := newBar("web", "api", tt.days)
		if string(b.Runs) != tt.runs || b.Label != tt.label {
			t.Errorf("%s: runs %s, label %q; want %s, %q", tt.name, b.Runs, b.Label, tt.runs, tt.label)
		}
	}
	if got := newBar("a b", "x/y?", nil).URL; got != "status/history/a%20b/x%2Fy%3F/days" {
		t.Errorf("day page URL = %q: the ids must be escaped path segments", got)
	}
}

// Every state the bar draws has its rule in the stylesheet, and its word.
func TestBarStatesStyled(t *testing.T) {
	css, err := fs.ReadFile(embedded, "assets/stylesheets/index.css")
	if err != nil {
		t.Fatal(err)
	}
	for _, st := range barStates {
		if !regexp.MustCompile(`(?m)^\.bar-` + st + ` \{`).Match(css) {
			t.Errorf("index.css has no .bar-%s rule", st)
		}
		if barStateWords[st] == "" {
			t.Errorf("no word for day state %s", st)
		}
	}
	if len(barStateWords) != len(barStates) {
		t.Errorf("%d words for %d states", len(barStateWords), len(barStates))
	}
}

func TestDayPage(t *testing.T) {
	st := openStoreGap(t)
	fillHistory(t, st)
	if _, err := st.OpenIncident(context.Background(), store.Incident{Title: `<script>alert("x")</script>`, Nodes: []string{"web:api"},
		Opened: testNow.Add(-time.Hour), Resolved: testNow.Add(-time.Minute)}); err != nil {
		t.Fatal(err)
	}
	ts := newManagerServer(t, st, Options{})
	ts.src.Set(sampleServices(status.Healthy), testNow)
	lines := dayLines(t, ts, "web", "api")
	if len(lines) != 90 {
		t.Fatalf("%d days, want 90", len(lines))
	}
	for i, want := range map[int]dayLineSeen{
		0:  {"none", "Without data", "5 Dec 2030: no data"},
		88: {"dead", "Dead", "3 Mar 2031: 97.91% uptime, 1 incident: API outage"},
		89: {"healthy", "Healthy", `4 Mar 2031: 100.00% uptime, 1 incident: <script>alert("x")</script>`},
	} {
		if lines[i] != want {
			t.Errorf("day %d = %+v, want %+v", i, lines[i], want)
		}
	}
	res := ts.get(t, "/status/history/web/api/days")
	for _, want := range []string{
		"<title>Web / API: last 90 days · ",
		`<p class="days-summary">90 days: 3 healthy, 1 dead, 86 without data. Oldest first.</p>`,
		`<a href="../../../../">Back to the status page</a>`,
		`<link rel="stylesheet" href="../../../../assets/stylesheets/index.css?v=`,
	} {
		if !strings.Contains(res.body, want) {
			t.Errorf("day page lacks %s", want)
		}
	}
	if strings.Contains(res.body, "<script>") {
		t.Error("an incident title reaches the day page unescaped")
	}
	if again := ts.get(t, "/status/history/web/api/days", "If-None-Match", res.header.Get("ETag")); again.code != 304 {
		t.Errorf("revalidation = %d, want 304", again.code)
	}
	for _, p := range []string{"/status/history/web/nope/days", "/status/history/nope/api/days", "/status/history/web/api/days/x"} {
		if res := ts.get(t, p); res.code != 404 {
			t.Errorf("GET %s = %d, want 404", p, res.code)
		}
	}
}

// Without a store there is no history, and no day page.
func TestDayPageWithoutStore(t *testing.T) {
	ts := newTestServer(t, Options{})
	if res := ts.get(t, "/status/history/web/api/days"); res.code != 404 {
		t.Errorf("GET day page without a store = %d, want 404", res.code)
	}
}

// fleetStore is a store with a busy history for every node: a sick and a
// dead day among healthy ones, and a latency per hour of the last day.
type fleetStore struct {
	Store // nil: only the reads below are used
	now   time.Time
}

func (f fleetStore) Announcements(context.Context) ([]store.Announcement, error) { return nil, nil }
func (f fleetStore) Maintenance(context.Context, time.Time, time.Time) ([]store.Window, error) {
	return nil, nil
}
func (f fleetStore) Incidents(context.Context, store.IncidentFilter) ([]store.Incident, error) {
	return nil, nil
}

// NodeHistories gives every node the same busy history: 90 healthy days
// but a sick and a dead one, and a latency for each hour of the last day.
func (f fleetStore) NodeHistories(_ context.Context, q store.NodeHistoryQuery, each func(store.NodeKey, store.NodeHistory)) error {
	for _, k := range q.Nodes {
		days := make([]store.Day, historyDays)
		for i := range days {
			days[i] = store.Day{Start: q.Since.Add(time.Duration(i) * 24 * time.Hour), Checks: 86400, Worst: status.Healthy,
				Uptime: store.UptimeReport{HasData: true, Ratio: 1}}
		}
		days[30].Worst, days[60].Worst = status.Sick, status.Dead
		var hours []store.Bucket
		for h := range 24 {
			ms := time.Duration(10+h%7*13) * time.Millisecond
			hours = append(hours, store.Bucket{Start: q.HoursSince.Add(time.Duration(h) * time.Hour), Healthy: 3600,
				LatencyCount: 1, LatencySum: ms, LatencyMin: ms, LatencyMax: ms})
		}
		uptime := make([]store.UptimeReport, len(q.UptimeSince))
		for i := range uptime {
			uptime[i] = store.UptimeReport{HasData: true, Ratio: 0.9993}
		}
		each(k, store.NodeHistory{Days: days, Uptime: uptime, Hours: hours})
	}
	return nil
}

// fleet is one service of n poll nodes of one HTTP replica each.
func fleet(n int) []status.Service {
	svc := status.Service{ID: "peers", Label: "Peers", Health: status.Healthy}
	for i := range n {
		svc.Nodes = append(svc.Nodes, status.Node{ID: fmt.Sprintf("n%d", i), Label: fmt.Sprintf("Node %d", i),
			Mode: status.Poll, Health: status.Healthy, Replicas: []status.Replica{{
				ID: fmt.Sprintf("http://10.0.%d.%d:8080/health", i/250, i%250), Health: status.Healthy,
				HasLatency: true, Latency: time.Duration(i%40) * time.Millisecond, Checked: testNow,
			}}})
	}
	return []status.Service{svc}
}

// The page of a fleet of one-replica nodes weighs at most 1.5 KB a node,
// history included: 1000 nodes in 1.5 MB.
func TestPageWeightPerNode(t *testing.T) {
	const n = 1000
	// The history is read at start for the nodes of the first snapshot.
	src, none := &testkit.Source{}, &testkit.Source{}
	src.Set(fleet(n), testNow)
	none.Set([]status.Service{{ID: "peers", Label: "Peers"}}, testNow)
	ts := newTestServer(t, Options{Source: src, Store: fleetStore{now: testNow}})
	empty := newTestServer(t, Options{Source: none, Store: fleetStore{now: testNow}})

	page := ts.get(t, "/", "Accept-Encoding", "identity").body
	base := len(empty.get(t, "/", "Accept-Encoding", "identity").body)
	perNode := float64(len(page)-base) / n
	t.Logf("%d nodes: %d bytes, %.0f bytes a node", n, len(page), perNode)
	if perNode > 1536 {
		t.Errorf("%.0f bytes a node, want at most 1536", perNode)
	}
	// The weight is not bought by dropping the history: each node has its
	// bar with the sick and the dead day, figures and response times.
	if got := strings.Count(page, `<i class="bar-sick" style="--a:30"></i><i class="bar-dead" style="--a:60"></i>`); got != n {
		t.Errorf("%d bars with the sick and dead day, want %d", got, n)
	}
	if got := strings.Count(page, `aria-label="90 days: 88 healthy, 1 sick, 1 dead"`); got != n {
		t.Errorf("%d bars named with their days, want %d", got, n)
	}
	if got := strings.Count(page, `<svg class="history-sparkline"`); got != n {
		t.Errorf("%d sparklines, want %d", got, n)
	}
	// A page this big folds its healthy services.
	if !strings.Contains(page, `<details class="probe-nodes" id="nodes-peers">`) {
		t.Error("the healthy service of 1000 nodes is not folded")
	}
}

// A small page, or a service with a problem, starts unfolded.
func TestServicesUnfolded(t *testing.T) {
	ts := newTestServer(t, Options{})
	ts.src.Set(sampleServices(status.Healthy), testNow)
	if page := ts.get(t, "/").body; strings.Contains(page, `<details class="probe-nodes" id="nodes-web">`) ||
		!strings.Contains(page, `<details class="probe-nodes" id="nodes-web" open>`) {
		t.Error("a small page folds a service")
	}
	svcs := fleet(200)
	svcs[0].Nodes[7].Replicas[0].Health = status.Sick
	ts.src.Set(svcs, testNow)
	if page := ts.get(t, "/").body; !strings.Contains(page, `<details class="probe-nodes" id="nodes-peers" open>`) {
		t.Error("a sick service of a big page is folded")
	}
}

// The sparkline's path and points are the same line.
func TestSparklinePath(t *testing.T) {
	bucket := func(ms int) store.Bucket {
		d := time.Duration(ms) * time.Millisecond
		return store.Bucket{LatencyCount: 1, LatencySum: d, LatencyMin: d, LatencyMax: d}
	}
	tests := []struct {
		ms           []int
		points, path string
	}{
		{[]int{10, 30}, "0,23 1,1", "M0 23l1-22"},
		{[]int{30, 10, 20, 20}, "0,1 1,23 2,12 3,12", "M0 1l1 22 1-11 1 0"},
		{[]int{15}, "1,12 0,12", "M1 12l-1 0"},
	}
	for _, tt := range tests {
		var buckets []store.Bucket
		for _, ms := range tt.ms {
			buckets = append(buckets, bucket(ms))
		}
		sv := sparkline(buckets)
		if sv.Points != tt.points || sv.Path != tt.path {
			t.Errorf("%v ms: points %q, path %q; want %q, %q", tt.ms, sv.Points, sv.Path, tt.points, tt.path)
		}
	}
}
