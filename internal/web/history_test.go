package web

import (
	"context"
	"encoding/json"
	"encoding/xml"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/vigil-go/vigil/internal/status"
	"github.com/vigil-go/vigil/internal/store"
)

// fillHistory writes three days of history of web/api into st: vigil
// running since testNow-3d, the node healthy except a 30-minute outage on
// 3 March (with its incident), and two hourly latency samples.
func fillHistory(t *testing.T, st *store.Store) {
	t.Helper()
	ctx := context.Background()
	start := testNow.Add(-72 * time.Hour)
	for at := start; !at.After(testNow); at = at.Add(time.Hour) {
		if err := st.MarkAlive(ctx, "test", at); err != nil {
			t.Fatal(err)
		}
	}
	down := time.Date(2031, 3, 3, 12, 0, 0, 0, time.UTC)
	node := func(at time.Time, from, to status.Health) store.Change {
		return store.Change{Time: at, Level: store.LevelNode, Service: "web", Node: "api", From: from, To: to}
	}
	if err := st.RecordChanges(ctx,
		node(start, status.Healthy, status.Healthy),
		node(down, status.Healthy, status.Dead),
		node(down.Add(30*time.Minute), status.Dead, status.Healthy),
	); err != nil {
		t.Fatal(err)
	}
	if _, err := st.OpenIncident(ctx, store.Incident{Title: "API outage", Auto: true, Nodes: []string{"web:api"},
		Opened: down, Resolved: down.Add(30 * time.Minute)}); err != nil {
		t.Fatal(err)
	}
	var samples []store.Sample
	for i, ms := range []time.Duration{10, 30} {
		samples = append(samples, store.Sample{Time: testNow.Add(time.Duration(i-2) * time.Hour), Service: "web", Node: "api",
			Replica: "http://10.0.0.1/health", Health: status.Healthy, Latency: ms * time.Millisecond, HasLatency: true})
	}
	if err := st.AddSamples(ctx, samples); err != nil {
		t.Fatal(err)
	}
}

// openStoreGap opens a store whose running intervals tolerate hour-long
// gaps between MarkAlive calls, so tests need few of them.
func openStoreGap(t *testing.T) *store.Store {
	t.Helper()
	st, err := store.Open(context.Background(), store.Config{Path: filepath.Join(t.TempDir(), "vigil.db"), AliveGap: 2 * time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

func TestPageHistory(t *testing.T) {
	st := openStoreGap(t)
	fillHistory(t, st)
	ts := newManagerServer(t, st, Options{})
	ts.src.Set(sampleServices(status.Healthy), testNow)
	page := ts.get(t, "/").body

	api := nodeItem(t, page, "API")
	// The bar: 86 days without data, then healthy days but one dead.
	bar := element(t, api, `<a class="bar"`, "</a>")
	for _, want := range []string{
		`href="status/history/web/api/days"`,
		`aria-label="90 days: 3 healthy, 1 dead, 86 without data"`,
		`<i class="bar-none" style="--a:0;--n:86"></i><i class="bar-dead" style="--a:88"></i>`,
	} {
		if !strings.Contains(bar, want) {
			t.Errorf("API bar lacks %s: %s", want, bar)
		}
	}
	// The day details, as the hover text was, are on the day page.
	cells := dayLines(t, ts, "web", "api")
	if len(cells) != 90 {
		t.Fatalf("API node: %d days on the day page, want 90", len(cells))
	}
	for i, want := range []struct{ status, title string }{
		{"none", "5 Dec 2030: no data"},
		{"none", "28 Feb 2031: no data"},
		{"healthy", "1 Mar 2031: 100.00% uptime"},
		{"healthy", "2 Mar 2031: 100.00% uptime"},
		{"dead", "3 Mar 2031: 97.91% uptime, 1 incident: API outage"},
		{"healthy", "4 Mar 2031: 100.00% uptime"},
	} {
		idx := []int{0, 85, 86, 87, 88, 89}[i]
		if got := cells[idx]; got.status != want.status || got.text != want.title {
			t.Errorf("day %d = %s %q, want %s %q", idx, got.status, got.text, want.status, want.title)
		}
	}
	uptime := text(element(t, api, `<dl class="history-uptime">`, "</dl>"))
	if want := "24h 97.91% 7d 99.30% 30d 99.30% 90d 99.30%"; uptime != want {
		t.Errorf("API uptime = %q, want %q", uptime, want)
	}
	spark := element(t, api, `<svg class="history-sparkline"`, "</svg>")
	if !strings.Contains(spark, `d="M0 23l1-22"`) || !strings.Contains(spark, "Response time, last 24 h: 10–30 ms") {
		t.Errorf("API sparkline: want two points from 10 to 30 ms: %s", spark)
	}
	// A push node has no sparkline, and no data yet.
	workers := nodeItem(t, page, "Workers")
	if strings.Contains(workers, "history-sparkline") {
		t.Error("push node has a sparkline")
	}
	if got := text(element(t, workers, `<dl class="history-uptime">`, "</dl>")); got != "24h – 7d – 30d – 90d –" {
		t.Errorf("Workers uptime = %q, want no data", got)
	}
	if !strings.Contains(page, `<link rel="alternate" type="application/atom+xml"`) {
		t.Error("page does not link its Atom feed")
	}

	// No page view reads the store: the page is served from its cache, and
	// stays the same until the history is refreshed.
	first := ts.get(t, "/")
	if again := ts.get(t, "/", "If-None-Match", first.header.Get("ETag")); again.code != 304 {
		t.Errorf("second GET / = %d, want 304", again.code)
	}
}

func TestHistoryJSON(t *testing.T) {
	st := openStoreGap(t)
	fillHistory(t, st)
	ts := newManagerServer(t, st, Options{})
	res := ts.get(t, "/status/history/web/api")
	if res.code != 200 || res.header.Get("Content-Type") != "application/json" {
		t.Fatalf("GET /status/history/web/api = %d %s", res.code, res.header.Get("Content-Type"))
	}
	var h historyJSON
	if err := json.Unmarshal([]byte(res.body), &h); err != nil {
		t.Fatal(err)
	}
	if h.Service != "web" || h.Node != "api" || len(h.Days) != 90 {
		t.Fatalf("history = %s/%s with %d days, want web/api with 90", h.Service, h.Node, len(h.Days))
	}
	if d := h.Days[88]; d.Date != "2031-03-03" || d.Status != "dead" || d.Uptime == nil || *d.Uptime != ratio(1-30.0/1440) ||
		len(d.Incidents) != 1 || d.Incidents[0] != "API outage" {
		t.Errorf("3 March = %+v", d)
	}
	if d := h.Days[0]; d.Status != "none" || d.Uptime != nil {
		t.Errorf("first day = %+v, want no data", d)
	}
	if u := h.Uptime["24h"]; u == nil || *u != ratio(1-30.0/1440) {
		t.Errorf("24h uptime = %v", u)
	}
	if len(h.Latency) != 2 || h.Latency[0].AvgMS != 10 || h.Latency[1].AvgMS != 30 {
		t.Errorf("latency = %+v, want 10 then 30 ms", h.Latency)
	}
	for _, p := range []string{"/status/history/web/nope", "/status/history/nope/api", "/status/history/web"} {
		if res := ts.get(t, p); res.code != 404 {
			t.Errorf("GET %s = %d, want 404", p, res.code)
		}
	}
}

func TestAtomFeed(t *testing.T) {
	st := openStoreGap(t)
	fillHistory(t, st)
	ctx := context.Background()
	if _, err := st.AddAnnouncement(ctx, "New region", "We opened Frankfurt.", testNow.Add(-time.Hour)); err != nil {
		t.Fatal(err)
	}
	if _, err := st.AddMaintenance(ctx, store.Window{Start: testNow.Add(time.Hour), End: testNow.Add(2 * time.Hour),
		Targets: []string{"web:api"}, Message: "Kernel update"}); err != nil {
		t.Fatal(err)
	}
	ts := newManagerServer(t, st, Options{})
	res := ts.get(t, "/status/feed.atom")
	if res.code != 200 || res.header.Get("Content-Type") != "application/atom+xml; charset=utf-8" {
		t.Fatalf("GET /status/feed.atom = %d %s", res.code, res.header.Get("Content-Type"))
	}
	var feed struct {
		Title   string `xml:"title"`
		Entries []struct {
			Title    string `xml:"title"`
			ID       string `xml:"id"`
			Updated  string `xml:"updated"`
			Category struct {
				Term string `xml:"term,attr"`
			} `xml:"category"`
			Content string `xml:"content"`
		} `xml:"entry"`
	}
	if err := xml.Unmarshal([]byte(res.body), &feed); err != nil {
		t.Fatalf("feed is not XML: %v\n%s", err, res.body)
	}
	var got []string
	for _, e := range feed.Entries {
		got = append(got, e.Category.Term+": "+e.Title+" @ "+e.Updated)
	}
	want := []string{
		"maintenance: Maintenance: Web / API @ 2031-03-04T10:03:01Z",
		"announcement: New region @ 2031-03-04T08:03:01Z",
		"incident: API outage (resolved) @ 2031-03-03T12:30:00Z",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("feed entries:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if feed.Title != "Acme Status" || !strings.Contains(feed.Entries[0].Content, "Kernel update") ||
		feed.Entries[2].ID != "https://status.acme.test/#incident-1" {
		t.Errorf("feed = %+v", feed)
	}
}

// unescapeAttr unescapes the entities of an attribute value.
func unescapeAttr(s string) string {
	return strings.NewReplacer("&#43;", "+", "&amp;", "&", "&#39;", "'", "&#34;", `"`, "&lt;", "<", "&gt;", ">").Replace(s)
}

// TestHistoryRefreshIsFasterAfterAStart: in the first minutes after a
// start the history is read again every 10 s, later every minute.
func TestHistoryRefreshIsFasterAfterAStart(t *testing.T) {
	start := time.Date(2026, 11, 28, 12, 0, 0, 0, time.UTC)
	d := &data{started: start}
	tests := []struct {
		loaded, now time.Duration // after start
		want        bool
	}{
		{0, 9 * time.Second, false},
		{0, 10 * time.Second, true},
		{4 * time.Minute, 4*time.Minute + 11*time.Second, true},
		{5 * time.Minute, 5*time.Minute + 11*time.Second, false},
		{5 * time.Minute, 5*time.Minute + 59*time.Second, false},
		{5 * time.Minute, 6 * time.Minute, true},
		// A read that took 3 s is not started again within 27 s.
		{0, 26 * time.Second, false},
		{0, 27 * time.Second, true},
	}
	for i, tt := range tests {
		h := &history{loaded: start.Add(tt.loaded)}
		if i >= 6 {
			h.took = 3 * time.Second
		}
		if got := d.refreshDue(h, start.Add(tt.now)); got != tt.want {
			t.Errorf("loaded at +%v, now +%v: refresh due = %v, want %v", tt.loaded, tt.now, got, tt.want)
		}
	}
}

// storeReads counts the reads of the history the page shows.
type storeReads struct {
	*store.Store
	history   atomic.Int64 // NodeHistories, Days, Uptime, HourBuckets, Maintenance
	incidents atomic.Int64
}

func (s *storeReads) NodeHistories(ctx context.Context, q store.NodeHistoryQuery, each func(store.NodeKey, store.NodeHistory)) error {
	s.history.Add(1)
	return s.Store.NodeHistories(ctx, q, each)
}

func (s *storeReads) Days(ctx context.Context, service, node string, since, until time.Time, m []store.Window) ([]store.Day, error) {
	s.history.Add(1)
	return s.Store.Days(ctx, service, node, since, until, m)
}

func (s *storeReads) Uptime(ctx context.Context, service, node string, since, until time.Time, m []store.Window) (store.UptimeReport, error) {
	s.history.Add(1)
	return s.Store.Uptime(ctx, service, node, since, until, m)
}

func (s *storeReads) HourBuckets(ctx context.Context, key store.SeriesKey, since, until time.Time) ([]store.Bucket, error) {
	s.history.Add(1)
	return s.Store.HourBuckets(ctx, key, since, until)
}

func (s *storeReads) Maintenance(ctx context.Context, since, until time.Time) ([]store.Window, error) {
	s.history.Add(1)
	return s.Store.Maintenance(ctx, since, until)
}

func (s *storeReads) Incidents(ctx context.Context, f store.IncidentFilter) ([]store.Incident, error) {
	s.incidents.Add(1)
	return s.Store.Incidents(ctx, f)
}

// TestHistoryReads checks that page views never read the store, and that an
// incident written through the manager API re-reads the incidents alone,
// not the whole history (seconds on a big database), yet shows at once.
func TestHistoryReads(t *testing.T) {
	st := &storeReads{Store: openStoreGap(t)}
	fillHistory(t, st.Store)
	cfg := testConfig(t)
	cfg.Server.ManagerToken = managerToken
	ts := newTestServer(t, Options{Config: cfg, Store: st})
	ts.src.Set(sampleServices(status.Healthy), testNow)
	if st.history.Load() == 0 || st.incidents.Load() == 0 {
		t.Fatal("the server did not load the history at start")
	}
	st.history.Store(0)
	st.incidents.Store(0)

	page := ts.get(t, "/")
	for _, h := range [][]string{nil, {"Accept-Encoding", "gzip"}, {"If-None-Match", page.header.Get("ETag")}} {
		ts.get(t, "/", h...)
	}
	ts.get(t, "/status/history/web/api")
	ts.get(t, "/status/history/web/api/days")
	before := map[string]string{}
	for _, p := range []string{"/status/incidents", "/status/feed.atom"} {
		res := ts.get(t, p)
		before[p] = res.header.Get("ETag")
		if again := ts.get(t, p, "If-None-Match", before[p]); res.code != 200 || before[p] == "" || again.code != 304 {
			t.Errorf("GET %s = %d (ETag %q), then %d with it; want 200, then 304: rendered once per history load", p, res.code, before[p], again.code)
		}
	}
	if h, i := st.history.Load(), st.incidents.Load(); h != 0 || i != 0 {
		t.Fatalf("page views read the store: %d history and %d incident reads", h, i)
	}

	if r := ts.manager(t, "POST", "/manager/incident/1/updates/", `{"status":"identified","text":"Cause found"}`); r.code != 200 {
		t.Fatalf("POST incident update = %d %s", r.code, r.body)
	}
	if r := ts.manager(t, "POST", "/manager/incident/", `{"title":"Slow queries","nodes":["web:api"]}`); r.code != 200 {
		t.Fatalf("POST incident = %d %s", r.code, r.body)
	}
	if h, i := st.history.Load(), st.incidents.Load(); h != 0 || i != 2 {
		t.Errorf("two incident writes read the history %d times and the incidents %d times, want 0 and 2", h, i)
	}
	page = ts.get(t, "/")
	if !strings.Contains(page.body, "Cause found") || !strings.Contains(page.body, "Slow queries") {
		t.Error("the page does not show the incident update and the new incident at once")
	}
	for p, etag := range before {
		if res := ts.get(t, p, "If-None-Match", etag); res.code != 200 || !strings.Contains(res.body, "Slow queries") || !strings.Contains(res.body, "Cause found") {
			t.Errorf("GET %s after the writes = %d, want 200 with the new incident and the update", p, res.code)
		}
	}
	days := dayLines(t, ts, "web", "api")
	if len(days) != 90 {
		t.Fatalf("API node: %d days on the day page, want 90", len(days))
	}
	for _, want := range []struct {
		day   int
		title string
	}{
		{88, "3 Mar 2031: 97.91% uptime, 1 incident: API outage"},
		{89, "4 Mar 2031: 100.00% uptime, 1 incident: Slow queries"},
	} {
		if got := days[want.day].text; got != want.title {
			t.Errorf("day %d = %q, want %q", want.day, got, want.title)
		}
	}
}
