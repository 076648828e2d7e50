package notify

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/vigil-go/vigil/internal/status"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

// Messages shared by the tests. The dead list spans two replicas of one
// node (Matrix counts them together) and a replica id with a query.
var (
	msgStartup = Message{
		Kind: Startup, Status: status.Healthy, Time: "08:58:28 UTC+00:00",
		PageTitle: "Crisp Status", PageURL: "https://status.crisp.chat/",
	}
	msgDead = Message{
		Kind: Changed, Status: status.Dead, Time: "08:58:28 UTC+00:00",
		Dead: []string{
			"web:core:tcp://edge-3.pool.net.crisp.chat:80",
			"db:main:icmp://10.0.0.3",
			"web:core:http://edge-4.pool.net.crisp.chat/health?x=1&y=2",
		},
		Reasons: map[string]string{
			"web:core:tcp://edge-3.pool.net.crisp.chat:80":              "connect: connection refused",
			"web:core:http://edge-4.pool.net.crisp.chat/health?x=1&y=2": "HTTP status 503",
		},
		PageTitle: "Crisp Status", PageURL: "https://status.crisp.chat/",
		Outage: "1764320308000",
	}
	msgReminder = Message{
		Kind: Reminder, Status: status.Dead, Time: "09:08:28 UTC+00:00",
		Dead:      []string{"web:core:tcp://edge-3.pool.net.crisp.chat:80"},
		Reasons:   map[string]string{"web:core:tcp://edge-3.pool.net.crisp.chat:80": "connect: connection refused"},
		Recovered: []string{"db:main:icmp://10.0.0.3"},
		PageTitle: "Crisp Status", PageURL: "https://status.crisp.chat/",
		Escalated: true,
		Outage:    "1764320308000",
	}
	msgRecovered = Message{
		Kind: Changed, Status: status.Sick, Time: "09:10:00 UTC+00:00",
		Recovered: []string{
			"web:core:tcp://edge-3.pool.net.crisp.chat:80",
			"web:core:http://edge-4.pool.net.crisp.chat/health?x=1&y=2",
		},
		PageTitle: "Crisp Status", PageURL: "https://status.crisp.chat/",
		Outage: "1764320308000",
	}
)

// variants are the messages every channel is tested with.
var variants = []struct {
	name string
	msg  Message
}{
	{"startup", msgStartup},
	{"dead", msgDead},
	{"reminder", msgReminder},
	{"recovered", msgRecovered},
}

// recorder is a loopback HTTP server that keeps every request it gets.
type recorder struct {
	srv  *httptest.Server
	reqs chan string
}

func newRecorder(t *testing.T, code int) *recorder {
	t.Helper()
	r := &recorder{reqs: make(chan string, 16)}
	r.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		body, err := io.ReadAll(req.Body)
		if err != nil {
			t.Errorf("read request body: %v", err)
		}
		r.reqs <- dumpRequest(req, body)
		w.WriteHeader(code)
	}))
	t.Cleanup(r.srv.Close)
	return r
}

// next returns the next recorded request.
func (r *recorder) next(t *testing.T) string {
	t.Helper()
	select {
	case s := <-r.reqs:
		return s
	case <-time.After(10 * time.Second):
		t.Fatal("no request reached the server")
		return ""
	}
}

// sent returns the request a Notify that has returned sent, or a line
// saying it sent none: the server records a request before it answers.
func (r *recorder) sent() string {
	select {
	case s := <-r.reqs:
		return s
	default:
		return "(no request)\n"
	}
}

// ignoredHeaders vary with the transport, not with the channel.
var ignoredHeaders = []string{"Accept-Encoding", "Content-Length"}

// dumpRequest renders a request for a golden file: the request line, every
// header but the transport's, the exact body, then the body decoded for
// review (form fields one per line, JSON indented).
func dumpRequest(r *http.Request, body []byte) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s %s\n", r.Method, r.URL.RequestURI())
	var names []string
	for k := range r.Header {
		if !slices.Contains(ignoredHeaders, k) {
			names = append(names, k)
		}
	}
	slices.Sort(names)
	for _, k := range names {
		for _, v := range r.Header[k] {
			fmt.Fprintf(&b, "%s: %s\n", k, v)
		}
	}
	b.WriteString("\n")
	b.Write(body)
	b.WriteString("\n")
	switch ct := r.Header.Get("Content-Type"); ct {
	case contentForm:
		b.WriteString("\n--- form fields, decoded ---\n")
		for _, kv := range strings.Split(string(body), "&") {
			k, v, _ := strings.Cut(kv, "=")
			k, _ = url.QueryUnescape(k)
			v, _ = url.QueryUnescape(v)
			fmt.Fprintf(&b, "%s = %q\n", k, v)
		}
	case contentJSON:
		var out bytes.Buffer
		if err := json.Indent(&out, body, "", "  "); err != nil {
			fmt.Fprintf(&b, "\n--- invalid JSON: %v ---\n", err)
		} else {
			b.WriteString("\n--- JSON, indented ---\n")
			out.WriteTo(&b)
			b.WriteString("\n")
		}
	}
	return b.String()
}

// golden compares got with testdata/name.golden, or rewrites the file when
// the test runs with -update.
func golden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", name+".golden")
	if *update {
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if got != string(want) {
		t.Errorf("request differs from %s (run go test -update and review the diff)\ngot:\n%s\nwant:\n%s", path, got, want)
	}
}

// httpConfigs returns a [notify] section whose HTTP channels all point at
// base, with tokens that the no-leak test looks for.
func httpConfigs(base string) map[string]Section {
	thread := int64(42)
	return map[string]Section{
		"twilio": &Twilio{
			To: []string{"+33600000001", "+33600000002"}, ServiceSID: "MG0000service",
			AccountSID: "AC0000account", AuthToken: "twilio-secret-token", APIURL: base + "/",
		},
		"slack": &Slack{HookURL: base + "/services/T000/B000/slackSecretPath"},
		"slack-mention": &Slack{
			HookURL: base + "/services/T000/B000/slackSecretPath", MentionChannel: true,
		},
		"zulip": &Zulip{
			BotEmail: "vigil-bot@example.zulipchat.com", BotAPIKey: "zulip-secret-key",
			Channel: "ops", APIURL: base + "/api/v1/",
		},
		"telegram": &Telegram{
			BotToken: "123456:telegram-secret-token", ChatID: "123456789", APIURL: base + "/",
		},
		"telegram-channel": &Telegram{
			BotToken: "123456:telegram-secret-token", ChatID: "@vigil_alerts", APIURL: base + "/",
		},
		"telegram-supergroup-thread": &Telegram{
			BotToken: "123456:telegram-secret-token", ChatID: "-1001234567890",
			MessageThreadID: &thread, APIURL: base + "/",
		},
		"pushover": &Pushover{
			AppToken: "pushover-secret-token", UserKeys: []string{"user-key-one", "user-key-two"}, APIURL: base + "/",
		},
		// A base URL with a path and no trailing slash: Vigil would post to
		// /gotifymessage, we post to /gotify/message.
		"gotify": &Gotify{AppURL: base + "/gotify", AppToken: "gotify-secret-token"},
		"matrix": &Matrix{
			HomeserverURL: base, AccessToken: "matrix-secret-token", RoomID: "!abcdef:matrix.org",
		},
		"webex": &Webex{
			EndpointURL: base + "/v1/messages", Token: "webex-secret-token", RoomID: "Y2lzY29zcGFyazovL3VzL1JPT00v",
		},
		"webhook":    &Webhook{HookURL: base + "/hook/webhookSecretPath?key=webhook-secret-key"},
		"pagerduty":  &PagerDuty{RoutingKey: "pagerduty-secret-routing-key", APIURL: base + "/v2/enqueue"},
		"opsgenie":   &Opsgenie{APIKey: "opsgenie-secret-key", APIURL: base, Priority: "P2"},
		"discord":    &Discord{Hook{HookURL: base + "/api/webhooks/123/discordSecretPath"}},
		"teams":      &Teams{Hook{HookURL: base + "/workflows/teamsSecretPath/triggers/manual/paths/invoke?sig=teams-secret-sig"}},
		"ntfy":       &Ntfy{TopicURL: base + "/vigil-alerts", Token: "tk_ntfysecrettoken", Priority: "urgent", Tags: []string{"prod"}},
		"ntfy-basic": &Ntfy{TopicURL: base + "/vigil-alerts", Username: "vigil", Password: "ntfy-secret-password", Priority: "high"},
	}
}

// httpSecrets are the strings of httpConfigs that must never be in an error.
var httpSecrets = []string{
	"twilio-secret-token", "slackSecretPath", "zulip-secret-key", "telegram-secret-token",
	"pushover-secret-token", "gotify-secret-token", "matrix-secret-token", "webex-secret-token",
	"webhookSecretPath", "webhook-secret-key",
	"pagerduty-secret-routing-key", "opsgenie-secret-key", "discordSecretPath", "teamsSecretPath", "teams-secret-sig",
	"tk_ntfysecrettoken", "ntfy-secret-password",
	// Basic credentials, as they travel.
	"QUMwMDAwYWNjb3VudDp0d2lsaW8tc2VjcmV0LXRva2Vu", "dmlnaWwtYm90QGV4YW1wbGUuenVsaXBjaGF0LmNvbTp6dWxpcC1zZWNyZXQta2V5",
}

// testOptions are the options of every test: a fixed version and clock.
func testOptions() Options {
	return Options{
		Version: "test",
		Now:     func() time.Time { return time.Date(2026, 11, 22, 8, 58, 28, 0, time.UTC) },
	}
}

// buildOne builds the channels of cfg and returns the only one.
func buildOne(t *testing.T, cfg Section, o Options) Channel {
	t.Helper()
	channels, err := Build([]Section{cfg}, o)
	if err != nil {
		t.Fatalf("Build: %v", err)
	}
	if len(channels) != 1 {
		t.Fatalf("Build returned %d channels, want 1", len(channels))
	}
	return channels[0]
}

func TestHTTPChannelsGolden(t *testing.T) {
	rec := newRecorder(t, http.StatusOK)
	configs := httpConfigs(rec.srv.URL)
	names := make([]string, 0, len(configs))
	for name := range configs {
		names = append(names, name)
	}
	slices.Sort(names)
	for _, name := range names {
		ch := buildOne(t, configs[name], testOptions())
		for _, v := range variants {
			t.Run(name+"/"+v.name, func(t *testing.T) {
				for i, target := range ch.Targets {
					if err := target.Notifier.Notify(context.Background(), v.msg); err != nil {
						t.Fatalf("Notify(%s) = %v, want nil", v.name, err)
					}
					file := name + "-" + v.name
					if len(ch.Targets) > 1 {
						file += fmt.Sprintf("-target%d", i)
					}
					golden(t, file, rec.sent())
				}
			})
		}
	}
}

// TestEscalationPerTarget sends the same reminder to two Pushover users with
// different escalation and checks that only the escalated one gets
// priority=1; Gotify's priority=10 follows the same flag.
func TestEscalationPerTarget(t *testing.T) {
	rec := newRecorder(t, http.StatusOK)
	configs := httpConfigs(rec.srv.URL)
	po := buildOne(t, configs["pushover"], testOptions())
	esc, plain := msgReminder, msgReminder
	plain.Escalated = false
	if err := po.Targets[0].Notifier.Notify(context.Background(), esc); err != nil {
		t.Fatal(err)
	}
	if got := rec.next(t); !strings.Contains(got, "&priority=1\n") {
		t.Errorf("escalated Pushover request has no priority=1:\n%s", got)
	}
	if err := po.Targets[1].Notifier.Notify(context.Background(), plain); err != nil {
		t.Fatal(err)
	}
	if got := rec.next(t); strings.Contains(got, "priority") {
		t.Errorf("non-escalated Pushover request has a priority:\n%s", got)
	}

	gt := buildOne(t, configs["gotify"], testOptions())
	for _, tt := range []struct {
		m    Message
		want bool
	}{{esc, true}, {plain, false}, {msgDead, false}} {
		if err := gt.Targets[0].Notifier.Notify(context.Background(), tt.m); err != nil {
			t.Fatal(err)
		}
		if got := strings.Contains(rec.next(t), "&priority=10\n"); got != tt.want {
			t.Errorf("Gotify %s escalated=%v: priority=10 sent = %v, want %v", tt.m.Kind, tt.m.Escalated, got, tt.want)
		}
	}
}

func TestTwilioTruncation(t *testing.T) {
	rec := newRecorder(t, http.StatusOK)
	ch := buildOne(t, httpConfigs(rec.srv.URL)["twilio"], testOptions())
	// Replica ids full of 3-byte characters; the padding is chosen so that
	// byte 996 falls inside one of them, where Vigil would cut (or panic).
	var m Message
	for pad := 0; pad < 50; pad++ {
		m = msgDead
		m.Dead = []string{"web:core:" + strings.Repeat("x", pad)}
		for i := range 40 {
			m.Dead = append(m.Dead, fmt.Sprintf("web:core:http://ñodé-%02d.example.com/€", i))
		}
		if full := smsBase(m); len(full) > smsMax && !utf8.RuneStart(full[smsKeep]) {
			break
		}
	}
	full := smsBase(m)
	if len(full) <= smsMax || utf8.RuneStart(full[smsKeep]) {
		t.Fatal("test message does not put byte 996 inside a character")
	}
	got := twilioText(m)
	if len(got) > smsMax || !utf8.ValidString(got) || !strings.HasSuffix(got, smsCut) {
		t.Errorf("twilioText = %d bytes, valid UTF-8 %v, ends with %q: want at most %d valid bytes ending with [..]",
			len(got), utf8.ValidString(got), got[len(got)-4:], smsMax)
	}
	if want := smsKeep - 1 + len(smsCut); len(got) != want && len(got) != want-1 {
		t.Errorf("twilioText = %d bytes, want the longest cut under %d bytes plus [..]", len(got), smsKeep)
	}
	if err := ch.Targets[0].Notifier.Notify(context.Background(), m); err != nil {
		t.Fatal(err)
	}
	golden(t, "twilio-truncated", rec.next(t))
}

func TestTruncateBytes(t *testing.T) {
	cases := []struct {
		in   string
		max  int
		keep int
		want string
	}{
		{"hello", 5, 3, "hello"},
		{"hello!", 5, 3, "hel.."},
		{"h€llo!", 5, 2, "h.."},  // byte 2 is inside €: cut before it
		{"h€llo!", 5, 4, "h€.."}, // byte 4 starts 'l'
		{"€€€", 5, 1, ".."},
	}
	for _, tc := range cases {
		if got := truncateBytes(tc.in, tc.max, tc.keep, ".."); got != tc.want {
			t.Errorf("truncateBytes(%q, %d, %d) = %q, want %q", tc.in, tc.max, tc.keep, got, tc.want)
		}
	}
}

func TestBuildOrderAndTargets(t *testing.T) {
	yes := true
	cfg := []Section{
		&Email{To: "a@example.com, b@example.com", From: "vigil@example.com",
			SMTPHost: "localhost", SMTPPort: 587, SMTPUsername: "vigil", SMTPEncrypt: &yes, Common: Common{RemindersOnly: true}},
		&Twilio{To: []string{"+1", "+2", "+3"}, AccountSID: "AC", AuthToken: "t", ServiceSID: "MG"},
		&Slack{HookURL: "https://hooks.slack.com/services/x"},
		&Zulip{APIURL: "https://x.zulipchat.com/api/v1/", Channel: "c"},
		&Telegram{BotToken: "1:x", ChatID: "1", Common: Common{RemindersOnly: true}},
		&Pushover{AppToken: "a", UserKeys: []string{"u1", "u2"}},
		&Gotify{AppURL: "https://gotify.example.com", AppToken: "g"},
		&XMPP{To: "ops@example.com", From: "vigil@example.com", XMPPPassword: "p"},
		&Matrix{HomeserverURL: "https://matrix.org", AccessToken: "m", RoomID: "!r:matrix.org"},
		&Webex{EndpointURL: "https://webexapis.com/v1/messages", Token: "w", RoomID: "r"},
		&Webhook{HookURL: "https://example.com/hook"},
	}
	channels, err := Build(cfg, Options{})
	if err != nil {
		t.Fatalf("Build: %v", err)
	}
	var names []string
	for _, c := range channels {
		names = append(names, c.Name)
		for _, tg := range c.Targets {
			if tg.Channel != c.Name {
				t.Errorf("%s target %q has Channel %q", c.Name, tg.Key, tg.Channel)
			}
		}
	}
	want := []string{"email", "twilio", "slack", "zulip", "telegram", "pushover", "gotify", "xmpp", "matrix", "webex", "webhook"}
	if !slices.Equal(names, want) {
		t.Errorf("Build order = %v, want %v", names, want)
	}
	keys := func(c Channel) []string {
		var k []string
		for _, tg := range c.Targets {
			k = append(k, tg.Key)
		}
		return k
	}
	if got := keys(channels[1]); !slices.Equal(got, []string{"+1", "+2", "+3"}) {
		t.Errorf("twilio target keys = %v, want one per number", got)
	}
	if got := keys(channels[5]); !slices.Equal(got, []string{"u1", "u2"}) {
		t.Errorf("pushover target keys = %v, want one per user key", got)
	}
	if got := keys(channels[0]); !slices.Equal(got, []string{""}) {
		t.Errorf("email target keys = %v, want one target for all recipients", got)
	}
	if !channels[0].RemindersOnly || !channels[4].RemindersOnly || channels[2].RemindersOnly {
		t.Errorf("RemindersOnly of email, slack, telegram = %v, %v, %v; want true, false, true",
			channels[0].RemindersOnly, channels[2].RemindersOnly, channels[4].RemindersOnly)
	}
	if len(channels[0].Warnings) != 1 || !strings.Contains(channels[0].Warnings[0], "without authentication") {
		t.Errorf("email Warnings = %q, want one about the missing smtp_password", channels[0].Warnings)
	}
	if tg, ok := Find(channels, "pushover", "u2"); !ok || tg.Key != "u2" {
		t.Errorf("Find(pushover, u2) = %+v, %v; want the second user", tg, ok)
	}
	if _, ok := Find(channels, "pushover", "gone"); ok {
		t.Error("Find(pushover, gone) found a target that is not configured")
	}
	if got, err := Build(nil, Options{}); got != nil || err != nil {
		t.Errorf("Build(nil) = %v, %v; want nil, nil", got, err)
	}
}

func TestBuildRejectsBadURL(t *testing.T) {
	_, err := Build([]Section{
		&Slack{HookURL: "hooks.slack.com/services/secretPath"},
		&Webhook{HookURL: "https://example.com/hook"},
	}, Options{})
	if err == nil || !strings.Contains(err.Error(), "notify.slack") {
		t.Fatalf("Build with a relative Slack URL = %v, want an error naming notify.slack", err)
	}
	if strings.Contains(err.Error(), "secretPath") {
		t.Errorf("Build error %q contains the hook URL", err)
	}
}

// TestNoSecretInErrors makes every HTTP channel fail in every way and checks
// that no token, password or secret URL part reaches the error text.
func TestNoSecretInErrors(t *testing.T) {
	echo := func(code int) http.HandlerFunc {
		// The worst server: it echoes everything it received.
		return func(w http.ResponseWriter, r *http.Request) {
			body, _ := io.ReadAll(r.Body)
			w.WriteHeader(code)
			fmt.Fprintf(w, "%s %s %s %s", r.URL.String(), r.Header.Get("Authorization"), body, r.URL.Path)
		}
	}
	// hang answers nothing until the test ends. It reads the body first:
	// only then does the server notice that the client went away.
	release := make(chan struct{})
	hang := func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.ReadAll(r.Body)
		select {
		case <-r.Context().Done():
		case <-release:
		}
	}

	closed := httptest.NewServer(http.NotFoundHandler())
	closedURL := closed.URL
	closed.Close()

	cases := []struct {
		name      string
		handler   http.HandlerFunc // nil: the server is gone
		timeout   time.Duration
		retryable bool
	}{
		{"500 echo", echo(http.StatusInternalServerError), 0, true},
		{"400 echo", echo(http.StatusBadRequest), 0, false},
		{"401 echo", echo(http.StatusUnauthorized), 0, false},
		{"closed", nil, 0, true},
		{"timeout", hang, 200 * time.Millisecond, true},
	}
	for _, tc := range cases {
		base := closedURL
		if tc.handler != nil {
			srv := httptest.NewServer(tc.handler)
			base = srv.URL
			t.Cleanup(srv.Close)
		}
		if tc.name == "timeout" {
			t.Cleanup(func() { close(release) }) // runs before srv.Close
		}
		for name, cfg := range httpConfigs(base) {
			t.Run(tc.name+"/"+name, func(t *testing.T) {
				ctx := context.Background()
				if tc.timeout > 0 {
					var cancel context.CancelFunc
					ctx, cancel = context.WithTimeout(ctx, tc.timeout)
					defer cancel()
				}
				ch := buildOne(t, cfg, testOptions())
				err := ch.Targets[0].Notifier.Notify(ctx, msgDead)
				if err == nil {
					t.Fatal("Notify = nil, want an error")
				}
				text := err.Error() + fmt.Sprintf(" %v %+v", err, err)
				for _, s := range httpSecrets {
					if strings.Contains(text, s) {
						t.Errorf("error %q contains secret %q", err, s)
					}
				}
				if strings.Contains(text, base+"/") {
					t.Errorf("error %q contains the request URL", err)
				}
				if retry, _ := ShouldRetry(err); retry != tc.retryable {
					t.Errorf("ShouldRetry(%v) = %v, want %v", err, retry, tc.retryable)
				}
			})
		}
	}
}

func TestPostClassification(t *testing.T) {
	now := time.Date(2026, 11, 22, 9, 0, 0, 0, time.UTC)
	cases := []struct {
		code       int
		retryAfter string
		body       string
		retry      bool
		after      time.Duration
		detail     string
	}{
		{200, "", "", false, 0, ""},
		{204, "", "", false, 0, ""},
		{429, "7", "", true, 7 * time.Second, ""},
		{503, now.Add(90 * time.Second).Format(http.TimeFormat), "", true, 90 * time.Second, ""},
		{502, "soon", "", true, 0, ""},
		{500, "", "", true, 0, ""},
		{404, "", "no such\n  hook", false, 0, "no such hook"},
		{400, "", strings.Repeat("x", 500), false, 0, strings.Repeat("x", detailMax)},
		{301, "", "", false, 0, ""}, // a redirect without Location is a final answer
	}
	for _, tc := range cases {
		t.Run(fmt.Sprint(tc.code), func(t *testing.T) {
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if tc.retryAfter != "" {
					w.Header().Set("Retry-After", tc.retryAfter)
				}
				w.WriteHeader(tc.code)
				io.WriteString(w, tc.body)
			}))
			defer srv.Close()
			p := poster{client: srv.Client(), userAgent: "vigil/test", now: func() time.Time { return now }}
			err := p.post(context.Background(), request{url: srv.URL, contentType: contentJSON, body: []byte("{}")})
			if tc.code < 300 {
				if err != nil {
					t.Fatalf("post = %v, want nil", err)
				}
				return
			}
			var e *Error
			if !errors.As(err, &e) {
				t.Fatalf("post = %v, want *Error", err)
			}
			if e.Status != tc.code || e.Retryable != tc.retry || e.RetryAfter != tc.after || e.Detail != tc.detail {
				t.Errorf("post = {Status %d, Retryable %v, RetryAfter %v, Detail %q}, want {%d, %v, %v, %q}",
					e.Status, e.Retryable, e.RetryAfter, e.Detail, tc.code, tc.retry, tc.after, tc.detail)
			}
			if retry, after := ShouldRetry(err); retry != tc.retry || after != tc.after {
				t.Errorf("ShouldRetry = %v, %v; want %v, %v", retry, after, tc.retry, tc.after)
			}
		})
	}
}

func TestJoinURL(t *testing.T) {
	cases := []struct {
		base string
		segs []string
		want string
	}{
		{"https://gotify.example.com", []string{"message"}, "https://gotify.example.com/message"},
		{"https://gotify.example.com/", []string{"message"}, "https://gotify.example.com/message"},
		{"https://example.com/gotify", []string{"message"}, "https://example.com/gotify/message"},
		{"https://example.com/gotify/", []string{"message"}, "https://example.com/gotify/message"},
		{"https://x.zulipchat.com/api/v1/", []string{"messages"}, "https://x.zulipchat.com/api/v1/messages"},
		{"https://x.zulipchat.com/api/v1", []string{"messages"}, "https://x.zulipchat.com/api/v1/messages"},
		{"https://matrix.org", []string{"_matrix", "client", "r0", "rooms", "!abc:matrix.org", "send", "m.room.message"},
			"https://matrix.org/_matrix/client/r0/rooms/!abc:matrix.org/send/m.room.message"},
		{"https://matrix.org", []string{"rooms", "#alias:matrix.org?x"}, "https://matrix.org/rooms/%23alias:matrix.org%3Fx"},
		{"https://api.telegram.org/", []string{"bot123:AB-c_d", "sendMessage"}, "https://api.telegram.org/bot123:AB-c_d/sendMessage"},
		{"https://proxy.example.com/a%20b/", []string{"1", "messages.json"}, "https://proxy.example.com/a%20b/1/messages.json"},
	}
	for _, tc := range cases {
		u, err := joinURL(tc.base, tc.segs...)
		if err != nil {
			t.Errorf("joinURL(%q, %q) error %v", tc.base, tc.segs, err)
			continue
		}
		if got := u.String(); got != tc.want {
			t.Errorf("joinURL(%q, %q) = %q, want %q", tc.base, tc.segs, got, tc.want)
		}
	}
	for _, bad := range []string{"", "example.com/x", "/relative", "http://[::1"} {
		if _, err := joinURL(bad); err == nil {
			t.Errorf("joinURL(%q) = nil error, want one", bad)
		}
	}
}

func TestTelegramChatID(t *testing.T) {
	cases := []struct {
		in   string
		want string // JSON
	}{
		{"123456789", `123456789`},
		{"+42", `42`},
		{"@vigil_alerts", `"@vigil_alerts"`},
		{"-1001234567890", `"-1001234567890"`},
		{"18446744073709551616", `"18446744073709551616"`}, // overflows u64
		{"", `""`},
	}
	for _, tc := range cases {
		b, err := json.Marshal(telegramChatID(tc.in))
		if err != nil {
			t.Fatal(err)
		}
		if string(b) != tc.want {
			t.Errorf("telegramChatID(%q) = %s, want %s", tc.in, b, tc.want)
		}
	}
}
