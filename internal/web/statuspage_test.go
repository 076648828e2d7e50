package web

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	historyrec "github.com/vigil-go/vigil/internal/history"
	"github.com/vigil-go/vigil/internal/probe"
	"github.com/vigil-go/vigil/internal/status"
	"github.com/vigil-go/vigil/internal/statuspage"
	"github.com/vigil-go/vigil/internal/statuspage/statuspagetest"
	"github.com/vigil-go/vigil/internal/store"
	"github.com/vigil-go/vigil/internal/testkit"
)

// clock is a test clock that can be moved.
type clock struct{ t atomic.Pointer[time.Time] }

func newClock(t time.Time) *clock {
	c := &clock{}
	c.set(t)
	return c
}
func (c *clock) now() time.Time            { return *c.t.Load() }
func (c *clock) set(t time.Time)           { c.t.Store(&t) }
func apiPath(d statuspage.Document) string { return "/api/v2/" + string(d) }

// spDoc is the part of every document the tests look at.
type spDoc struct {
	Page struct {
		ID        string
		UpdatedAt string `json:"updated_at"`
	}
	Status     struct{ Indicator string }
	Components []struct {
		ID, Name, Status string
		Group            bool
	}
	Incidents []struct {
		ID, Name, Status string
		Updates          []struct{ Status, Body string } `json:"incident_updates"`
	}
	Maintenances []struct{ ID, Name, Status string } `json:"scheduled_maintenances"`
}

// fetchAll gets every document, checks that it is served as the public
// routes are and matches its schema, and returns the bodies.
func fetchAll(t *testing.T, ts *testServer, v *statuspagetest.Validator, prefix string) map[statuspage.Document]string {
	t.Helper()
	out := make(map[statuspage.Document]string)
	for _, d := range statuspage.Documents {
		res := ts.get(t, prefix+apiPath(d))
		if res.code != http.StatusOK {
			t.Fatalf("GET %s = %d %s", apiPath(d), res.code, res.body)
		}
		wantHeaders(t, "GET "+apiPath(d), res.header, map[string]string{
			"Content-Type":                "application/json",
			"Cache-Control":               "no-cache",
			"Access-Control-Allow-Origin": "*",
			"X-Content-Type-Options":      "nosniff",
			"X-Frame-Options":             "DENY",
		})
		if res.header.Get("ETag") == "" || !strings.Contains(res.header.Get("Content-Security-Policy"), "frame-ancestors 'none'") {
			t.Errorf("GET %s: headers %v, want an ETag and the security headers", apiPath(d), res.header)
		}
		if err := v.Validate(d, []byte(res.body)); err != nil {
			t.Errorf("GET %s: %v\n%s", apiPath(d), err, res.body)
		}
		out[d] = res.body
	}
	return out
}

func decodeSP(t *testing.T, body string) spDoc {
	t.Helper()
	var d spDoc
	if err := json.Unmarshal([]byte(body), &d); err != nil {
		t.Fatalf("decode %s: %v", body, err)
	}
	return d
}

func componentStatus(t *testing.T, body, name string) string {
	t.Helper()
	for _, c := range decodeSP(t, body).Components {
		if c.Name == name {
			return c.Status
		}
	}
	t.Fatalf("no component %q in %s", name, body)
	return ""
}

// TestStatuspageAPI drives the documents through the manager API on a real
// SQLite store: a sick node, a maintenance window in force then over, an
// operator's incident with updates, and its resolution.
func TestStatuspageAPI(t *testing.T) {
	v := statuspagetest.New(t)
	clk := newClock(testNow)
	ts := newManagerServer(t, openStore(t), Options{Now: clk.now})
	ts.src.Set(sampleServices(status.Sick), testNow)

	docs := fetchAll(t, ts, v, "")
	if got := componentStatus(t, docs[statuspage.DocComponents], "API"); got != "degraded_performance" {
		t.Errorf("API with a sick replica = %s, want degraded_performance", got)
	}
	if got := decodeSP(t, docs[statuspage.DocStatus]).Status.Indicator; got != "minor" {
		t.Errorf("indicator with a sick node = %s, want minor", got)
	}

	for _, step := range []struct{ path, body string }{
		{"/manager/maintenance/", `{"start":"2031-03-04T08:00:00Z","end":"2031-03-04T10:00:00Z","targets":["web:api"],"message":"Database upgrade"}`},
		{"/manager/maintenance/", `{"start":"2031-03-05T08:00:00Z","end":"2031-03-05T10:00:00Z","targets":["jobs"],"message":"Cron move"}`},
		{"/manager/incident/", `{"title":"Checkout errors","nodes":["web:workers"],"status":"investigating","text":"We are looking into it"}`},
		{"/manager/incident/1/updates/", `{"status":"identified","text":"A bad deploy"}`},
		{"/manager/incident/1/updates/", `{"status":"monitoring","text":"Rolled back"}`},
		{"/manager/incident/", `{"title":"Slow search","text":"Search is slow"}`},
	} {
		if res := ts.manager(t, "POST", step.path, step.body); res.code != 200 {
			t.Fatalf("POST %s %s = %d %s", step.path, step.body, res.code, res.body)
		}
	}
	docs = fetchAll(t, ts, v, "")
	if got := componentStatus(t, docs[statuspage.DocSummary], "API"); got != "under_maintenance" {
		t.Errorf("API in a window in force = %s, want under_maintenance", got)
	}
	active := decodeSP(t, docs[statuspage.DocActive]).Maintenances
	upcoming := decodeSP(t, docs[statuspage.DocUpcoming]).Maintenances
	if len(active) != 1 || active[0].Name != "Database upgrade" || active[0].Status != "in_progress" {
		t.Errorf("active.json = %+v, want the database upgrade in progress", active)
	}
	if len(upcoming) != 1 || upcoming[0].Name != "Cron move" || upcoming[0].Status != "scheduled" {
		t.Errorf("upcoming.json = %+v, want the cron move", upcoming)
	}
	incidents := decodeSP(t, docs[statuspage.DocIncidents]).Incidents
	if len(incidents) != 2 || incidents[1].Name != "Checkout errors" || incidents[1].Status != "monitoring" {
		t.Fatalf("incidents.json = %+v, want both incidents, newest first", incidents)
	}
	var updates []string
	for _, u := range incidents[1].Updates {
		updates = append(updates, u.Status+": "+u.Body)
	}
	if want := []string{"monitoring: Rolled back", "identified: A bad deploy", "investigating: We are looking into it"}; !slices.Equal(updates, want) {
		t.Errorf("incident updates %q, want newest first %q", updates, want)
	}

	// The window ends and the incident is resolved.
	clk.set(testNow.Add(2 * time.Hour))
	// With nothing written, the time alone ends the window.
	if active := decodeSP(t, ts.get(t, apiPath(statuspage.DocActive)).body).Maintenances; len(active) != 0 {
		t.Errorf("active.json once the window is over = %+v, want none", active)
	}
	if res := ts.manager(t, "POST", "/manager/incident/1/resolve/", `{"text":"All good"}`); res.code != 200 {
		t.Fatalf("resolve = %d %s", res.code, res.body)
	}
	docs = fetchAll(t, ts, v, "")
	if got := componentStatus(t, docs[statuspage.DocComponents], "API"); got != "degraded_performance" {
		t.Errorf("API after its window = %s, want degraded_performance again", got)
	}
	if active := decodeSP(t, docs[statuspage.DocActive]).Maintenances; len(active) != 0 {
		t.Errorf("active.json after the window = %+v, want none", active)
	}
	all := decodeSP(t, docs[statuspage.DocMaintenances]).Maintenances
	if len(all) != 2 || all[1].Status != "completed" {
		t.Errorf("scheduled-maintenances.json = %+v, want the upcoming one and the completed one", all)
	}
	unresolved := decodeSP(t, docs[statuspage.DocUnresolved]).Incidents
	if len(unresolved) != 1 || unresolved[0].Name != "Slow search" {
		t.Errorf("unresolved.json = %+v, want only the open incident", unresolved)
	}
	resolved := decodeSP(t, docs[statuspage.DocIncidents]).Incidents[1]
	if resolved.Status != "resolved" || resolved.Updates[0].Status != "resolved" || resolved.Updates[0].Body != "All good" {
		t.Errorf("resolved incident = %+v", resolved)
	}
	for _, id := range []string{decodeSP(t, docs[statuspage.DocSummary]).Incidents[0].ID} {
		if id == resolved.ID {
			t.Error("summary.json lists the resolved incident")
		}
	}
}

// TestStatuspageUnderPrefix checks that the documents follow path_prefix
// like every route, and that wrong methods get the empty 404.
func TestStatuspageUnderPrefix(t *testing.T) {
	cfg := testConfig(t)
	cfg.Server.PathPrefix = "/status"
	ts := newTestServer(t, Options{Config: cfg})
	fetchAll(t, ts, statuspagetest.New(t), "/status")
	for _, tt := range []struct{ method, path string }{
		{"GET", "/api/v2/summary.json"},
		{"POST", "/status/api/v2/summary.json"},
		{"GET", "/status/api/v2/nothing.json"},
		{"GET", "/status/api/v1/summary.json"},
	} {
		if res := ts.do(t, tt.method, tt.path); res.code != http.StatusNotFound || res.body != "" {
			t.Errorf("%s %s = %d %q, want an empty 404", tt.method, tt.path, res.code, res.body)
		}
	}
	if res := ts.do(t, "HEAD", "/status/api/v2/status.json"); res.code != 200 || res.body != "" {
		t.Errorf("HEAD = %d %q, want 200 without a body", res.code, res.body)
	}
}

// TestStatuspageIDsSurviveRestart serves the same SQLite file twice: every
// document is the same, byte for byte, ids included.
func TestStatuspageIDsSurviveRestart(t *testing.T) {
	v := statuspagetest.New(t)
	path := filepath.Join(t.TempDir(), "vigil.db")
	serve := func() (map[statuspage.Document]string, func()) {
		st, err := store.Open(context.Background(), store.Config{Driver: store.SQLite, Path: path})
		if err != nil {
			t.Fatal(err)
		}
		ts := newManagerServer(t, st, Options{})
		ts.src.Set(sampleServices(status.Dead), testNow)
		return fetchAll(t, ts, v, ""), func() { ts.Close(); st.Close() }
	}
	_, stop := serve()
	stop()
	// Write through a server, then restart on the same file.
	st, err := store.Open(context.Background(), store.Config{Driver: store.SQLite, Path: path})
	if err != nil {
		t.Fatal(err)
	}
	ts := newManagerServer(t, st, Options{})
	for _, body := range []string{
		`{"title":"Outage","nodes":["web:api"],"text":"Looking"}`,
		`{"title":"Other","text":"Hm"}`,
	} {
		if res := ts.manager(t, "POST", "/manager/incident/", body); res.code != 200 {
			t.Fatalf("open incident = %d %s", res.code, res.body)
		}
	}
	if res := ts.manager(t, "POST", "/manager/maintenance/", `{"start":"2031-03-04T08:00:00Z","end":"2031-03-04T10:00:00Z"}`); res.code != 200 {
		t.Fatalf("add window = %d %s", res.code, res.body)
	}
	ts.Close()
	st.Close()

	first, stop := serve()
	stop()
	second, stop := serve()
	stop()
	for _, d := range statuspage.Documents {
		if first[d] != second[d] {
			t.Errorf("%s changed across a restart:\n%s\n%s", d, first[d], second[d])
		}
	}
	s := decodeSP(t, first[statuspage.DocSummary])
	if len(s.Incidents) != 2 || len(s.Components) != 7 || len(s.Maintenances) != 1 {
		t.Errorf("summary = %+v, want 2 incidents, 7 components and the window", s)
	}
}

// TestStatuspageReadsNoStore checks that no request reads the store: the
// documents come from the history in memory, re-read by the periodic
// refresh and the manager API's writes only.
func TestStatuspageReadsNoStore(t *testing.T) {
	st := &storeReads{Store: openStore(t)}
	cfg := testConfig(t)
	cfg.Server.ManagerToken = managerToken
	ts := newTestServer(t, Options{Config: cfg, Store: st})
	st.history.Store(0)
	st.incidents.Store(0)

	for range 3 {
		for _, d := range statuspage.Documents {
			first := ts.get(t, apiPath(d))
			for _, h := range [][]string{{"Accept-Encoding", "gzip"}, {"If-None-Match", first.header.Get("ETag")}} {
				ts.get(t, apiPath(d), h...)
			}
		}
		ts.src.Set(sampleServices(status.Sick), testNow) // a new snapshot: built again, from memory
	}
	if h, i := st.history.Load(), st.incidents.Load(); h != 0 || i != 0 {
		t.Fatalf("the documents read the store: %d history and %d incident reads", h, i)
	}
	if res := ts.manager(t, "POST", "/manager/incident/", `{"title":"Now","text":"x"}`); res.code != 200 {
		t.Fatal(res.body)
	}
	if got := decodeSP(t, ts.get(t, apiPath(statuspage.DocUnresolved)).body).Incidents; len(got) != 1 || got[0].Name != "Now" {
		t.Errorf("after a manager write, unresolved.json = %+v, want the new incident at once", got)
	}
}

// TestStatuspageRevalidation checks the ETag: the same state answers 304,
// a new one a new body.
func TestStatuspageRevalidation(t *testing.T) {
	ts := newTestServer(t, Options{})
	first := ts.get(t, apiPath(statuspage.DocSummary))
	if res := ts.get(t, apiPath(statuspage.DocSummary), "If-None-Match", first.header.Get("ETag")); res.code != http.StatusNotModified {
		t.Errorf("same state = %d, want 304", res.code)
	}
	if res := ts.get(t, apiPath(statuspage.DocSummary), "Accept-Encoding", "gzip"); res.header.Get("Content-Encoding") != "gzip" {
		t.Errorf("gzip asked: Content-Encoding %q", res.header.Get("Content-Encoding"))
	}
	ts.src.Set(healthServices(status.Healthy), testNow)
	res := ts.get(t, apiPath(statuspage.DocSummary), "If-None-Match", first.header.Get("ETag"))
	if res.code != http.StatusOK || res.header.Get("ETag") == first.header.Get("ETag") || !strings.Contains(res.body, `"name":"Main"`) {
		t.Errorf("new state = %d %s, want 200 with the new components", res.code, res.body)
	}
}

// TestStatuspageHidesReplicas probes a real HTTP target that fails, records
// the outage with the real history recorder (which writes the probe's
// reason into the automatic incident), and checks that no document, nor
// the page, its incidents JSON or its feed, names the replica unless
// reveal_replica_name allows it.
func TestStatuspageHidesReplicas(t *testing.T) {
	target := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusServiceUnavailable)
	}))
	defer target.Close()
	replicaURL := target.URL + "/private-path?token=s3cret-token"
	u, err := url.Parse(replicaURL)
	if err != nil {
		t.Fatal(err)
	}
	res := (&probe.HTTP{URL: u, Timeout: 5 * time.Second}).Probe(context.Background())
	if res.Health != status.Dead || !strings.Contains(res.Reason, "private-path") {
		t.Fatalf("probe = %+v, want dead with a reason naming the target", res)
	}
	services := func(h status.Health, reveal bool) []status.Service {
		r := status.Replica{ID: replicaURL, Health: h, Since: testNow, Checked: testNow}
		if h != status.Healthy {
			r.Reason = res.Reason
		}
		return []status.Service{{ID: "shop", Label: "Shop", Nodes: []status.Node{
			{ID: "front", Label: "Front", Mode: status.Poll, RevealReplicaName: reveal, Replicas: []status.Replica{r}},
		}}}
	}
	snap := func(svcs []status.Service) *status.Snapshot {
		h, dead := status.Rollup(svcs)
		return &status.Snapshot{Version: 1, Health: h, Refreshed: testNow, Services: svcs, Dead: dead}
	}
	st := openStore(t)
	rec, err := historyrec.New(context.Background(), historyrec.Options{Store: st, Now: func() time.Time { return testNow }})
	if err != nil {
		t.Fatal(err)
	}
	rec.Published(nil, snap(services(status.Healthy, false)))
	rec.Published(nil, snap(services(status.Dead, false)))
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	rec.Run(ctx) // writes what is queued and returns
	stored, err := st.Incidents(context.Background(), store.IncidentFilter{})
	if err != nil || len(stored) != 1 || !strings.Contains(stored[0].Updates[0].Text, "private-path") {
		t.Fatalf("stored incidents = %+v, %v; want the automatic one quoting the probe", stored, err)
	}

	v := statuspagetest.New(t)
	for _, reveal := range []bool{false, true} {
		src := &testkit.Source{}
		svcs := services(status.Dead, reveal)
		h, dead := status.Rollup(svcs)
		src.Store(&status.Snapshot{Version: 1, Health: h, Refreshed: testNow, Services: svcs, Dead: dead})
		ts := newManagerServer(t, st, Options{Source: src})
		docs := fetchAll(t, ts, v, "")
		// The page, its incidents JSON and the feed show the same text.
		bodies := map[string]string{}
		for d, body := range docs {
			bodies[string(d)] = body
		}
		for _, p := range []string{"/", "/status/incidents", "/status/feed.atom"} {
			res := ts.get(t, p)
			if res.code != http.StatusOK {
				t.Fatalf("GET %s = %d", p, res.code)
			}
			bodies[p] = res.body
		}
		named := false
		for d, body := range bodies {
			for _, secret := range []string{"private-path", "s3cret", u.Host, strings.TrimPrefix(target.URL, "http://")} {
				if strings.Contains(body, secret) {
					named = true
					if !reveal {
						t.Errorf("reveal_replica_name = false: %s names %q: %s", d, secret, body)
					}
				}
			}
		}
		if reveal && !named {
			t.Error("reveal_replica_name = true: the automatic incident lost the probe's reason")
		}
		if !reveal && !strings.Contains(docs[statuspage.DocIncidents], "1 of 1 replicas dead: HEAD (hidden)") {
			t.Errorf("the hidden reason lost its shape: %s", docs[statuspage.DocIncidents])
		}
	}
}
