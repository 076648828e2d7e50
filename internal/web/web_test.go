package web

import (
	"compress/gzip"
	"context"
	"encoding/json"
	"flag"
	"html"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/vigil-go/vigil/internal/config"
	"github.com/vigil-go/vigil/internal/status"
	"github.com/vigil-go/vigil/internal/testkit"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

// testNow is the clock of every test server.
var testNow = time.Date(2031, time.March, 4, 9, 3, 1, 0, time.UTC)

// sampleServices is a page with every kind of node, checked around testNow.
// Its replicas are healthy except the second API one, whose health is given.
func sampleServices(apiSecond status.Health) []status.Service {
	return sampleServicesAt(testNow, apiSecond)
}

func sampleServicesAt(now time.Time, apiSecond status.Health) []status.Service {
	reason := ""
	if apiSecond != status.Healthy {
		reason = "GET http://10.0.0.2/health: status 503, want 200–399"
	}
	return []status.Service{
		{
			ID: "web", Label: "Web",
			Nodes: []status.Node{
				{
					ID: "api", Label: "API", Mode: status.Poll, RevealReplicaName: true,
					LinkURL: "https://docs.acme.test/api", LinkLabel: "API docs",
					Replicas: []status.Replica{
						{ID: "http://10.0.0.1/health", Health: status.Healthy, Latency: 12 * time.Millisecond, HasLatency: true,
							Reason: "stale reason of a healthy replica", Checked: now.Add(-30 * time.Second)},
						{ID: "http://10.0.0.2/health", Health: apiSecond, Latency: 0, HasLatency: true, Reason: reason,
							Checked: now.Add(-30 * time.Second)},
					},
				},
				{
					ID: "workers", Label: "Workers", Mode: status.Push,
					Replicas: []status.Replica{
						{ID: "10.0.1.5", Health: status.Healthy, Load: &status.Load{CPU: 0.424, RAM: 0.8},
							Queue: &status.Queue{Ready: 3, Unacked: 1}, Checked: now.Add(-12 * time.Second)},
					},
				},
				{ID: "spare", Label: "Spare workers", Mode: status.Push},
			},
		},
		{
			ID: "jobs", Label: "Jobs",
			Nodes: []status.Node{
				{
					ID: "cron", Label: "Cron", Mode: status.Script,
					Replicas: []status.Replica{{ID: "script:0", Health: status.Healthy}},
				},
				{
					ID: "agent", Label: "Agent", Mode: status.Local, LinkURL: "https://agent.acme.test/",
					Replicas: []status.Replica{{ID: "host-7", Health: status.Healthy, Checked: now.Add(-26 * time.Hour)}},
				},
			},
		},
	}
}

// healthServices is one poll node whose only replica has health h.
func healthServices(h status.Health) []status.Service {
	r := status.Replica{ID: "tcp://db:5432", Health: h}
	if h != status.Healthy {
		r.Reason = "dial tcp db:5432: connection refused"
	}
	return []status.Service{{ID: "db", Label: "Database", Nodes: []status.Node{
		{ID: "main", Label: "Main", Mode: status.Poll, Replicas: []status.Replica{r}},
	}}}
}

func testConfig(tb testing.TB) *config.Config {
	tb.Helper()
	return &config.Config{
		Assets: config.Assets{Path: filepath.Join(tb.TempDir(), "missing")},
		Branding: config.Branding{
			PageTitle:   "Acme Status",
			PageURL:     "https://status.acme.test",
			CompanyName: "Acme",
			IconColor:   "#112233",
			IconURL:     "https://cdn.acme.test/icon.svg",
			LogoColor:   "#1972F5",
			LogoURL:     "https://cdn.acme.test/logo.png",
			WebsiteURL:  "https://acme.test/",
			SupportURL:  "https://acme.test/support",
			CustomHTML:  `<meta name="custom-marker" content="raw"><script>window.CUSTOM = 1;</script>`,
		},
	}
}

type testServer struct {
	*httptest.Server
	src  *testkit.Source
	logs *testkit.LogBuffer
	site *Server
}

// newTestServer starts a real HTTP server for o, filling in a source holding
// sampleServices, the test config, a log buffer and the test clock.
func newTestServer(t *testing.T, o Options) *testServer {
	t.Helper()
	ts := &testServer{src: &testkit.Source{}, logs: &testkit.LogBuffer{}}
	if o.Source == nil {
		ts.src.Set(sampleServices(status.Dead), testNow)
		o.Source = ts.src
	}
	if o.Config == nil {
		o.Config = testConfig(t)
	}
	o.Logger = slog.New(slog.NewTextHandler(ts.logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	if o.Now == nil {
		o.Now = func() time.Time { return testNow }
	}
	if o.Version == "" {
		o.Version = "1.2.3"
	}
	s, err := New(context.Background(), o)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	ts.site = s
	ts.Server = httptest.NewServer(s)
	t.Cleanup(ts.Close)
	return ts
}

// response is what a request got.
type response struct {
	code   int
	header http.Header
	body   string
}

// client never adds Accept-Encoding or decompresses: the tests see the bytes.
var client = &http.Client{Transport: &http.Transport{DisableCompression: true}}

// do sends a request with the given headers (name, value, name, value, …).
func (ts *testServer) do(t *testing.T, method, path string, headers ...string) response {
	t.Helper()
	req, err := http.NewRequest(method, ts.URL+path, nil)
	if err != nil {
		t.Fatalf("NewRequest(%s %s): %v", method, path, err)
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	res, err := client.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer res.Body.Close()
	body, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatalf("%s %s: read body: %v", method, path, err)
	}
	return response{code: res.StatusCode, header: res.Header, body: string(body)}
}

func (ts *testServer) get(t *testing.T, path string, headers ...string) response {
	t.Helper()
	return ts.do(t, http.MethodGet, path, headers...)
}

// wantHeaders checks exact header values; "" means the header must be absent.
func wantHeaders(t *testing.T, what string, h http.Header, want map[string]string) {
	t.Helper()
	for name, w := range want {
		if got := h.Get(name); got != w {
			t.Errorf("%s: header %s = %q, want %q", what, name, got, w)
		}
	}
}

var (
	tagRE   = regexp.MustCompile(`<[^>]*>`)
	spaceRE = regexp.MustCompile(`\s+`)
)

// text is the visible text of an HTML fragment, whitespace collapsed.
func text(fragment string) string {
	return strings.TrimSpace(spaceRE.ReplaceAllString(html.UnescapeString(tagRE.ReplaceAllString(fragment, "")), " "))
}

// element returns the first element of HTML with the given opening tag
// prefix (e.g. `<aside`), up to its closing tag; nested elements of the
// same name are not supported.
func element(t *testing.T, body, open, closeTag string) string {
	t.Helper()
	i := strings.Index(body, open)
	if i < 0 {
		t.Fatalf("no %s… element in the page", open)
	}
	j := strings.Index(body[i:], closeTag)
	if j < 0 {
		t.Fatalf("%s… element is not closed", open)
	}
	return body[i : i+j+len(closeTag)]
}

func TestStatusText(t *testing.T) {
	for _, h := range []status.Health{status.Healthy, status.Sick, status.Dead} {
		t.Run(h.String(), func(t *testing.T) {
			ts := newTestServer(t, Options{})
			ts.src.Set(healthServices(h), testNow)
			res := ts.get(t, "/status/text")
			if res.code != http.StatusOK || res.body != h.String() {
				t.Errorf("GET /status/text = %d %q, want 200 %q", res.code, res.body, h.String())
			}
			wantHeaders(t, "GET /status/text", res.header, map[string]string{
				"Content-Type":  "text/plain; charset=utf-8",
				"Cache-Control": "no-cache",
			})
		})
	}
}

func TestStatusReport(t *testing.T) {
	ts := newTestServer(t, Options{})
	res := ts.get(t, "/status/report")
	if res.code != http.StatusOK {
		t.Fatalf("GET /status/report = %d, want 200", res.code)
	}
	wantHeaders(t, "GET /status/report", res.header, map[string]string{
		"Content-Type":     "application/json",
		"Cache-Control":    "no-cache",
		"Vary":             "Accept-Encoding",
		"Content-Encoding": "",
	})
	if etag := res.header.Get("ETag"); !strings.HasPrefix(etag, `"`) || !strings.HasSuffix(etag, `"`) || len(etag) < 10 {
		t.Errorf("GET /status/report: ETag = %q, want a strong tag", etag)
	}

	golden := filepath.Join("testdata", "report.golden.json")
	if *update {
		if err := os.WriteFile(golden, []byte(res.body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatalf("read golden file (run with -update to create it): %v", err)
	}
	if res.body != string(want) {
		t.Errorf("GET /status/report body:\n%s\nwant:\n%s", res.body, want)
	}

	// The same, field by field, so a wrong golden file cannot hide a wrong shape.
	var got struct {
		Health string `json:"health"`
		Page   struct{ Name, URL string }
		Probes []struct {
			Name   string `json:"name"`
			Status string `json:"status"`
			Nodes  []struct {
				Name     string   `json:"name"`
				Status   string   `json:"status"`
				Replicas []string `json:"replicas"`
				Reasons  []string `json:"reasons"`
			} `json:"nodes"`
		} `json:"probes"`
	}
	if err := json.Unmarshal([]byte(res.body), &got); err != nil {
		t.Fatalf("decode report: %v", err)
	}
	if got.Health != "dead" || got.Page.Name != "Acme Status" || got.Page.URL != "https://status.acme.test/" {
		t.Errorf("report head = %q %q %q, want dead, Acme Status, https://status.acme.test/", got.Health, got.Page.Name, got.Page.URL)
	}
	if len(got.Probes) != 2 || got.Probes[0].Name != "Web" || got.Probes[0].Status != "dead" || got.Probes[1].Status != "healthy" {
		t.Fatalf("report probes = %+v, want Web (dead) and Jobs (healthy)", got.Probes)
	}
	api := got.Probes[0].Nodes[0]
	if api.Name != "API" || api.Status != "dead" ||
		strings.Join(api.Replicas, ",") != "healthy,dead" ||
		len(api.Reasons) != 2 || api.Reasons[0] != "" || api.Reasons[1] != "GET http://10.0.0.2/health: status 503, want 200–399" {
		t.Errorf("report node API = %+v, want replicas [healthy dead] with the 503 reason second", api)
	}
	spare := got.Probes[0].Nodes[2]
	if spare.Replicas == nil || len(spare.Replicas) != 0 || spare.Reasons == nil || len(spare.Reasons) != 0 {
		t.Errorf("report node without replicas = %+v, want empty arrays", spare)
	}
	if !strings.Contains(res.body, `"replicas":[]`) || strings.Contains(res.body, "null") {
		t.Errorf("report body %s: want [] for empty lists, never null", res.body)
	}
}

func TestPathNormalisation(t *testing.T) {
	ts := newTestServer(t, Options{})
	for _, tc := range []struct {
		path     string
		code     int
		contains string
	}{
		{"/status/text", 200, "dead"},
		{"/status/text/", 200, "dead"},
		{"//status//text", 200, "dead"},
		{"/status//text//", 200, "dead"},
		{"///status/text///", 200, "dead"},
		{"/status/report/", 200, `"health":"dead"`},
		{"/badge/icon/", 200, "<svg"},
		{"/", 200, "<!DOCTYPE html>"},
		{"//", 200, "<!DOCTYPE html>"},
		{"/robots.txt/", 200, "User-agent"},
		{"/status/./text", 404, ""},
		{"/status/../status/text", 404, ""},
		{"/status/%2e%2e/status/text", 404, ""},
		{"/status/text/.", 404, ""},
	} {
		res := ts.get(t, tc.path)
		if res.code != tc.code || !strings.Contains(res.body, tc.contains) || (tc.code == 404 && res.body != "") {
			t.Errorf("GET %s = %d %.60q, want %d containing %q", tc.path, res.code, res.body, tc.code, tc.contains)
		}
	}
}

func TestNotFoundIsEmpty(t *testing.T) {
	ts := newTestServer(t, Options{})
	for _, tc := range []struct{ method, path string }{
		{"POST", "/status/text"},
		{"PUT", "/status/report"},
		{"DELETE", "/badge/color"},
		{"POST", "/"},
		{"PATCH", "/robots.txt"},
		{"OPTIONS", "/assets/stylesheets/common.css"},
		{"GET", "/nope"},
		{"GET", "/status"},
		{"GET", "/status/text/extra"},
		{"GET", "/badge"},
		{"GET", "/badge/wrong"},
		{"GET", "/badge/color/extra"},
		{"GET", "/index.html"},
		{"GET", "/reporter/web/api"},
		{"GET", "/manager/announcements"},
	} {
		res := ts.do(t, tc.method, tc.path)
		if res.code != http.StatusNotFound || res.body != "" {
			t.Errorf("%s %s = %d %q, want 404 with an empty body", tc.method, tc.path, res.code, res.body)
		}
		if allow := res.header.Get("Allow"); allow != "" {
			t.Errorf("%s %s: Allow = %q, want none (no 405 semantics)", tc.method, tc.path, allow)
		}
	}
}

// HEAD is answered on GET routes: a deliberate difference from Vigil.
func TestHead(t *testing.T) {
	ts := newTestServer(t, Options{})
	for _, path := range []string{"/", "/status/text", "/status/report", "/badge/color", "/robots.txt", "/assets/stylesheets/common.css"} {
		get := ts.get(t, path)
		head := ts.do(t, http.MethodHead, path)
		if head.code != http.StatusOK || head.body != "" {
			t.Errorf("HEAD %s = %d %q, want 200 and no body", path, head.code, head.body)
		}
		if got, want := head.header.Get("Content-Type"), get.header.Get("Content-Type"); got != want {
			t.Errorf("HEAD %s: Content-Type = %q, want %q as GET", path, got, want)
		}
		if cl := head.header.Get("Content-Length"); cl != "" && cl != itoa(len(get.body)) {
			t.Errorf("HEAD %s: Content-Length = %s, want %d", path, cl, len(get.body))
		}
	}
}

func itoa(n int) string { return strconv.Itoa(n) }

// revalidation checks the ETag cycle of a cached route across a state change.
func TestRevalidation(t *testing.T) {
	for _, path := range []string{"/", "/status/report"} {
		t.Run(path, func(t *testing.T) {
			ts := newTestServer(t, Options{})
			first := ts.get(t, path)
			etag := first.header.Get("ETag")
			if first.code != 200 || etag == "" || strings.HasPrefix(etag, "W/") {
				t.Fatalf("GET %s = %d ETag %q, want 200 with a strong ETag", path, first.code, etag)
			}
			again := ts.get(t, path)
			if again.header.Get("ETag") != etag || again.body != first.body {
				t.Errorf("GET %s twice: ETag %q then %q, want the same tag and body", path, etag, again.header.Get("ETag"))
			}
			for _, inm := range []string{etag, "W/" + etag, `"other", ` + etag, "*"} {
				res := ts.get(t, path, "If-None-Match", inm)
				if res.code != http.StatusNotModified || res.body != "" {
					t.Errorf("GET %s If-None-Match %s = %d %q, want 304 and no body", path, inm, res.code, res.body)
				}
				wantHeaders(t, "304", res.header, map[string]string{"ETag": etag, "Cache-Control": "no-cache", "Vary": "Accept-Encoding"})
			}

			ts.src.Set(sampleServices(status.Sick), testNow.Add(10*time.Second))
			res := ts.get(t, path, "If-None-Match", etag)
			if res.code != http.StatusOK {
				t.Fatalf("GET %s If-None-Match (old tag) after a change = %d, want 200", path, res.code)
			}
			if res.header.Get("ETag") == etag || res.body == first.body {
				t.Errorf("GET %s after a change: same ETag %q or body, want new ones", path, etag)
			}
			if !strings.Contains(res.body, "sick") {
				t.Errorf("GET %s after a change: body does not mention the sick replica", path)
			}
		})
	}
}

func TestReportKeepsETagWhenUnchanged(t *testing.T) {
	ts := newTestServer(t, Options{})
	first := ts.get(t, "/status/report")
	// A new version whose report is identical (only the refresh time moved).
	ts.src.Set(sampleServices(status.Dead), testNow.Add(10*time.Second))
	res := ts.get(t, "/status/report", "If-None-Match", first.header.Get("ETag"))
	if res.code != http.StatusNotModified {
		t.Errorf("GET /status/report after an unchanged state = %d, want 304", res.code)
	}
}

func TestGzip(t *testing.T) {
	ts := newTestServer(t, Options{})
	for _, path := range []string{"/", "/status/report"} {
		plain := ts.get(t, path)
		for _, tc := range []struct {
			accept string
			gzip   bool
		}{
			{"gzip", true},
			{"gzip, deflate, br", true},
			{"br;q=1.0, gzip;q=0.5", true},
			{"*", true},
			{"GZIP", true},
			{"", false},
			{"identity", false},
			{"br", false},
			{"gzip;q=0", false},
			{"*, gzip;q=0", false},
		} {
			res := ts.get(t, path, "Accept-Encoding", tc.accept)
			if res.header.Get("Vary") != "Accept-Encoding" {
				t.Errorf("GET %s Accept-Encoding %q: Vary = %q, want Accept-Encoding", path, tc.accept, res.header.Get("Vary"))
			}
			if !tc.gzip {
				if res.header.Get("Content-Encoding") != "" || res.body != plain.body || res.header.Get("ETag") != plain.header.Get("ETag") {
					t.Errorf("GET %s Accept-Encoding %q: got encoding %q, want the plain body", path, tc.accept, res.header.Get("Content-Encoding"))
				}
				continue
			}
			if res.header.Get("Content-Encoding") != "gzip" {
				t.Fatalf("GET %s Accept-Encoding %q: Content-Encoding = %q, want gzip", path, tc.accept, res.header.Get("Content-Encoding"))
			}
			etag := res.header.Get("ETag")
			if etag == plain.header.Get("ETag") || !strings.HasSuffix(etag, `-gzip"`) {
				t.Errorf("GET %s gzip: ETag = %q, want a tag of its own", path, etag)
			}
			if cl := res.header.Get("Content-Length"); cl != itoa(len(res.body)) {
				t.Errorf("GET %s gzip: Content-Length = %s, want %d", path, cl, len(res.body))
			}
			zr, err := gzip.NewReader(strings.NewReader(res.body))
			if err != nil {
				t.Fatalf("GET %s gzip: %v", path, err)
			}
			unzipped, err := io.ReadAll(zr)
			if err != nil {
				t.Fatalf("GET %s gzip: %v", path, err)
			}
			if string(unzipped) != plain.body {
				t.Errorf("GET %s gzip: decompressed body differs from the plain one", path)
			}
			// Either representation's tag revalidates.
			for _, inm := range []string{etag, plain.header.Get("ETag")} {
				if res := ts.get(t, path, "Accept-Encoding", tc.accept, "If-None-Match", inm); res.code != http.StatusNotModified || res.header.Get("ETag") != etag {
					t.Errorf("GET %s gzip If-None-Match %s = %d ETag %s, want 304 with %s", path, inm, res.code, res.header.Get("ETag"), etag)
				}
			}
		}
	}
}

// TestRenderOncePerVersion: a burst of requests after a change renders the
// page once. The request that renders gets the new page; the others get the
// new page or, while it renders, the previous one, never anything else.
func TestRenderOncePerVersion(t *testing.T) {
	ts := newTestServer(t, Options{})
	previous := ""
	for round := 1; round <= 2; round++ {
		ts.src.Set(sampleServices(status.Sick), testNow.Add(time.Duration(round)*time.Minute))
		before := ts.logs.Count("status page rendered")
		var wg sync.WaitGroup
		bodies := make([]string, 16)
		for i := range bodies {
			wg.Go(func() {
				req, _ := http.NewRequest(http.MethodGet, ts.URL+"/", nil)
				res, err := client.Do(req)
				if err != nil {
					t.Error(err)
					return
				}
				defer res.Body.Close()
				b, _ := io.ReadAll(res.Body)
				bodies[i] = string(b)
			})
		}
		wg.Wait()
		if got := ts.logs.Count("status page rendered") - before; got != 1 {
			t.Errorf("round %d: 16 concurrent requests rendered the page %d times, want 1", round, got)
		}
		current := ts.get(t, "/").body
		if current == previous {
			t.Fatalf("round %d: the page did not change with the state", round)
		}
		fresh := 0
		for i, b := range bodies {
			switch b {
			case current:
				fresh++
			case previous:
				if round == 1 {
					t.Errorf("round 1: response %d is empty, want the first page", i)
				}
			default:
				t.Errorf("round %d: response %d is neither the new page nor the previous one", round, i)
			}
		}
		if fresh == 0 {
			t.Errorf("round %d: no response carried the new page, want at least the one that rendered it", round)
		}
		previous = current
	}
}

func TestBadges(t *testing.T) {
	colours := map[status.Health]string{status.Healthy: "#0EB033", status.Sick: "#F18000", status.Dead: "#E10000"}
	ts := newTestServer(t, Options{})
	for _, h := range []status.Health{status.Healthy, status.Sick, status.Dead} {
		ts.src.Set(healthServices(h), testNow)
		for _, kind := range []string{"color", "icon"} {
			path := "/badge/" + kind
			res := ts.get(t, path)
			if res.code != http.StatusOK {
				t.Fatalf("GET %s (%s) = %d, want 200", path, h, res.code)
			}
			want, err := embedded.ReadFile("assets/images/badges/" + kind + "-" + h.String() + "-default.svg")
			if err != nil {
				t.Fatal(err)
			}
			if res.body != string(want) || !strings.Contains(res.body, colours[h]) {
				t.Errorf("GET %s (%s) = %q, want the %s badge file", path, h, res.body, h)
			}
			if !strings.Contains(res.body, `width="20" height="20"`) {
				t.Errorf("GET %s (%s): badge is not 20×20: %s", path, h, res.body)
			}
			wantHeaders(t, "GET "+path, res.header, map[string]string{
				"Content-Type":        "image/svg+xml",
				"Cache-Control":       "no-cache",
				"Last-Modified":       "",
				"Content-Disposition": "",
			})
			etag := res.header.Get("ETag")
			if etag == "" {
				t.Errorf("GET %s: no ETag", path)
			}
			if res := ts.get(t, path, "If-None-Match", etag); res.code != http.StatusNotModified {
				t.Errorf("GET %s If-None-Match = %d, want 304", path, res.code)
			}
		}
	}
	if rect := ts.get(t, "/badge/color").body; strings.Contains(rect, "rx=") {
		t.Errorf("color badge %s: want a plain square", rect)
	}
	if icon := ts.get(t, "/badge/icon").body; !strings.Contains(icon, "rx=") || !strings.Contains(icon, "<path") {
		t.Errorf("icon badge %s: want a rounded square with a glyph", icon)
	}
}

func TestStaticFiles(t *testing.T) {
	ts := newTestServer(t, Options{})
	page := ts.get(t, "/").body
	m := regexp.MustCompile(`common\.css\?v=([^"&]+)`).FindStringSubmatch(page)
	if m == nil {
		t.Fatal("the page links no versioned common.css")
	}
	v := m[1]
	if v != "1.2.3" {
		t.Errorf("embedded theme ?v= = %q, want the binary version 1.2.3", v)
	}
	for _, tc := range []struct {
		path, contentType, cache, contains string
	}{
		{"/assets/stylesheets/common.css", "text/css; charset=utf-8", cacheUnversioned, "--color-healthy: #0EB033"},
		{"/assets/stylesheets/common.css?v=" + v, "text/css; charset=utf-8", cacheVersioned, "--color-dead: #E10000"},
		{"/assets/stylesheets/index.css?v=" + v, "text/css; charset=utf-8", cacheVersioned, "max-width: 1020px"},
		{"/assets/stylesheets/index.css?v=old", "text/css; charset=utf-8", cacheUnversioned, "max-width: 480px"},
		{"/assets/javascripts/index.js?v=" + v, "text/javascript; charset=utf-8", cacheVersioned, "AbortController"},
		{"/assets/images/icons/icon-sick-large.svg", "image/svg+xml", cacheUnversioned, `width="42"`},
		{"/assets/images/badges/color-dead-default.svg", "image/svg+xml", cacheUnversioned, "#E10000"},
		{"/robots.txt", "text/plain; charset=utf-8", cacheUnversioned, "User-agent: *\nAllow: /\n"},
	} {
		res := ts.get(t, tc.path)
		if res.code != http.StatusOK || !strings.Contains(res.body, tc.contains) {
			t.Errorf("GET %s = %d, body lacks %q", tc.path, res.code, tc.contains)
			continue
		}
		wantHeaders(t, "GET "+tc.path, res.header, map[string]string{
			"Content-Type":  tc.contentType,
			"Cache-Control": tc.cache,
			"Last-Modified": "",
		})
		etag := res.header.Get("ETag")
		if etag == "" {
			t.Errorf("GET %s: no ETag", tc.path)
		}
		if res := ts.get(t, tc.path, "If-None-Match", etag); res.code != http.StatusNotModified || res.body != "" {
			t.Errorf("GET %s If-None-Match = %d, want 304", tc.path, res.code)
		}
		if res := ts.get(t, tc.path, "Range", "bytes=0-4"); res.code != http.StatusPartialContent || len(res.body) != 5 {
			t.Errorf("GET %s Range 0-4 = %d %q, want 206 with 5 bytes", tc.path, res.code, res.body)
		}
	}
	if got := ts.get(t, "/robots.txt").body; got != "User-agent: *\nAllow: /\n" {
		t.Errorf("GET /robots.txt = %q, want everything allowed", got)
	}
	for _, path := range []string{
		"/assets/stylesheets/nope.css",
		"/assets/javascripts/nope.js",
		"/assets/fonts/open_sans/open_sans_regular.woff2",
		"/assets/images/nope/nope.png",
	} {
		if res := ts.get(t, path); res.code != http.StatusNotFound || res.body != "" {
			t.Errorf("GET %s = %d %q, want 404 with an empty body", path, res.code, res.body)
		}
	}
}

func TestNoTraversalOrListing(t *testing.T) {
	dir := t.TempDir()
	theme := filepath.Join(dir, "theme")
	writeFiles(t, theme, map[string]string{
		"templates/index.html":     `<!DOCTYPE html><main>TEMPLATE-SOURCE {{.Status}}</main>`,
		"stylesheets/.hidden.css":  "HIDDEN",
		"images/badges/.secret":    "HIDDEN",
		"images/custom/ok.png":     "PNG",
		"stylesheets/extra.css":    "body{}",
		"templates/partial.html":   `{{define "x"}}TEMPLATE-SOURCE{{end}}`,
		"public/robots.txt":        "User-agent: *\nDisallow: /\n",
		"javascripts/sub/inner.js": "INNER",
	})
	if err := os.WriteFile(filepath.Join(dir, "secret.txt"), []byte("OUTSIDE"), 0o644); err != nil {
		t.Fatal(err)
	}
	for name, cfgPath := range map[string]string{"embedded": filepath.Join(dir, "missing"), "custom": theme} {
		t.Run(name, func(t *testing.T) {
			cfg := testConfig(t)
			cfg.Assets.Path = cfgPath
			ts := newTestServer(t, Options{Config: cfg})
			for _, path := range []string{
				"/assets/stylesheets/../templates/index.html",
				"/assets/stylesheets/..%2Ftemplates%2Findex.html",
				"/assets/stylesheets/%2e%2e%2ftemplates%2findex.html",
				"/assets/stylesheets/%2E%2E/templates/index.html",
				"/assets/images/..%2F..%2Ftemplates/index.html",
				"/assets/images/%2e%2e/%2e%2e",
				"/assets/images/custom/..%2F..%2F..%2Fsecret.txt",
				"/assets/stylesheets/..%2F..%2Fsecret.txt",
				"/assets/images/badges/..%5C..%5Csecret.txt",
				"/assets/images/badges/x%00.svg",
				"/assets/templates/index.html",
				"/assets/templates/partial.html",
				"/templates/index.html",
				"/assets/stylesheets/.hidden.css",
				"/assets/images/badges/.secret",
				"/assets/javascripts/sub%2Finner.js",
				"/assets/javascripts/sub/inner.js",
				"/assets/images/badges",
				"/assets/images",
				"/assets/stylesheets/",
				"/assets/images/badges/",
				"/assets",
				"/assets/",
			} {
				res := ts.get(t, path)
				if res.code != http.StatusNotFound || res.body != "" {
					t.Errorf("GET %s = %d %.80q, want 404 with an empty body", path, res.code, res.body)
				}
			}
		})
	}
}

// writeFiles creates files (slash-separated names) under dir.
func writeFiles(t *testing.T, dir string, files map[string]string) {
	t.Helper()
	for name, content := range files {
		p := filepath.Join(dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

func TestCustomTheme(t *testing.T) {
	theme := t.TempDir()
	writeFiles(t, theme, map[string]string{
		"templates/index.html": `<!DOCTYPE html><html><head><title>{{.Branding.PageTitle}}</title>` +
			`<link rel="stylesheet" href="/assets/stylesheets/common.css?v={{.AssetVersion}}"></head>` +
			`<body><aside data-status="{{.Status}}"></aside><main>custom theme {{.Status}}:` +
			`{{range .Services}} {{.Label}}{{end}}</main>{{template "footer" .}}</body></html>`,
		"templates/footer.html":                   `{{define "footer"}}<footer>custom footer {{.Year}}</footer>{{end}}`,
		"templates/index.tera":                    `{{ not go }}`,
		"stylesheets/common.css":                  "body { color: rebeccapurple; }",
		"fonts/open_sans/open_sans_regular.woff2": "wOF2-font-bytes",
		"images/badges/icon-dead-default.svg":     `<svg xmlns="http://www.w3.org/2000/svg" width="20" height="20">custom</svg>`,
	})
	cfg := testConfig(t)
	cfg.Assets.Path = theme
	ts := newTestServer(t, Options{Config: cfg})

	page := ts.get(t, "/")
	if page.code != 200 || !strings.Contains(page.body, "custom theme dead: Web Jobs") || !strings.Contains(page.body, "custom footer 2031") {
		t.Errorf("GET / with a custom theme = %d %q, want the custom template", page.code, page.body)
	}
	m := regexp.MustCompile(`common\.css\?v=([^"&]+)`).FindStringSubmatch(page.body)
	if m == nil || !strings.HasPrefix(m[1], "1.2.3-") {
		t.Errorf("custom theme ?v= = %v, want the binary version plus a theme stamp", m)
	}
	for _, tc := range []struct{ path, contentType, contains string }{
		{"/assets/stylesheets/common.css", "text/css; charset=utf-8", "rebeccapurple"},
		{"/assets/stylesheets/index.css", "text/css; charset=utf-8", "max-width: 1020px"}, // from the embedded theme
		{"/assets/fonts/open_sans/open_sans_regular.woff2", "font/woff2", "wOF2-font-bytes"},
		{"/badge/icon", "image/svg+xml", "custom"},
		{"/robots.txt", "text/plain; charset=utf-8", "Allow: /"}, // from the embedded theme
	} {
		res := ts.get(t, tc.path)
		if res.code != 200 || res.header.Get("Content-Type") != tc.contentType || !strings.Contains(res.body, tc.contains) {
			t.Errorf("GET %s = %d %q %q, want %s containing %q", tc.path, res.code, res.header.Get("Content-Type"), res.body, tc.contentType, tc.contains)
		}
	}
	if lm := ts.get(t, "/assets/stylesheets/common.css").header.Get("Last-Modified"); lm == "" {
		t.Error("a custom theme's file has no Last-Modified")
	}
	if lm := ts.get(t, "/badge/icon").header.Get("Last-Modified"); lm != "" {
		t.Errorf("custom badge: Last-Modified = %q, want none", lm)
	}
	if n := ts.logs.Count("level=INFO", "serving the custom theme", "path="+theme); n != 1 {
		t.Errorf("log lines announcing the custom theme = %d, want 1; logs:\n%s", n, ts.logs)
	}
}

func TestEmbeddedThemeFallback(t *testing.T) {
	tera := t.TempDir()
	writeFiles(t, tera, map[string]string{
		"templates/index.tera":   "{{ states.status }}",
		"stylesheets/common.css": "TERA THEME CSS",
	})
	empty := t.TempDir()
	file := filepath.Join(t.TempDir(), "file")
	writeFiles(t, filepath.Dir(file), map[string]string{"file": "x"})
	for _, tc := range []struct {
		name, path, level, why string
	}{
		{"missing", filepath.Join(t.TempDir(), "res", "assets"), "INFO", "does not exist"},
		{"unset", "", "INFO", "no assets path configured"},
		{"tera", tera, "WARN", "templates/index.tera"},
		{"empty", empty, "INFO", "no templates/index.html"},
		{"file", file, "WARN", "not a directory"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := testConfig(t)
			cfg.Assets.Path = tc.path
			ts := newTestServer(t, Options{Config: cfg})
			page := ts.get(t, "/")
			if page.code != 200 || !strings.Contains(page.body, "Partial service outage ongoing") {
				t.Errorf("GET / = %d, want the embedded page", page.code)
			}
			if css := ts.get(t, "/assets/stylesheets/common.css").body; strings.Contains(css, "TERA") {
				t.Error("common.css came from the unused assets directory, want the embedded one")
			}
			if n := ts.logs.Count("serving the embedded theme"); n != 1 {
				t.Errorf("log lines about the theme = %d, want 1; logs:\n%s", n, ts.logs)
			}
			if n := ts.logs.Count("level="+tc.level, "serving the embedded theme", tc.why); n != 1 {
				t.Errorf("want one %s line saying %q; logs:\n%s", tc.level, tc.why, ts.logs)
			}
		})
	}
}

func TestBrokenCustomTemplate(t *testing.T) {
	theme := t.TempDir()
	writeFiles(t, theme, map[string]string{"templates/index.html": `{{if}}`})
	cfg := testConfig(t)
	cfg.Assets.Path = theme
	_, err := New(context.Background(), Options{Config: cfg, Source: &testkit.Source{}})
	if err == nil || !strings.Contains(err.Error(), theme) {
		t.Errorf("New with an unparsable template: err = %v, want an error naming %s", err, theme)
	}
}

func TestTemplateExecutionError(t *testing.T) {
	theme := t.TempDir()
	writeFiles(t, theme, map[string]string{"templates/index.html": `<p>{{.Status}}</p>{{template "missing" .}}`})
	cfg := testConfig(t)
	cfg.Assets.Path = theme
	ts := newTestServer(t, Options{Config: cfg})
	for range 3 {
		res := ts.get(t, "/")
		if res.code != http.StatusInternalServerError || !strings.Contains(res.body, `no such template "missing"`) {
			t.Errorf("GET / with a failing template = %d %q, want 500 with the error text", res.code, res.body)
		}
		wantHeaders(t, "GET / (500)", res.header, map[string]string{"Content-Type": "text/plain; charset=utf-8", "ETag": ""})
	}
	if n := ts.logs.Count("level=ERROR", "render status page"); n != 1 {
		t.Errorf("render error logged %d times for one state, want 1; logs:\n%s", n, ts.logs)
	}
	// The other routes do not depend on the template.
	if res := ts.get(t, "/status/text"); res.code != 200 {
		t.Errorf("GET /status/text = %d, want 200", res.code)
	}
}

// panicSource is a monitor with a bug.
type panicSource struct{}

func (panicSource) Snapshot() *status.Snapshot { panic("snapshot exploded") }

func TestPanicRecovered(t *testing.T) {
	ts := newTestServer(t, Options{Source: panicSource{}})
	for _, path := range []string{"/status/text", "/", "/badge/color"} {
		res := ts.get(t, path)
		if res.code != http.StatusInternalServerError || res.body != "internal server error" || strings.Contains(res.body, "exploded") {
			t.Errorf("GET %s with a panicking source = %d %q, want 500 without details", path, res.code, res.body)
		}
	}
	if n := ts.logs.Count("level=ERROR", "panic serving request", "snapshot exploded", "stack="); n != 3 {
		t.Errorf("panics logged with a stack %d times, want 3; logs:\n%s", n, ts.logs)
	}
	if res := ts.get(t, "/robots.txt"); res.code != 200 {
		t.Errorf("GET /robots.txt after panics = %d, want 200", res.code)
	}
}

func TestNewChecksOptions(t *testing.T) {
	if _, err := New(context.Background(), Options{Source: &testkit.Source{}}); err == nil {
		t.Error("New without a config succeeded, want an error")
	}
	if _, err := New(context.Background(), Options{Config: testConfig(t)}); err == nil {
		t.Error("New without a source succeeded, want an error")
	}
}

func TestAcceptsGzip(t *testing.T) {
	for _, tc := range []struct {
		in   []string
		want bool
	}{
		{nil, false},
		{[]string{"gzip"}, true},
		{[]string{"deflate", "gzip"}, true},
		{[]string{"gzip; q=0.001"}, true},
		{[]string{"gzip;q=0.0"}, false},
		{[]string{"x-gzip"}, false},
		{[]string{"*;q=0"}, false},
		{[]string{"*;q=0.1"}, true},
		{[]string{"gzip;q=0, *"}, false},
	} {
		if got := acceptsGzip(tc.in); got != tc.want {
			t.Errorf("acceptsGzip(%q) = %v, want %v", tc.in, got, tc.want)
		}
	}
}

func TestCleanPath(t *testing.T) {
	for _, tc := range []struct {
		in, want string
		ok       bool
	}{
		{"/", "/", true},
		{"", "/", true},
		{"//", "/", true},
		{"/a/", "/a", true},
		{"//a//b//", "/a/b", true},
		{"/a%2Fb/c/", "/a%2Fb/c", true},
		{"/a/./b", "", false},
		{"/a/%2E%2e", "", false},
		{"/a/%zz", "", false},
		{"/a/...", "/a/...", true},
	} {
		got, ok := cleanPath(tc.in)
		if got != tc.want || ok != tc.ok {
			t.Errorf("cleanPath(%q) = %q, %v, want %q, %v", tc.in, got, ok, tc.want, tc.ok)
		}
	}
}

func TestContentType(t *testing.T) {
	for _, tc := range []struct{ name, want string }{
		{"a.css", "text/css; charset=utf-8"},
		{"a.JS", "text/javascript; charset=utf-8"},
		{"a.svg", "image/svg+xml"},
		{"a.woff2", "font/woff2"},
		{"a.woff", "font/woff"},
		{"a.ttf", "font/ttf"},
		{"a.jpeg", "image/jpeg"},
		{"a.ico", "image/x-icon"},
		{"a", "application/octet-stream"},
		{"a.unknown-ext", "application/octet-stream"},
	} {
		if got := contentType(tc.name); got != tc.want {
			t.Errorf("contentType(%q) = %q, want %q", tc.name, got, tc.want)
		}
	}
}

// TestPathPrefix: with server.path_prefix, every route is served under the
// prefix only, the prefix alone redirects to prefix/ (where the page's
// relative links resolve), and the page links nothing by absolute path.
func TestPathPrefix(t *testing.T) {
	cfg := testConfig(t)
	cfg.Server.PathPrefix = "/status"
	ts := newTestServer(t, Options{Config: cfg})
	noRedirect := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	res, err := noRedirect.Get(ts.URL + "/status?x=1")
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusMovedPermanently || res.Header.Get("Location") != "/status/?x=1" {
		t.Errorf("GET /status = %d to %q, want 301 to /status/?x=1", res.StatusCode, res.Header.Get("Location"))
	}
	for _, tt := range []struct {
		path string
		code int
		body string // a part of it
	}{
		{"/status/", 200, `<link rel="stylesheet" href="assets/stylesheets/common.css?v=1.2.3">`},
		{"/status/status/report", 200, `"health":`},
		{"/status/status/text", 200, ""},
		{"/status/assets/stylesheets/common.css", 200, "--color-healthy"},
		{"/status//badge/color/", 200, "<svg"},
		{"/", 404, ""},
		{"/status/report", 404, ""},
		{"/statusx/", 404, ""},
		{"/status/../status/", 404, ""},
	} {
		res := ts.get(t, tt.path)
		if res.code != tt.code || !strings.Contains(res.body, tt.body) {
			t.Errorf("GET %s = %d, want %d with %q; body %.120q", tt.path, res.code, tt.code, tt.body, res.body)
		}
	}
	if page := ts.get(t, "/status/").body; regexp.MustCompile(`(href|src)="/[^/]`).MatchString(page) {
		t.Errorf("the page links by absolute path, which misses a prefix: %s", regexp.MustCompile(`(href|src)="/[^"]*"`).FindString(page))
	}
}
