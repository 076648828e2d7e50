package web

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/vigil-go/vigil/internal/status"
	"github.com/vigil-go/vigil/internal/store"
)

const managerToken = "manager-secret"

// openStore opens a real SQLite store in a temporary directory.
func openStore(t testing.TB) *store.Store {
	t.Helper()
	st, err := store.Open(context.Background(), store.Config{Driver: store.SQLite, Path: filepath.Join(t.TempDir(), "vigil.db")})
	if err != nil {
		t.Fatalf("open store: %v", err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

// newManagerServer serves o (with a manager token) over st.
func newManagerServer(t *testing.T, st *store.Store, o Options) *testServer {
	t.Helper()
	cfg := testConfig(t)
	cfg.Server.ManagerToken = managerToken
	o.Config, o.Store = cfg, st
	return newTestServer(t, o)
}

// send sends body (JSON when not empty) with the given headers.
func (ts *testServer) send(t *testing.T, method, path, body string, headers ...string) response {
	t.Helper()
	req, err := http.NewRequest(method, ts.URL+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	res, err := client.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatalf("%s %s: read body: %v", method, path, err)
	}
	return response{code: res.StatusCode, header: res.Header, body: string(b)}
}

// manager sends an authenticated manager request; a non-empty body is JSON.
func (ts *testServer) manager(t *testing.T, method, path, body string) response {
	t.Helper()
	h := []string{"Authorization", basic(managerToken)}
	if body != "" {
		h = append(h, "Content-Type", "application/json")
	}
	return ts.send(t, method, path, body, h...)
}

func basic(password string) string {
	req, _ := http.NewRequest("GET", "/", nil)
	req.SetBasicAuth("", password)
	return req.Header.Get("Authorization")
}

// step is one request of a scenario and what it must get, exactly.
type step struct {
	method, path, body string
	code               int
	want               string // the exact body
}

func runSteps(t *testing.T, ts *testServer, steps []step) {
	t.Helper()
	for _, s := range steps {
		res := ts.manager(t, s.method, s.path, s.body)
		if res.code != s.code || res.body != s.want {
			t.Errorf("%s %s %s = %d %q, want %d %q", s.method, s.path, s.body, res.code, res.body, s.code, s.want)
		}
	}
}

// managerRoutes lists every manager route with a valid request.
var managerRouteList = []struct{ method, path, body string }{
	{"GET", "/manager/announcements/", ""},
	{"POST", "/manager/announcement/", `{"title":"a","text":"b"}`},
	{"DELETE", "/manager/announcement/x/", ""},
	{"PUT", "/manager/announcement/x/", `{"title":"a","text":"b"}`},
	{"GET", "/manager/prober/alerts/", ""},
	{"GET", "/manager/prober/alerts/ignored/", ""},
	{"PUT", "/manager/prober/alerts/ignored/", `{"reminders_seconds":5}`},
	{"GET", "/manager/maintenances/", ""},
	{"POST", "/manager/maintenance/", `{"end":"2040-01-01T00:00:00Z"}`},
	{"PUT", "/manager/maintenance/1/", `{"end":"2040-01-01T00:00:00Z"}`},
	{"DELETE", "/manager/maintenance/1/", ""},
	{"GET", "/manager/incidents/", ""},
	{"POST", "/manager/incident/", `{"title":"x"}`},
	{"POST", "/manager/incident/1/updates/", `{"text":"x"}`},
	{"POST", "/manager/incident/1/resolve/", ""},
}

func TestManagerAuth(t *testing.T) {
	ts := newManagerServer(t, openStore(t), Options{})
	for _, r := range managerRouteList {
		for _, tc := range []struct {
			name   string
			header []string
			code   int
			body   string
		}{
			{"no auth", nil, 401, "authentication required: HTTP Basic with the token as password\n"},
			{"not basic", []string{"Authorization", "Bearer " + managerToken}, 401, "authentication required: HTTP Basic with the token as password\n"},
			{"wrong token", []string{"Authorization", basic("reporter-secret")}, 403, "wrong token\n"},
		} {
			h := append([]string{"Content-Type", "application/json"}, tc.header...)
			res := ts.send(t, r.method, r.path, r.body, h...)
			if res.code != tc.code || res.body != tc.body || res.header.Get("WWW-Authenticate") != `Basic realm="Reporter Token"` {
				t.Errorf("%s %s, %s = %d %q (WWW-Authenticate %q), want %d %q", r.method, r.path, tc.name,
					res.code, res.body, res.header.Get("WWW-Authenticate"), tc.code, tc.body)
			}
		}
	}
	// Nothing was written by the refused requests.
	runSteps(t, ts, []step{
		{"GET", "/manager/announcements/", "", 200, `[]`},
		{"GET", "/manager/maintenances/", "", 200, `[]`},
		{"GET", "/manager/incidents/", "", 200, `[]`},
	})
}

func TestManagerWithoutStore(t *testing.T) {
	cfg := testConfig(t)
	cfg.Server.ManagerToken = managerToken
	ts := newTestServer(t, Options{Config: cfg})
	for _, r := range managerRouteList {
		res := ts.manager(t, r.method, r.path, r.body)
		if res.code != 404 || res.body != "" {
			t.Errorf("without a store, %s %s = %d %q, want 404 with an empty body", r.method, r.path, res.code, res.body)
		}
	}
	for _, p := range []string{"/status/incidents", "/status/history/web/api", "/status/feed.atom"} {
		if res := ts.get(t, p); res.code != 404 {
			t.Errorf("without a store, GET %s = %d, want 404", p, res.code)
		}
	}
}

var uuidRe = regexp.MustCompile(`^\{"id":"([0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12})"\}$`)

// postAnnouncement inserts an announcement and returns its id.
func postAnnouncement(t *testing.T, ts *testServer, body string) string {
	t.Helper()
	res := ts.manager(t, "POST", "/manager/announcement/", body)
	m := uuidRe.FindStringSubmatch(res.body)
	if res.code != 200 || m == nil {
		t.Fatalf("POST /manager/announcement/ %s = %d %q, want 200 {\"id\":\"<uuid v4>\"}", body, res.code, res.body)
	}
	return m[1]
}

func TestManagerAnnouncements(t *testing.T) {
	st := openStore(t)
	ts := newManagerServer(t, st, Options{})
	big := `{"title":"` + strings.Repeat("x", maxBody) + `","text":"y"}`
	runSteps(t, ts, []step{
		{"GET", "/manager/announcements/", "", 200, `[]`},
		{"POST", "/manager/announcement/", "", 400, "content type must be application/json\n"},
		{"POST", "/manager/announcement/", `{"title":`, 400, "invalid JSON: unexpected end of JSON input\n"},
		{"POST", "/manager/announcement/", `{"title":"a"}`, 400, "title and text are required strings\n"},
		{"POST", "/manager/announcement/", `{"title":1,"text":"b"}`, 400, "invalid JSON: json: cannot unmarshal number into Go struct field announcementBody.title of type string\n"},
		{"POST", "/manager/announcement/", `{"title":"","text":"b"}`, 400, "title and text must not be empty\n"},
		{"POST", "/manager/announcement/", `{"title":"a","text":""}`, 400, "title and text must not be empty\n"},
		{"POST", "/manager/announcement/", big, 413, fmt.Sprintf("body larger than %d bytes\n", maxBody)},
		{"DELETE", "/manager/announcement/4b1e0b5c-0000-4000-8000-000000000000/", "", 404, ""},
		{"PUT", "/manager/announcement/4b1e0b5c-0000-4000-8000-000000000000/", `{"title":"a","text":"b"}`, 404, `{"error":"not found"}`},
	})
	blank := postAnnouncement(t, ts, `{"title":" ","text":" "}`) // whitespace is accepted, as in Vigil
	hello := postAnnouncement(t, ts, `{"title":"Hello <b>","text":"World & co"}`)
	runSteps(t, ts, []step{
		{"GET", "/manager/announcements/", "", 200, `[{"id":"` + blank + `","title":" "},{"id":"` + hello + `","title":"Hello <b>"}]`},
		{"DELETE", "/manager/announcement/" + blank + "/", "", 200, ""},
		{"DELETE", "/manager/announcement/" + blank + "/", "", 404, ""},
		{"PUT", "/manager/announcement/" + hello + "/", `{"title":"Edited","text":"Now"}`, 200,
			`{"id":"` + hello + `","title":"Edited","text":"Now","published":"2031-03-04T09:03:01Z","updated":"2031-03-04T09:03:01Z"}`},
		{"PUT", "/manager/announcement/" + hello + "/", `{"title":"","text":"Now"}`, 400, `{"error":"title and text must not be empty"}`},
		{"PUT", "/manager/announcement/" + hello + "/", `{"text":"Now"}`, 400, `{"error":"title and text are required strings"}`},
		{"PUT", "/manager/announcement/" + hello + "/", `[`, 400, `{"error":"invalid JSON: unexpected end of JSON input"}`},
		{"PATCH", "/manager/announcement/" + hello + "/", `{"title":"a","text":"b"}`, 404, ""},
		{"GET", "/manager/announcements/", "", 200, `[{"id":"` + hello + `","title":"Edited"}]`},
	})
	if res := ts.send(t, "PUT", "/manager/announcement/"+hello+"/", `{"title":"a","text":"b"}`, "Authorization", basic(managerToken), "Content-Type", "text/plain"); res.code != 400 || res.body != `{"error":"content type must be application/json"}` {
		t.Errorf("PUT with text/plain = %d %q, want 400 with a JSON reason", res.code, res.body)
	}
	if body := ts.get(t, "/").body; !strings.Contains(body, "Edited") || strings.Contains(body, "Hello") {
		t.Error("the page does not show the edited announcement")
	}

	// A restarted server keeps them.
	again := newManagerServer(t, st, Options{})
	runSteps(t, again, []step{{"GET", "/manager/announcements/", "", 200, `[{"id":"` + hello + `","title":"Edited"}]`}})
	if body := again.get(t, "/").body; !strings.Contains(body, "Edited") {
		t.Error("the restarted page does not show the announcement")
	}
}

func TestManagerProberAlerts(t *testing.T) {
	ts := newManagerServer(t, openStore(t), Options{})
	ts.src.Set(sampleServices(status.Dead), testNow)
	runSteps(t, ts, []step{{"GET", "/manager/prober/alerts/", "", 200,
		`{"dead":[{"probe":"web","node":"api","replica":"http://10.0.0.2/health"}],"sick":[]}`}})
	ts.src.Set(sampleServices(status.Sick), testNow)
	runSteps(t, ts, []step{{"GET", "/manager/prober/alerts/", "", 200,
		`{"dead":[],"sick":[{"probe":"web","node":"api","replica":"http://10.0.0.2/health"}]}`}})
}

// recordingAlerting is an alerting engine that remembers what it was told.
type recordingAlerting struct {
	mu    sync.Mutex
	until time.Time
	calls []time.Time
}

func (a *recordingAlerting) IgnoreReminders(_ context.Context, until time.Time) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.until = until
	a.calls = append(a.calls, until)
	return nil
}

func (a *recordingAlerting) RemindersIgnoredUntil() time.Time {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.until
}

func TestManagerIgnoreReminders(t *testing.T) {
	steps := []step{
		{"GET", "/manager/prober/alerts/ignored/", "", 200, `{"reminders_seconds":null}`},
		{"PUT", "/manager/prober/alerts/ignored/", `{"reminders_seconds":600}`, 200, ""},
		{"GET", "/manager/prober/alerts/ignored/", "", 200, `{"reminders_seconds":600}`},
		{"PUT", "/manager/prober/alerts/ignored/", `{"reminders_seconds":65536}`, 400,
			"invalid JSON: json: cannot unmarshal number 65536 into Go struct field .reminders_seconds of type uint16\n"},
		{"PUT", "/manager/prober/alerts/ignored/", `{"reminders_seconds":-1}`, 400,
			"invalid JSON: json: cannot unmarshal number -1 into Go struct field .reminders_seconds of type uint16\n"},
		{"PUT", "/manager/prober/alerts/ignored/", `{"reminders_seconds":"5"}`, 400,
			"invalid JSON: json: cannot unmarshal string into Go struct field .reminders_seconds of type uint16\n"},
		{"PUT", "/manager/prober/alerts/ignored/", ``, 400, "content type must be application/json\n"},
		// A misspelt key would read as null and clear the muting.
		{"PUT", "/manager/prober/alerts/ignored/", `{"reminder_seconds":3600}`, 400, "unknown key \"reminder_seconds\"\n"},
		{"PUT", "/manager/prober/alerts/ignored/", `{"reminders_seconds":5,"until":"never"}`, 400, "unknown key \"until\"\n"},
		{"GET", "/manager/prober/alerts/ignored/", "", 200, `{"reminders_seconds":600}`},
		{"PUT", "/manager/prober/alerts/ignored/", `{"reminders_seconds":65535}`, 200, ""},
		{"GET", "/manager/prober/alerts/ignored/", "", 200, `{"reminders_seconds":65535}`},
		{"PUT", "/manager/prober/alerts/ignored/", `{"reminders_seconds":null}`, 200, ""},
		{"GET", "/manager/prober/alerts/ignored/", "", 200, `{"reminders_seconds":null}`},
		{"PUT", "/manager/prober/alerts/ignored/", `{"reminders_seconds":30}`, 200, ""},
		{"PUT", "/manager/prober/alerts/ignored/", `{}`, 200, ""},
		{"GET", "/manager/prober/alerts/ignored/", "", 200, `{"reminders_seconds":null}`},
	}
	t.Run("in memory", func(t *testing.T) {
		runSteps(t, newManagerServer(t, openStore(t), Options{}), steps)
	})
	t.Run("alerting engine", func(t *testing.T) {
		a := &recordingAlerting{}
		runSteps(t, newManagerServer(t, openStore(t), Options{Alerting: a}), steps)
		want := []time.Time{testNow.Add(600 * time.Second), testNow.Add(65535 * time.Second), {}, testNow.Add(30 * time.Second), {}}
		if len(a.calls) != len(want) {
			t.Fatalf("IgnoreReminders calls = %v, want %v", a.calls, want)
		}
		for i := range want {
			if !a.calls[i].Equal(want[i]) {
				t.Errorf("IgnoreReminders call %d = %v, want %v", i, a.calls[i], want[i])
			}
		}
	})
}

func TestManagerMaintenance(t *testing.T) {
	st := openStore(t)
	ts := newManagerServer(t, st, Options{})
	ts.src.Set(sampleServices(status.Healthy), testNow)
	before := ts.get(t, "/").body
	if strings.Contains(before, "node-maintenance") {
		t.Fatal("page shows maintenance before any window")
	}
	runSteps(t, ts, []step{
		{"GET", "/manager/maintenances/", "", 200, `[]`},
		{"POST", "/manager/maintenance/", `{"start":"2031-03-04T09:00:00Z"}`, 400, `{"error":"end is required (RFC 3339)"}`},
		{"POST", "/manager/maintenance/", `{"start":"2031-03-04T09:00:00Z","end":"2031-03-04T08:00:00Z"}`, 400, `{"error":"end must be after start"}`},
		{"POST", "/manager/maintenance/", `{"end":"tomorrow"}`, 400, `{"error":"invalid JSON: parsing time \"tomorrow\" as \"2006-01-02T15:04:05Z07:00\": cannot parse \"tomorrow\" as \"2006\""}`},
		{"POST", "/manager/maintenance/", `{"end":"2031-03-04T11:00:00Z","targets":["nope"]}`, 400, `{"error":"unknown service \"nope\""}`},
		{"POST", "/manager/maintenance/", `{"end":"2031-03-04T11:00:00Z","targets":["web:nope"]}`, 400, `{"error":"unknown node \"web:nope\""}`},
		{"POST", "/manager/maintenance/", `{"end":"2031-03-04T11:00:00Z","targets":["web:"]}`, 400, `{"error":"unknown node \"web:\""}`},
		{"POST", "/manager/maintenance/", `{"end":"2031-03-04T11:00:00Z"`, 400, `{"error":"invalid JSON: unexpected end of JSON input"}`},
		{"POST", "/manager/maintenance/", `{"start":"2031-03-04T09:00:00Z","end":"2031-03-04T11:00:00Z","targets":["web:api"],"message":"Database upgrade"}`, 200,
			`{"id":1,"start":"2031-03-04T09:00:00Z","end":"2031-03-04T11:00:00Z","targets":["web:api"],"message":"Database upgrade"}`},
		{"POST", "/manager/maintenance/", `{"end":"2031-03-05T11:00:00Z","targets":["jobs"]}`, 200,
			`{"id":2,"start":"2031-03-04T09:03:01Z","end":"2031-03-05T11:00:00Z","targets":["jobs"],"message":""}`},
		{"GET", "/manager/maintenances/", "", 200,
			`[{"id":1,"start":"2031-03-04T09:00:00Z","end":"2031-03-04T11:00:00Z","targets":["web:api"],"message":"Database upgrade"},` +
				`{"id":2,"start":"2031-03-04T09:03:01Z","end":"2031-03-05T11:00:00Z","targets":["jobs"],"message":""}]`},
	})

	page := ts.get(t, "/").body
	api := nodeItem(t, page, "API")
	if !strings.Contains(api, `<span class="node-maintenance font-sans-semibold" title="Maintenance until 4 Mar 2031, 11:00 UTC">maintenance</span>`) ||
		!strings.Contains(api, "Database upgrade") {
		t.Errorf("API node under maintenance: want the maintenance label and message: %s", api)
	}
	for _, label := range []string{"Cron", "Agent"} {
		if item := nodeItem(t, page, label); !strings.Contains(item, "node-maintenance") {
			t.Errorf("%s node (service under maintenance): want the maintenance label: %s", label, item)
		}
	}
	if item := nodeItem(t, page, "Workers"); strings.Contains(item, "node-maintenance") {
		t.Errorf("Workers node is not under maintenance: %s", item)
	}
	if got := text(element(t, page, `<section class="maintenance"`, "</section>")); !strings.Contains(got, "In progress: 4 Mar 2031, 09:00 UTC to 4 Mar 2031, 11:00 UTC Web / API Database upgrade") {
		t.Errorf("maintenance section = %q", got)
	}
	if renderKey(t, page) == renderKey(t, before) {
		t.Error("the render key did not change when a window started")
	}

	runSteps(t, ts, []step{
		{"PUT", "/manager/maintenance/1/", `{"start":"2031-03-05T09:00:00Z","end":"2031-03-05T10:00:00Z","targets":["web"],"message":"Moved"}`, 200,
			`{"id":1,"start":"2031-03-05T09:00:00Z","end":"2031-03-05T10:00:00Z","targets":["web"],"message":"Moved"}`},
		{"PUT", "/manager/maintenance/99/", `{"end":"2031-03-05T10:00:00Z"}`, 404, `{"error":"not found"}`},
		{"PUT", "/manager/maintenance/abc/", `{"end":"2031-03-05T10:00:00Z"}`, 404, `{"error":"not found"}`},
		{"PUT", "/manager/maintenance/1/", `{"end":"2031-03-01T10:00:00Z"}`, 400, `{"error":"end must be after start"}`},
		{"DELETE", "/manager/maintenance/99/", "", 404, `{"error":"not found"}`},
		{"DELETE", "/manager/maintenance/2/", "", 200, ""},
	})
	page = ts.get(t, "/").body
	if strings.Contains(nodeItem(t, page, "API"), "node-maintenance") {
		t.Error("API node still shows maintenance after its window moved to tomorrow")
	}
	if got := text(element(t, page, `<section class="maintenance"`, "</section>")); got != "Maintenance Scheduled: 5 Mar 2031, 09:00 UTC to 5 Mar 2031, 10:00 UTC Web Moved" {
		t.Errorf("maintenance section = %q", got)
	}

	// A restarted server keeps the window.
	again := newManagerServer(t, st, Options{})
	runSteps(t, again, []step{{"GET", "/manager/maintenances/", "", 200,
		`[{"id":1,"start":"2031-03-05T09:00:00Z","end":"2031-03-05T10:00:00Z","targets":["web"],"message":"Moved"}]`}})
}

func TestManagerIncidents(t *testing.T) {
	st := openStore(t)
	ts := newManagerServer(t, st, Options{})
	runSteps(t, ts, []step{
		{"GET", "/manager/incidents/", "", 200, `[]`},
		{"POST", "/manager/incident/", `{}`, 400, `{"error":"title is required"}`},
		{"POST", "/manager/incident/", `{"title":"  "}`, 400, `{"error":"title is required"}`},
		{"POST", "/manager/incident/", `{"title":"x","nodes":["web"]}`, 400, `{"error":"node \"web\": want \"service:node\""}`},
		{"POST", "/manager/incident/", `{"title":"x","nodes":["web:nope"]}`, 400, `{"error":"unknown node \"web:nope\""}`},
		{"POST", "/manager/incident/", `{"title":"x","opened":"2031-03-05T00:00:00Z"}`, 400, `{"error":"opened must not be in the future"}`},
		{"POST", "/manager/incident/", `{"title":"API down","nodes":["web:api"],"opened":"2031-03-04T08:00:00Z","text":"Looking into it."}`, 200,
			`{"id":1,"title":"API down","auto":false,"nodes":["web:api"],"opened":"2031-03-04T08:00:00Z","resolved":null,` +
				`"updates":[{"id":1,"time":"2031-03-04T09:03:01Z","status":"investigating","text":"Looking into it."}]}`},
		{"POST", "/manager/incident/1/updates/", `{"status":"identified","text":"A bad deploy."}`, 200,
			`{"id":2,"time":"2031-03-04T09:03:01Z","status":"identified","text":"A bad deploy."}`},
		{"POST", "/manager/incident/1/updates/", `{"status":"identified"}`, 400, `{"error":"text is required"}`},
		{"POST", "/manager/incident/1/updates/", `{"status":"fixed?","text":"x"}`, 400,
			`{"error":"unknown status \"fixed?\" (want investigating, identified, monitoring)"}`},
		{"POST", "/manager/incident/1/updates/", `{"status":"resolved","text":"x"}`, 400,
			`{"error":"status \"resolved\": resolve the incident with POST /manager/incident/<id>/resolve/"}`},
		{"POST", "/manager/incident/", `{"title":"x","status":"Investigating","text":"x"}`, 400,
			`{"error":"unknown status \"Investigating\" (want investigating, identified, monitoring)"}`},
		{"POST", "/manager/incident/99/updates/", `{"text":"x"}`, 404, `{"error":"not found"}`},
		{"POST", "/manager/incident/x/updates/", `{"text":"x"}`, 404, `{"error":"not found"}`},
		{"POST", "/manager/incident/", `{"title":"Slow jobs"}`, 200,
			`{"id":2,"title":"Slow jobs","auto":false,"nodes":[],"opened":"2031-03-04T09:03:01Z","resolved":null,"updates":[]}`},
		{"GET", "/manager/incidents/?open=maybe", "", 400, `{"error":"open: want true or false"}`},
		{"POST", "/manager/incident/99/resolve/", "", 404, `{"error":"not found"}`},
		{"POST", "/manager/incident/1/resolve/", `{"text":`, 400, `{"error":"invalid JSON: unexpected end of JSON input"}`},
		{"POST", "/manager/incident/1/resolve/", `{"text":"Rolled back."}`, 200,
			`{"id":1,"title":"API down","auto":false,"nodes":["web:api"],"opened":"2031-03-04T08:00:00Z","resolved":"2031-03-04T09:03:01Z",` +
				`"updates":[{"id":1,"time":"2031-03-04T09:03:01Z","status":"investigating","text":"Looking into it."},` +
				`{"id":2,"time":"2031-03-04T09:03:01Z","status":"identified","text":"A bad deploy."},` +
				`{"id":3,"time":"2031-03-04T09:03:01Z","status":"resolved","text":"Rolled back."}]}`},
		{"POST", "/manager/incident/1/resolve/", "", 409, `{"error":"already resolved"}`},
		{"GET", "/manager/incidents/?open=true", "", 200,
			`[{"id":2,"title":"Slow jobs","auto":false,"nodes":[],"opened":"2031-03-04T09:03:01Z","resolved":null,"updates":[]}]`},
	})
	all := ts.manager(t, "GET", "/manager/incidents/", "")
	if all.code != 200 || !strings.HasPrefix(all.body, `[{"id":2,`) || !strings.Contains(all.body, `{"id":1,"title":"API down"`) {
		t.Errorf("GET /manager/incidents/ = %d %q, want both, newest first", all.code, all.body)
	}

	page := ts.get(t, "/").body
	section := text(element(t, page, `<section class="incidents"`, "</section>"))
	want := "Recent incidents Slow jobs ongoing Started 4 Mar 2031, 09:03 UTC. " +
		"API down Started 4 Mar 2031, 08:00 UTC, lasted 1 h 3 min. Affected: Web / API. " +
		"4 Mar 2031, 09:03 UTC resolved: Rolled back. 4 Mar 2031, 09:03 UTC identified: A bad deploy. 4 Mar 2031, 09:03 UTC investigating: Looking into it."
	if section != want {
		t.Errorf("incidents section = %q\nwant %q", section, want)
	}
	public := ts.get(t, "/status/incidents")
	if public.code != 200 || public.body != all.body {
		t.Errorf("GET /status/incidents = %d %q, want the manager's list %q", public.code, public.body, all.body)
	}

	// A restarted server keeps them.
	again := newManagerServer(t, st, Options{})
	if res := again.manager(t, "GET", "/manager/incidents/", ""); res.body != all.body {
		t.Errorf("after a restart, incidents = %q, want %q", res.body, all.body)
	}
}

// nodeItem returns the <li> of the node labelled label.
func nodeItem(t *testing.T, page, label string) string {
	t.Helper()
	i := strings.Index(page, ">"+label+"</span>")
	if i < 0 {
		t.Fatalf("no node %q on the page", label)
	}
	start := strings.LastIndex(page[:i], "<li ")
	end := strings.Index(page[i:], "\n          </li>")
	if start < 0 || end < 0 {
		t.Fatalf("node %q: no enclosing <li>", label)
	}
	return page[start : i+end]
}

func renderKey(t *testing.T, page string) string {
	t.Helper()
	m := regexp.MustCompile(`<meta name="vigil-render" content="([^"]*)">`).FindStringSubmatch(page)
	if m == nil {
		t.Fatal("no render key")
	}
	return m[1]
}

// TestMaintenanceFollowsTheClock: a window shows on the page when it starts
// and goes when it ends, with no write in between to refresh anything.
func TestMaintenanceFollowsTheClock(t *testing.T) {
	st := openStore(t)
	if _, err := st.AddMaintenance(t.Context(), store.Window{
		Start: testNow.Add(time.Hour), End: testNow.Add(2 * time.Hour), Targets: []string{"web:api"}, Message: "Kernel upgrade",
	}); err != nil {
		t.Fatal(err)
	}
	var now atomicValue[time.Time]
	now.store(testNow)
	ts := newManagerServer(t, st, Options{Now: now.load})
	for _, tc := range []struct {
		at   time.Duration
		want bool
	}{
		{0, false},
		{90 * time.Minute, true}, // started
		{3 * time.Hour, false},   // ended
	} {
		now.store(testNow.Add(tc.at))
		api := nodeItem(t, ts.get(t, "/").body, "API")
		if got := strings.Contains(api, "node-maintenance") && strings.Contains(api, "Kernel upgrade"); got != tc.want {
			t.Errorf("at +%v: API under maintenance = %v, want %v: %s", tc.at, got, tc.want, api)
		}
	}
}
