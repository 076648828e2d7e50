package main

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/vigil-go/vigil/internal/config/configtest"
)

// baseConfig is a valid configuration with one poll node whose replicas
// are the given URLs, polled every second, followed by extra.
func baseConfig(t *testing.T, replicas []string, extra string) string {
	t.Helper()
	dir := t.TempDir()
	quoted := make([]string, len(replicas))
	for i, r := range replicas {
		quoted[i] = fmt.Sprintf("%q", r)
	}
	cfg := fmt.Sprintf(`[server]
log_level = "info"
manager_token = "m"
reporter_token = "r"
inet = "127.0.0.1:0"

`+configtest.Branding+`page_title = "Test Status"

[metrics]
poll_interval = 1
poll_retry = 0
poll_delay_dead = 2

[storage]
path = %q

[[probe.service]]
id = "web"
label = "Web"

[[probe.service.node]]
id = "lb"
label = "Load balancer"
mode = "poll"
replicas = [%s]

%s
`, filepath.Join(dir, "vigil.db"), strings.Join(quoted, ", "), extra)
	path := filepath.Join(dir, "config.cfg")
	if err := os.WriteFile(path, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// hookServer records the bodies posted to it and answers with code.
type hookServer struct {
	mu     sync.Mutex
	code   int
	bodies []string
}

func (h *hookServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	b, _ := io.ReadAll(r.Body)
	h.mu.Lock()
	h.bodies = append(h.bodies, string(b))
	code := h.code
	h.mu.Unlock()
	w.WriteHeader(code)
}

func (h *hookServer) got() []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]string(nil), h.bodies...)
}

// closedPort returns a loopback address nothing listens on.
func closedPort(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

func TestNotifyTest(t *testing.T) {
	slack := &hookServer{code: 200}
	slackSrv := httptest.NewServer(slack)
	defer slackSrv.Close()
	hook := &hookServer{code: 500}
	hookSrv := httptest.NewServer(hook)
	defer hookSrv.Close()
	cfg := baseConfig(t, []string{"tcp://" + closedPort(t)}, fmt.Sprintf(`[notify]
[notify.slack]
hook_url = "%s/services/T000/B000/very-secret-token"
[notify.webhook]
hook_url = "%s/hook?key=another-secret-key"
`, slackSrv.URL, hookSrv.URL))

	out, stderr, code := vigil(t, "notify-test", "-c", cfg)
	if code != 1 {
		t.Errorf("exit code = %d, want 1 (the webhook failed)", code)
	}
	want := "slack: delivered\nwebhook: failed: status 500 Internal Server Error\n"
	if out != want {
		t.Errorf("output = %q, want %q (stderr %q)", out, want, stderr)
	}
	if s := slack.got(); len(s) != 1 || !strings.Contains(s[0], "Status started up, as: *healthy*.") {
		t.Errorf("slack received %q, want one test message", s)
	}
	if strings.Contains(out+stderr, "secret") {
		t.Errorf("a secret leaked into the output: %q %q", out, stderr)
	}

	// Only the channels named.
	out, _, code = vigil(t, "notify-test", "-c", cfg, "slack")
	if code != 0 || out != "slack: delivered\n" {
		t.Errorf("notify-test slack = %q, exit %d; want slack delivered, exit 0", out, code)
	}
	if n := len(hook.got()); n != 1 {
		t.Errorf("the webhook got %d requests, want 1 (not tested the second time)", n)
	}

	_, stderr, code = vigil(t, "notify-test", "-c", cfg, "slack", "pigeon")
	if code != 1 || !strings.Contains(stderr, `unknown channel "pigeon" (configured: slack, webhook)`) {
		t.Errorf("unknown channel: %q, exit %d; want the name and the configured channels, exit 1", stderr, code)
	}
}

// TestKillBeforeDelivery: vigil records an alert while the webhook is down
// and is killed with SIGKILL before delivering it. Restarted once the
// webhook is up, it delivers the alert exactly once and does not announce
// the outage again.
func TestKillBeforeDelivery(t *testing.T) {
	hookAddr := closedPort(t)
	cfg := baseConfig(t, []string{"tcp://" + closedPort(t)}, fmt.Sprintf(`[notify]
startup_notification = false
[notify.webhook]
hook_url = "http://%s/hook"
`, hookAddr))

	first := startVigil(t, cfg)
	first.await(t, `msg="alert queued" kind=changed status=dead`)
	first.await(t, "notification not delivered, will retry")
	if err := first.cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	first.cmd.Wait()

	hook := &hookServer{code: 200}
	ln, err := net.Listen("tcp", hookAddr)
	if err != nil {
		t.Skipf("port %s was taken meanwhile: %v", hookAddr, err)
	}
	srv := &http.Server{Handler: hook}
	go srv.Serve(ln)
	defer srv.Close()

	second := startVigil(t, cfg)
	second.await(t, "alerting resumes an announced outage")
	second.await(t, `msg="notification delivered" channel=webhook kind=changed`)
	// Give a wrong restart time to announce the outage again: the replica
	// is checked every second and the page re-aggregated at once.
	time.Sleep(4 * time.Second)
	got := hook.got()
	if len(got) != 1 || !strings.Contains(got[0], `"type":"changed","status":"dead"`) || !strings.Contains(got[0], `"replicas":["web:lb:tcp://`) {
		t.Errorf("webhook received %q, want the outage once", got)
	}
	if n := strings.Count(second.output(), `msg="alert queued"`); n != 0 {
		t.Errorf("the restarted vigil queued %d alerts, want none:\n%s", n, second.output())
	}
}

// TestNotifyTestReachesIncidentTools checks that notify-test reaches
// PagerDuty and Opsgenie, which take no startup message, with the recovery
// of a test outage: a resolve and a close, which open nothing.
func TestNotifyTestReachesIncidentTools(t *testing.T) {
	srv := &hookServer{code: 202}
	s := httptest.NewServer(srv)
	defer s.Close()
	cfg := baseConfig(t, []string{"tcp://" + closedPort(t)}, fmt.Sprintf(`[notify]
[notify.pagerduty]
routing_key = "pd-secret-routing-key"
api_url = "%[1]s/v2/enqueue"
[notify.opsgenie]
api_key = "og-secret-api-key"
api_url = "%[1]s"
[notify.ntfy]
topic_url = "%[1]s/alerts"
`, s.URL))
	out, stderr, code := vigil(t, "notify-test", "-c", cfg)
	if want := "pagerduty: delivered\nopsgenie: delivered\nntfy: delivered\n"; code != 0 || out != want {
		t.Errorf("notify-test = %q, exit %d (stderr %q); want %q, exit 0", out, code, stderr, want)
	}
	got := srv.got()
	if len(got) != 3 || !strings.Contains(got[0], `"event_action":"resolve"`) || !strings.Contains(got[1], `"note":`) ||
		!strings.Contains(got[2], "Status started up, as: healthy.") {
		t.Errorf("requests = %q, want a PagerDuty resolve, an Opsgenie close and the ntfy startup message", got)
	}
}
