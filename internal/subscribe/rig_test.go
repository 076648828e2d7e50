package subscribe_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/vigil-go/vigil/internal/outbox"
	"github.com/vigil-go/vigil/internal/status"
	"github.com/vigil-go/vigil/internal/store"
	"github.com/vigil-go/vigil/internal/store/storetest"
	"github.com/vigil-go/vigil/internal/subscribe"
	"github.com/vigil-go/vigil/internal/testkit"
	"github.com/vigil-go/vigil/internal/testkit/mailbox"
	"github.com/vigil-go/vigil/internal/web"
)

const managerToken = "manager-token"

// t0 is when every test starts, on a clock the test moves.
var t0 = time.Date(2026, 12, 3, 10, 0, 0, 0, time.UTC)

// rig is a running Vigil page with subscriptions: a real SQLite store, a
// real SMTP server, the real outbox, over real HTTP on loopback.
type rig struct {
	t     *testing.T
	url   string // the page, ending with "/"
	clock *testkit.Clock
	mail  *mailbox.Server
	store *store.Store
	svc   *subscribe.Service
	log   *testkit.LogBuffer
	stop  func()
}

type rigOptions struct {
	dbPath   string // a SQLite file to use (and keep); "" for a fresh one
	extra    string // more [subscriptions] keys
	clock    *testkit.Clock
	mail     *mailbox.Server
	timeZone string
	leader   func() bool // nil: always the leader
}

func configText(pageURL string, mail *mailbox.Server, o rigOptions) string {
	tz := ""
	if o.timeZone != "" {
		tz = fmt.Sprintf("time_zone = %q\n", o.timeZone)
	}
	return fmt.Sprintf(`[server]
manager_token = %q
reporter_token = "reporter-token"

[branding]
page_title = "Acme Status"
page_url = %q
company_name = "Acme"
icon_color = "#1972F5"
icon_url = "https://example.com/icon.png"
logo_color = "#1972F5"
logo_url = "https://example.com/logo.svg"
website_url = "https://example.com/"
support_url = "mailto:support@example.com"
%s
[subscriptions]
enabled = true
from = "updates@acme.example"
%s
[subscriptions.smtp]
smtp_host = %q
smtp_port = %d
smtp_encrypt = false

[[probe.service]]
id = "web"
label = "Website"

[[probe.service.node]]
id = "api"
label = "Public API"
mode = "poll"
replicas = ["http://secret-replica.internal:8080/health"]
reveal_replica_name = false

[[probe.service]]
id = "db"
label = "Database"

[[probe.service.node]]
id = "primary"
label = "Primary"
mode = "poll"
replicas = ["tcp://10.0.0.9:5432"]
`, managerToken, pageURL, tz, o.extra, mail.Host, mail.Port)
}

func newRig(t *testing.T, o rigOptions) *rig {
	t.Helper()
	if o.clock == nil {
		o.clock = testkit.NewClock(t0)
	}
	if o.mail == nil {
		o.mail = mailbox.Start(t)
	}
	cfgStore := storetest.SQLite(t)
	if o.dbPath != "" {
		cfgStore.Path = o.dbPath
	}
	st, err := store.Open(context.Background(), cfgStore)
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewUnstartedServer(nil)
	pageURL := "http://" + ts.Listener.Addr().String() + "/"
	cfg := testkit.Config(t, configText(pageURL, o.mail, o))
	log := &testkit.LogBuffer{}
	logger := slog.New(slog.NewTextHandler(log, &slog.HandlerOptions{Level: slog.LevelDebug}))
	svc := subscribe.New(subscribe.Options{
		Config: cfg, Store: st, Logger: logger, Now: o.clock.Now,
		Delivery: outbox.Options{Store: st, PollEvery: 20 * time.Millisecond, MinBackoff: 20 * time.Millisecond,
			MaxBackoff: 50 * time.Millisecond, Active: o.leader},
		DispatchEvery: 20 * time.Millisecond,
		Active:        o.leader,
	})
	src := &testkit.Source{}
	src.Set([]status.Service{
		{ID: "web", Label: "Website", Nodes: []status.Node{{ID: "api", Label: "Public API", Mode: status.Poll}}},
		{ID: "db", Label: "Database", Nodes: []status.Node{{ID: "primary", Label: "Primary", Mode: status.Poll}}},
	}, o.clock.Now())
	site, err := web.New(context.Background(), web.Options{Config: cfg, Source: src, Store: st,
		Subscriptions: svc, Logger: logger, Now: o.clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	ts.Config.Handler = site
	ts.Start()
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Go(func() { svc.Run(ctx) })
	r := &rig{t: t, url: pageURL, clock: o.clock, mail: o.mail, store: st, svc: svc, log: log}
	var once sync.Once
	r.stop = func() {
		once.Do(func() {
			ts.Close()
			cancel()
			wg.Wait()
			if err := st.Close(); err != nil {
				t.Errorf("close store: %v", err)
			}
		})
	}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("log:\n%s", log.String())
		}
		r.stop()
	})
	return r
}

// settle waits until the outbox holds nothing undelivered for
// subscribers: a stop then interrupts no delivery (which the outbox
// would repeat at the next start, as it delivers at least once).
func (r *rig) settle() {
	r.t.Helper()
	deadline := time.Now().Add(wait)
	for {
		n := 0
		for _, ch := range []string{subscribe.ChannelEmail, subscribe.ChannelWebhook} {
			c, err := r.store.PendingCount(context.Background(), ch)
			if err != nil {
				r.t.Fatal(err)
			}
			n += c
		}
		if n == 0 {
			return
		}
		if time.Now().After(deadline) {
			r.t.Fatalf("%d subscriber messages still undelivered after %v", n, wait)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// answer is an HTTP answer, read whole.
type answer struct {
	code   int
	header http.Header
	body   string
}

func (r *rig) do(method, path, contentType, body string, manager bool) answer {
	r.t.Helper()
	target := path
	if !strings.HasPrefix(path, "http") {
		target = r.url + strings.TrimPrefix(path, "/")
	}
	req, err := http.NewRequest(method, target, strings.NewReader(body))
	if err != nil {
		r.t.Fatal(err)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	if manager {
		req.SetBasicAuth("", managerToken)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		r.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		r.t.Fatal(err)
	}
	return answer{code: resp.StatusCode, header: resp.Header, body: string(b)}
}

// subscribe posts the page's form.
func (r *rig) subscribe(address string, services ...string) answer {
	r.t.Helper()
	form := url.Values{"address": {address}}
	for _, s := range services {
		form.Add("service", s)
	}
	return r.do(http.MethodPost, "subscriptions", "application/x-www-form-urlencoded", form.Encode(), false)
}

// manager calls the manager API with a JSON body.
func (r *rig) manager(method, path, body string) answer {
	r.t.Helper()
	return r.do(method, path, "application/json", body, true)
}

var confirmLink = regexp.MustCompile(`http://[^\s"<>]+/subscriptions/confirm\?token=[A-Za-z0-9._-]+`)

// confirmLinkIn finds the confirmation link in a mail's text part.
func confirmLinkIn(t *testing.T, m mailbox.Mail) string {
	t.Helper()
	link := confirmLink.FindString(m.Text)
	if link == "" {
		t.Fatalf("no confirmation link in the mail:\n%s", m.Text)
	}
	return link
}

// confirm follows a confirmation link as a person does: the GET shows a
// button, which POSTs the form.
func (r *rig) confirm(link string) answer {
	r.t.Helper()
	page := r.do(http.MethodGet, link, "", "", false)
	if page.code != http.StatusOK || !strings.Contains(page.body, `<form method="post">`) {
		r.t.Fatalf("GET %s = %d, want 200 with a form:\n%s", link, page.code, page.body)
	}
	u, _ := url.Parse(link)
	return r.do(http.MethodPost, link, "application/x-www-form-urlencoded", url.Values{"token": {u.Query().Get("token")}}.Encode(), false)
}
