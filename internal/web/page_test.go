package web

import (
	"html"
	"net/http"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/vigil-go/vigil/internal/status"
)

func TestPageHeaders(t *testing.T) {
	ts := newTestServer(t, Options{})
	res := ts.get(t, "/")
	if res.code != http.StatusOK {
		t.Fatalf("GET / = %d, want 200", res.code)
	}
	wantHeaders(t, "GET /", res.header, map[string]string{
		"Content-Type":           "text/html; charset=utf-8",
		"Cache-Control":          "no-cache",
		"Vary":                   "Accept-Encoding",
		"Content-Encoding":       "",
		"X-Content-Type-Options": "nosniff",
	})
}

func TestPageBanner(t *testing.T) {
	for _, tc := range []struct {
		health       status.Health
		h1, h2, line string
	}{
		{status.Healthy, "All systems report as healthy", "Looks like everything is operating normally.",
			"All systems are healthy at the moment. If you are encountering an issue, please contact our support."},
		{status.Sick, "Minor service slowdown ongoing", "Looks like services are under high load.",
			"Services are slower than usual at the moment. If you are encountering an issue, please contact our support."},
		{status.Dead, "Partial service outage ongoing", "Looks like some services are not working.",
			"Our team has been notified of the issue. If the outage persists, please contact our support."},
	} {
		t.Run(tc.health.String(), func(t *testing.T) {
			ts := newTestServer(t, Options{})
			ts.src.Set(healthServices(tc.health), time.Date(2031, 3, 4, 9, 3, 1, 0, time.FixedZone("CET", 3600)))
			body := ts.get(t, "/").body
			aside := element(t, body, "<aside", "</aside>")
			if !strings.Contains(aside, `class="status-`+tc.health.String()+`-background"`) {
				t.Errorf("banner %s: want class status-%s-background", aside, tc.health)
			}
			if got := text(element(t, aside, "<h1", "</h1>")); got != tc.h1 {
				t.Errorf("banner h1 = %q, want %q", got, tc.h1)
			}
			// Always printed in UTC.
			if got := text(element(t, aside, "<h4", "</h4>")); got != "refreshed 08:03:01 UTC+00:00" {
				t.Errorf("banner h4 = %q, want %q", got, "refreshed 08:03:01 UTC+00:00")
			}
			general := element(t, body, `<section class="general`, "</section>")
			if got := text(element(t, general, "<h2", "</h2>")); got != tc.h2 {
				t.Errorf("general h2 = %q, want %q", got, tc.h2)
			}
			for _, want := range []string{
				"This status page automatically monitors our systems and alerts if something is not working as expected.",
				tc.line,
			} {
				if !strings.Contains(text(general), want) {
					t.Errorf("general section %q lacks %q", text(general), want)
				}
			}
			if !strings.Contains(general, `<a href="https://acme.test/support" class="font-sans-semibold">contact our support</a>`) {
				t.Errorf("general section %s: want the support link", general)
			}
			if !strings.Contains(body, `window.STATUS_GENERAL = "`+tc.health.String()+`";`) {
				t.Errorf("page lacks window.STATUS_GENERAL = %q", tc.health)
			}
			if !strings.Contains(general, "assets/images/icons/icon-"+tc.health.String()+"-large.svg?v=1.2.3") {
				t.Errorf("general section: want the large %s icon", tc.health)
			}
		})
	}
}

func TestPageNotYetRefreshed(t *testing.T) {
	ts := newTestServer(t, Options{})
	ts.src.Set(healthServices(status.Healthy), time.Time{})
	aside := element(t, ts.get(t, "/").body, "<aside", "</aside>")
	if got := text(element(t, aside, "<h4", "</h4>")); got != "not yet refreshed" {
		t.Errorf("banner h4 before the first aggregation = %q, want %q", got, "not yet refreshed")
	}
}

func TestPageHeadAndBranding(t *testing.T) {
	ts := newTestServer(t, Options{})
	body := ts.get(t, "/").body
	// html/template writes "+" as "&#43;": compare the decoded markup.
	head := html.UnescapeString(element(t, body, "<head>", "</head>"))
	for _, want := range []string{
		`<link rel="icon" href="https://cdn.acme.test/icon.svg" type="image/svg+xml">`,
		`<link rel="apple-touch-icon" href="https://cdn.acme.test/icon.svg" type="image/svg+xml">`,
		`<meta name="msapplication-TileColor" content="#112233">`,
		`<meta name="msapplication-TileImage" content="https://cdn.acme.test/icon.svg">`,
		`<meta property="og:image" content="https://cdn.acme.test/icon.svg">`,
		`<title>Acme Status</title>`,
		`<link rel="stylesheet" href="assets/stylesheets/common.css?v=1.2.3">`,
		`<link rel="stylesheet" href="assets/stylesheets/index.css?v=1.2.3">`,
		`<script src="assets/javascripts/index.js?v=1.2.3" defer></script>`,
		// custom_html is inserted raw, on purpose.
		`<meta name="custom-marker" content="raw"><script>window.CUSTOM = 1;</script>`,
	} {
		if !strings.Contains(head, want) {
			t.Errorf("<head> lacks %s", want)
		}
	}
	header := element(t, body, "<header>", "</header>")
	for _, want := range []string{
		`<a href="./" class="logo">`,
		`<img src="https://cdn.acme.test/logo.png" alt="Acme">`,
		`>Status</span>`,
		`<a href="https://acme.test/support" class="nav-support font-sans-semibold" style="background-color: #1972F5; color: #000000;">Contact support</a>`,
		`<a href="https://acme.test/" target="_blank" rel="noopener" class="nav-website font-sans-bold">Go to website</a>`,
	} {
		if !strings.Contains(header, want) {
			t.Errorf("<header> lacks %s", want)
		}
	}
	footer := element(t, body, "<footer", "</footer>")
	if got := text(footer); got != "© 2031 Acme This status page is powered by Vigil." {
		t.Errorf("footer = %q, want the year from the clock and the company", got)
	}
}

// The year comes from the clock at render time, not at start.
func TestPageYearFollowsClock(t *testing.T) {
	var now atomicValue[time.Time]
	now.store(time.Date(2031, 12, 31, 23, 59, 59, 0, time.UTC))
	ts := newTestServer(t, Options{Now: now.load})
	if got := text(element(t, ts.get(t, "/").body, "<footer", "</footer>")); !strings.HasPrefix(got, "© 2031 ") {
		t.Errorf("footer = %q, want 2031", got)
	}
	now.store(time.Date(2032, 1, 1, 0, 0, 1, 0, time.UTC))
	if got := text(element(t, ts.get(t, "/").body, "<footer", "</footer>")); !strings.HasPrefix(got, "© 2032 ") {
		t.Errorf("footer after new year, same state = %q, want 2032", got)
	}
}

// atomicValue is a value the test changes while the server reads it.
type atomicValue[T any] struct {
	mu sync.Mutex
	v  T
}

func (a *atomicValue[T]) store(v T) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.v = v
}

func (a *atomicValue[T]) load() T {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.v
}

func TestPageIconTypes(t *testing.T) {
	for _, tc := range []struct{ url, want string }{
		{"https://x.test/icon.svg", "image/svg+xml"},
		{"https://x.test/ICON.SVG?v=2", "image/svg+xml"},
		{"https://x.test/icon.jpg", "image/jpeg"},
		{"https://x.test/icon.jpeg", "image/jpeg"},
		{"https://x.test/icon.gif", "image/gif"},
		{"https://x.test/icon.png", "image/png"},
		{"https://x.test/icon.ico", "image/png"},
		{"https://x.test/icon", "image/png"},
		{"", "image/png"},
	} {
		if got := iconMIME(tc.url); got != tc.want {
			t.Errorf("iconMIME(%q) = %q, want %q", tc.url, got, tc.want)
		}
	}
}

func TestPageWithoutIcon(t *testing.T) {
	cfg := testConfig(t)
	cfg.Branding.IconURL = ""
	ts := newTestServer(t, Options{Config: cfg})
	head := html.UnescapeString(element(t, ts.get(t, "/").body, "<head>", "</head>"))
	if !strings.Contains(head, `<link rel="icon" href="assets/images/icons/icon-dead-small.svg?v=1.2.3" type="image/svg+xml">`) {
		t.Errorf("<head> without icon_url: want the status icon as favicon:\n%s", head)
	}
}

func TestPageEscaping(t *testing.T) {
	services := healthServices(status.Dead)
	services[0].Label = `<script>alert("svc")</script>`
	services[0].Nodes[0].Label = `Main & <b>bold</b>`
	services[0].Nodes[0].Replicas[0].Reason = `<img src=x onerror=alert(1)>`
	services[0].Nodes[0].RevealReplicaName = true
	services[0].Nodes[0].Replicas[0].ID = `"><script>alert(2)</script>`
	services[0].Nodes[0].LinkURL = `javascript:alert(3)`
	services[0].Nodes[0].LinkLabel = `<i>label</i>`
	cfg := testConfig(t)
	cfg.Branding.PageTitle = `</title><script>alert(4)</script>`
	cfg.Branding.LogoColor = `red;}</style><script>alert(5)</script>`
	ts := newTestServer(t, Options{Config: cfg})
	ts.src.Set(services, testNow)
	body := ts.get(t, "/").body
	for _, bad := range []string{
		`<script>alert(`, `<img src=x`, `<b>bold</b>`, `<i>label</i>`, `href="javascript:`, `</style>`,
	} {
		if strings.Contains(body, bad) {
			t.Errorf("page contains unescaped %s", bad)
		}
	}
	for _, want := range []string{
		`&lt;script&gt;alert(&#34;svc&#34;)&lt;/script&gt;`,
		`Main &amp; &lt;b&gt;bold&lt;/b&gt;`,
		`&lt;img src=x onerror=alert(1)&gt;`,
		`&#34;&gt;&lt;script&gt;alert(2)&lt;/script&gt;`,
		`&lt;i&gt;label&lt;/i&gt;`,
		`<title>&lt;/title&gt;&lt;script&gt;alert(4)&lt;/script&gt;</title>`,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("page lacks the escaped form %s", want)
		}
	}
}

// replicaBoxes returns the replica boxes of the page by element id.
func replicaBoxes(t *testing.T, body string) map[string]string {
	t.Helper()
	boxes := map[string]string{}
	re := regexp.MustCompile(`(?s)<span id="(replica-[^"]+)" class="replica .*?</span>\s*</span>\s*</span>`)
	for _, m := range re.FindAllStringSubmatch(body, -1) {
		boxes[m[1]] = m[0]
	}
	return boxes
}

func TestPageServices(t *testing.T) {
	ts := newTestServer(t, Options{})
	body := ts.get(t, "/").body
	for _, want := range []string{
		`<a href="#probe-web" id="probe-web">Web</a>`,
		`<a href="#probe-jobs" id="probe-jobs">Jobs</a>`,
		`<img class="probe-icon" src="assets/images/icons/icon-dead-small.svg?v=1.2.3"`,
		`<li class="status-dead-background-before">`,
		`<a href="https://docs.acme.test/api" class="link font-sans-semibold">API docs</a>`,
		`<a href="https://agent.acme.test/" class="link font-sans-semibold">https://agent.acme.test/</a>`,
		`Waiting for a first report.`,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("page lacks %s", want)
		}
	}
	if n := strings.Count(body, `<section class="probe">`); n != 2 {
		t.Errorf("page has %d probe sections, want 2", n)
	}

	boxes := replicaBoxes(t, body)
	for _, tc := range []struct {
		id, class, position string
		want, absent        []string
	}{
		{"replica-web-api-1", "status-healthy-background", "1",
			[]string{"This replica reports as healthy.", "Checked via a poll probe (HTTP, SSH, TCP or ICMP).", "http://10.0.0.1/health", "Latency: 12 ms"},
			[]string{"stale reason", "Last report"}},
		{"replica-web-api-2", "status-dead-background", "2",
			[]string{"This replica reports as dead.", "GET http://10.0.0.2/health: status 503, want 200–399", "http://10.0.0.2/health", "Latency: 0 ms"},
			[]string{"Load:"}},
		{"replica-web-workers-1", "status-healthy-background", "1",
			[]string{"This replica reports as healthy.", "Checked via a push probe (Reporter).", "Load: 42%", "Memory: 80%", "Queue: 3R 1N", "Last report: 09:02:49 UTC"},
			[]string{"10.0.1.5", "Latency"}},
		{"replica-jobs-cron-1", "status-healthy-background", "1",
			[]string{"This replica reports as healthy.", "Checked via a script probe."},
			[]string{"script:0", "Latency", "Last report"}},
		{"replica-jobs-agent-1", "status-healthy-background", "1",
			[]string{"This replica reports as healthy.", "Checked via a local probe (internal).", "Last report: 3 Mar 2031, 07:03:01 UTC"},
			[]string{"host-7"}},
	} {
		box, ok := boxes[tc.id]
		if !ok {
			t.Errorf("no replica box %s; boxes: %v", tc.id, keys(boxes))
			continue
		}
		if !strings.Contains(box, `class="replica `+tc.class+` has-tooltip`) {
			t.Errorf("box %s: want class %s in %s", tc.id, tc.class, box)
		}
		if !strings.Contains(box, `tabindex="0"`) || !strings.Contains(box, `aria-describedby="`+tc.id+`-tip"`) ||
			!strings.Contains(box, `role="tooltip" id="`+tc.id+`-tip"`) {
			t.Errorf("box %s: want it focusable and described by its tooltip: %s", tc.id, box)
		}
		got := text(box)
		if !strings.HasPrefix(got, tc.position) {
			t.Errorf("box %s text = %q, want it to start with its position %s", tc.id, got, tc.position)
		}
		for _, w := range tc.want {
			if !strings.Contains(got, w) {
				t.Errorf("box %s text %q lacks %q", tc.id, got, w)
			}
		}
		for _, a := range tc.absent {
			if strings.Contains(got, a) {
				t.Errorf("box %s text %q contains %q", tc.id, got, a)
			}
		}
	}
	if box := boxes["replica-web-workers-1"]; !strings.Contains(box, `<time datetime="2031-03-04T09:02:49Z" data-relative>09:02:49 UTC</time>`) {
		t.Errorf("push replica box: want a machine-readable last report time: %s", box)
	}
}

func TestPageReplicaStatuses(t *testing.T) {
	ts := newTestServer(t, Options{})
	for _, h := range []status.Health{status.Healthy, status.Sick, status.Dead} {
		ts.src.Set(sampleServices(h), testNow)
		box := replicaBoxes(t, ts.get(t, "/").body)["replica-web-api-2"]
		if !strings.Contains(box, "status-"+h.String()+"-background") || !strings.Contains(text(box), "This replica reports as "+h.String()+".") {
			t.Errorf("replica %s: box %s", h, box)
		}
	}
}

// TestPageVantagePoints: in a cluster, a replica decided healthy while some
// vantage point sees it otherwise says so in its tooltip; without dissent,
// nothing is added.
func TestPageVantagePoints(t *testing.T) {
	ts := newTestServer(t, Options{})
	for _, tc := range []struct {
		name  string
		views []status.View
		want  string
	}{
		{"dissent", []status.View{
			{Label: "us-east", Health: status.Healthy},
			{Label: "eu-west", Health: status.Dead, Reason: "timeout after 10s"},
			{Label: "us-west", Health: status.Healthy},
		}, "dead from eu-west; healthy from us-east, us-west"},
		{"agreement", []status.View{{Label: "us-east", Health: status.Healthy}, {Label: "eu-west", Health: status.Healthy}}, ""},
	} {
		svcs := sampleServices(status.Healthy)
		svcs[0].Nodes[0].Replicas[1].Views = tc.views
		ts.src.Set(svcs, testNow)
		box := text(replicaBoxes(t, ts.get(t, "/").body)["replica-web-api-2"])
		switch {
		case tc.want != "" && !strings.Contains(box, tc.want):
			t.Errorf("%s: tooltip %q, want it to say %q", tc.name, box, tc.want)
		case tc.want == "" && strings.Contains(box, " from "):
			t.Errorf("%s: tooltip %q names vantage points without dissent", tc.name, box)
		}
	}
}

func TestPageAnnouncements(t *testing.T) {
	st := openStore(t)
	ts := newManagerServer(t, st, Options{})

	if body := ts.get(t, "/").body; strings.Contains(body, "Announcement") || strings.Contains(body, "announcement-preceding") {
		t.Error("page without announcements shows an announcement section")
	}

	ctx := t.Context()
	if _, err := st.AddAnnouncement(ctx, "Maintenance", "Database upgrade.\nExpect <b>short</b> outages.\r\nThanks.", time.Date(2022, 7, 5, 9, 3, 1, 0, time.UTC)); err != nil {
		t.Fatal(err)
	}
	resolved, err := st.AddAnnouncement(ctx, "Resolved & done", "All good.", time.Date(2022, 7, 6, 10, 0, 0, 0, time.FixedZone("CEST", 7200)))
	if err != nil {
		t.Fatal(err)
	}
	// What the page shows is read at start and after writes through the
	// manager API, never on a page view: a restarted server shows them.
	ts = newManagerServer(t, st, Options{})
	body := ts.get(t, "/").body
	section := element(t, body, `<section class="announcement`, "</section>")
	if !strings.Contains(body, "announcement-preceding") {
		t.Error("general section is not marked as preceding announcements")
	}
	got := text(section)
	want := "Announcement Resolved & done All good. Published on 6 Jul 2022, 08:00:00 UTC+00:00 " +
		"Maintenance Database upgrade.Expect <b>short</b> outages.Thanks. Published on 5 Jul 2022, 09:03:01 UTC+00:00"
	if got != want {
		t.Errorf("announcements = %q, want %q", got, want)
	}
	if !strings.Contains(section, "Database upgrade.<br>Expect &lt;b&gt;short&lt;/b&gt; outages.<br>Thanks.") {
		t.Errorf("announcement text: want escaped text with <br> line breaks: %s", section)
	}
	if !strings.Contains(section, `<time datetime="2022-07-05T09:03:01Z">`) {
		t.Errorf("announcement date: want a <time datetime>: %s", section)
	}

	// New announcements change the page even when the monitor's state does not.
	first := ts.get(t, "/")
	ts.manager(t, "POST", "/manager/announcement/", `{"title": "Another", "text": "x"}`)
	ts.manager(t, "DELETE", "/manager/announcement/"+resolved.ID+"/", "")
	second := ts.get(t, "/", "If-None-Match", first.header.Get("ETag"))
	if second.code != http.StatusOK || !strings.Contains(second.body, "Another") || strings.Contains(second.body, "Resolved") {
		t.Errorf("GET / after the announcements changed = %d, want the new announcements", second.code)
	}
}

func keys(m map[string]string) []string {
	var ks []string
	for k := range m {
		ks = append(ks, k)
	}
	return ks
}

// TestTimeZone: with [branding] time_zone the page's times are written in
// that zone with its offset, a report counts as today by the zone's date,
// and the machine-readable times stay in UTC.
func TestTimeZone(t *testing.T) {
	cfg := testConfig(t)
	loc, err := time.LoadLocation("Asia/Shanghai")
	if err != nil {
		t.Fatal(err)
	}
	cfg.Branding.TimeZone, cfg.Branding.Location = "Asia/Shanghai", loc
	ts := newTestServer(t, Options{Config: cfg})
	// testNow is 09:03:01 UTC on 4 March: 17:03:01 in Shanghai. A report at
	// 20:00 UTC the day before is 04:00 on 4 March there: today.
	services := []status.Service{{ID: "fleet", Label: "Fleet", Nodes: []status.Node{{
		ID: "workers", Label: "Workers", Mode: status.Push, RevealReplicaName: true,
		Replicas: []status.Replica{{ID: "w1", Health: status.Healthy, Checked: time.Date(2031, 3, 3, 20, 0, 0, 0, time.UTC)}},
	}}}}
	ts.src.Set(services, testNow)
	page := ts.get(t, "/").body
	for _, want := range []string{
		`refreshed <time datetime="2031-03-04T09:03:01Z">17:03:01 UTC&#43;08:00</time>`, // "+" is escaped, as html/template does
		`<time datetime="2031-03-03T20:00:00Z" data-relative>04:00:00 UTC&#43;08:00</time>`,
	} {
		if !strings.Contains(page, want) {
			t.Errorf("page lacks %s", want)
		}
	}

	// In UTC, Vigil's words: the same report is yesterday's.
	ts = newTestServer(t, Options{})
	ts.src.Set(services, testNow)
	page = ts.get(t, "/").body
	for _, want := range []string{
		`refreshed <time datetime="2031-03-04T09:03:01Z">09:03:01 UTC&#43;00:00</time>`,
		`<time datetime="2031-03-03T20:00:00Z" data-relative>3 Mar 2031, 20:00:00 UTC</time>`,
	} {
		if !strings.Contains(page, want) {
			t.Errorf("UTC page lacks %s", want)
		}
	}
}
