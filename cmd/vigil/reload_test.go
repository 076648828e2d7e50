package main

import (
	"cmp"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/vigil-go/vigil/internal/config/configtest"
	"github.com/vigil-go/vigil/internal/status"
)

// reloadSetup is what reloadConfig writes: the parts the reload tests
// change between two versions of the file.
type reloadSetup struct {
	dir      string // the config's and the store's directory
	inet     string // "127.0.0.1:0" when empty
	manager  string // the manager token, "m" when empty
	level    string // log_level, "info" when empty
	db       string // the SQLite file in dir, "vigil.db" when empty
	title    string
	server   string // extra [server] keys
	metrics  string // extra [metrics] keys
	storage  string // extra [storage] keys
	services string // [[probe.service]] tables
	extra    string // further tables ([notify], …)
}

// write writes the config to dir/config.cfg and returns its path. It
// writes a new file and renames it over the old one, as editors do, so
// that vigil never reads half a file.
func (s reloadSetup) write(t *testing.T) string {
	t.Helper()
	text := fmt.Sprintf(`[server]
log_level = %q
manager_token = %q
reporter_token = "reporter-secret"
inet = %q
metrics_enabled = true
%s

`+configtest.Branding+`page_title = %q

[metrics]
poll_interval = 1
poll_retry = 0
poll_delay_dead = 1
poll_delay_sick = 1
%s

[storage]
path = %q
%s

%s

%s
`, cmp.Or(s.level, "info"), cmp.Or(s.manager, "m"), cmp.Or(s.inet, "127.0.0.1:0"), s.server, s.title, s.metrics, filepath.Join(s.dir, cmp.Or(s.db, "vigil.db")), s.storage, s.services, s.extra)
	path := filepath.Join(s.dir, "config.cfg")
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, path); err != nil {
		t.Fatal(err)
	}
	return path
}

// countingServer answers code to every request and counts them.
type countingServer struct {
	code atomic.Int64
	hits atomic.Int64
	body string
}

func newCountingServer(t *testing.T, code int, body string) (*countingServer, string) {
	t.Helper()
	c := &countingServer{body: body}
	c.code.Store(int64(code))
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c.hits.Add(1)
		w.WriteHeader(int(c.code.Load()))
		io.WriteString(w, c.body)
	}))
	t.Cleanup(srv.Close)
	return c, srv.URL
}

func service(id, nodes string) string {
	return fmt.Sprintf("[[probe.service]]\nid = %q\nlabel = %q\n%s\n", id, id, nodes)
}

func node(id, mode string, keys ...string) string {
	return fmt.Sprintf("\n[[probe.service.node]]\nid = %q\nlabel = %q\nmode = %q\n%s\n", id, id, mode, strings.Join(keys, "\n"))
}

func replicas(urls ...string) string {
	q := make([]string, len(urls))
	for i, u := range urls {
		q[i] = strconv.Quote(u)
	}
	return "replicas = [" + strings.Join(q, ", ") + "]"
}

// hup sends vigil SIGHUP and waits for the n-th reload to be over
// (applied or refused).
func (v *running) hup(t *testing.T, n int) {
	t.Helper()
	if err := v.cmd.Process.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	v.awaitCount(t, n, `msg="config reloaded"`, `msg="config reload refused: the running config stays"`)
}

// awaitCount waits up to 30 s for n log lines holding any of subs.
func (v *running) awaitCount(t *testing.T, n int, subs ...string) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		got := 0
		for _, s := range subs {
			got += strings.Count(v.output(), s)
		}
		if got >= n {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d of %d log lines with %q after 30 s; log:\n%s", got, n, subs, v.output())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// noRace fails the test if the race detector spoke in vigil's output: the
// binary under test is built with -race, and a reload races with serving
// and probing if anything does.
func (v *running) noRace(t *testing.T) {
	t.Helper()
	if strings.Contains(v.output(), "DATA RACE") {
		t.Errorf("the race detector found a race:\n%s", v.output())
	}
}

// metric returns the value of a metric without labels from /metrics.
func (v *running) metric(t *testing.T, name string) float64 {
	t.Helper()
	m := regexp.MustCompile(`(?m)^` + name + ` (\S+)$`).FindStringSubmatch(v.get(t, "metrics"))
	if m == nil {
		t.Fatalf("no %s in /metrics", name)
	}
	f, err := strconv.ParseFloat(m[1], 64)
	if err != nil {
		t.Fatal(err)
	}
	return f
}

// TestReloadApplies: a SIGHUP applies a new config without a restart. A
// removed node stops being probed and leaves /status/report; an added one
// is probed within its interval; a node whose expectation changed is judged
// by it from its next check; an unchanged replica keeps its status (checked
// once an hour, it would show unchecked otherwise); a push replica keeps
// its last report; the branding and the manager token change at once.
func TestReloadApplies(t *testing.T) {
	kept, keptURL := newCountingServer(t, http.StatusOK, "all good")
	gone, goneURL := newCountingServer(t, http.StatusServiceUnavailable, "down")
	added, addedURL := newCountingServer(t, http.StatusOK, "ok")
	hourly, hourlyURL := newCountingServer(t, http.StatusServiceUnavailable, "down")

	s := reloadSetup{dir: t.TempDir(), title: "Before Reload",
		services: service("web",
			node("api", "poll", replicas(keptURL+"/health"))+
				node("old", "poll", replicas(goneURL+"/"))+
				node("hourly", "poll", replicas(hourlyURL+"/"), "poll_interval = 3600")) +
			service("fleet", node("workers", "push"))}
	v := startVigil(t, s.write(t))
	if code := v.report(t, "fleet", "workers", `{"replica":"w1","interval":60,"load":{"cpu":0.1,"ram":0.2}}`); code != http.StatusOK {
		t.Fatalf("report: %d", code)
	}
	v.waitReport(t, "api healthy, old dead, hourly dead", func(r statusReport) bool {
		return len(r.node("api").Replicas) == 1 && r.node("hourly").Status == status.Dead && r.node("old").Status == status.Dead &&
			len(r.node("workers").Replicas) == 1
	})
	v.await(t, `node=web:old title=`) // resolved by the reload, below
	if code, body := v.manage(t, http.MethodPut, "manager/prober/alerts/ignored", `{"reminders_seconds":600}`); code != http.StatusOK {
		t.Fatalf("mute reminders: %d %s", code, body)
	}
	startedAt := v.metric(t, "vigil_config_last_reload_success_timestamp_seconds")
	if v.metric(t, "vigil_config_last_reload_successful") != 1 || startedAt == 0 {
		t.Fatalf("at start: successful %v, timestamp %v", v.metric(t, "vigil_config_last_reload_successful"), startedAt)
	}

	s.title = "After Reload"
	s.manager = "m2"
	s.services = service("web",
		node("added", "poll", replicas(addedURL+"/"))+
			node("api", "poll", replicas(keptURL+"/health"), `http_body_healthy_match = "^everything fine$"`)+
			node("hourly", "poll", replicas(hourlyURL+"/"), "poll_interval = 3600")) +
		service("fleet", node("workers", "push"))
	s.write(t)
	time.Sleep(10 * time.Millisecond) // a later timestamp than the start's
	v.hup(t, 1)
	if strings.Contains(v.output(), "refused") {
		t.Fatalf("reload refused:\n%s", v.output())
	}
	v.await(t, `nodes_added=[web:added] nodes_removed=[web:old] nodes_changed=[web:api]`)

	r := v.getReport(t)
	if n := r.node("old"); n.Name != "" {
		t.Errorf("removed node still in /status/report: %+v", n)
	}
	if n := r.node("hourly"); n.Status != status.Dead {
		t.Errorf("unchanged hourly node = %+v right after the reload, want still dead", n)
	}
	if n := r.node("workers"); len(n.Replicas) != 1 || n.Replicas[0] != status.Healthy {
		t.Errorf("push node after the reload = %+v, want its replica kept, healthy", n)
	}
	v.awaitCount(t, 1, `msg="incident resolved"`)
	if !regexp.MustCompile(`msg="incident resolved" id=\d+ node=web:old`).MatchString(v.output()) {
		t.Errorf("the removed node's incident was not resolved:\n%s", v.output())
	}
	stoppedAt := gone.hits.Load()
	v.waitReport(t, "added probed, api dead on its new body match", func(r statusReport) bool {
		return added.hits.Load() > 0 && r.node("api").Status == status.Dead && len(r.node("added").Replicas) == 1
	})
	if body := v.get(t, ""); !strings.Contains(body, "After Reload") || strings.Contains(body, "Before Reload") {
		t.Errorf("the page does not show the new title")
	}
	if code, _ := v.manage(t, http.MethodGet, "manager/announcements", ""); code != http.StatusForbidden {
		t.Errorf("old manager token after the reload: %d, want 403", code)
	}
	if code, _ := v.manageAs(t, "m2", http.MethodGet, "manager/announcements", ""); code != http.StatusOK {
		t.Errorf("new manager token after the reload: %d, want 200", code)
	}
	if code, body := v.manageAs(t, "m2", http.MethodGet, "manager/prober/alerts/ignored", ""); code != http.StatusOK || !strings.Contains(body, `"reminders_seconds":59`) {
		t.Errorf("reminder muting after the reload: %d %s, want the 600 s set before, counting down", code, body)
	}
	time.Sleep(2500 * time.Millisecond) // more than two intervals of the removed node
	if n := gone.hits.Load(); n > stoppedAt+1 {
		t.Errorf("removed node probed %d times after the reload", n-stoppedAt)
	}
	if kept.hits.Load() == 0 {
		t.Error("api never probed")
	}
	if ok, at := v.metric(t, "vigil_config_last_reload_successful"), v.metric(t, "vigil_config_last_reload_success_timestamp_seconds"); ok != 1 || at <= startedAt {
		t.Errorf("after the reload: successful %v, timestamp %v (start's %v)", ok, at, startedAt)
	}

	// The hourly node, now healthy, checked every second from its next
	// check: within seconds, not at the end of the hour.
	hourly.code.Store(http.StatusOK)
	s.services = strings.Replace(s.services, "poll_interval = 3600", "poll_interval = 1", 1)
	s.write(t)
	v.hup(t, 2)
	v.waitReport(t, "hourly healthy on its new interval", func(r statusReport) bool { return r.node("hourly").Status == status.Healthy })
	v.noRace(t)
	v.stop(t)
}

// TestReloadRefusesAnInvalidConfig: every problem is logged at error with
// its place, the running config keeps serving, and the metric says so
// until a valid file is loaded.
func TestReloadRefusesAnInvalidConfig(t *testing.T) {
	_, url := newCountingServer(t, http.StatusOK, "ok")
	s := reloadSetup{dir: t.TempDir(), title: "Running Title", services: service("web", node("api", "poll", replicas(url+"/")))}
	path := s.write(t)
	v := startVigil(t, path)
	v.waitReport(t, "api checked", func(r statusReport) bool { return len(r.node("api").Replicas) == 1 })

	bad := s
	bad.title = "Broken Title"
	bad.metrics = "poll_parallelism = 0"
	bad.services = service("web", node("api", "poll", replicas("udp://127.0.0.1:53")))
	bad.write(t)
	v.hup(t, 1)
	out := v.output()
	for _, want := range []string{
		`level=ERROR msg="config reload refused: ` + path + `:`,
		`metrics.poll_parallelism: must be at least 1, got 0`,
		`unsupported scheme \"udp\"`,
	} {
		if !strings.Contains(out, want) {
			t.Errorf("log lacks %q:\n%s", want, out)
		}
	}
	if n := strings.Count(out, `level=ERROR msg="config reload refused: `+path+":"); n != 2 {
		t.Errorf("%d problems logged, want 2:\n%s", n, out)
	}
	if body := v.get(t, ""); !strings.Contains(body, "Running Title") {
		t.Error("the page lost its title after a refused reload")
	}
	if r := v.getReport(t); len(r.node("api").Replicas) != 1 {
		t.Errorf("api after a refused reload: %+v", r.node("api"))
	}
	if ok := v.metric(t, "vigil_config_last_reload_successful"); ok != 0 {
		t.Errorf("vigil_config_last_reload_successful = %v after a refused reload, want 0", ok)
	}

	if strings.Contains(v.output(), `msg="probe result"`) {
		t.Fatal("debug lines logged at info")
	}
	s.title = "Fixed Title"
	s.level = "debug"
	s.write(t)
	v.hup(t, 2)
	v.await(t, `level=DEBUG msg="probe result"`) // log_level applies live
	if ok := v.metric(t, "vigil_config_last_reload_successful"); ok != 1 {
		t.Errorf("vigil_config_last_reload_successful = %v after a valid reload, want 1", ok)
	}
	if body := v.get(t, ""); !strings.Contains(body, "Fixed Title") {
		t.Error("the fixed config was not applied")
	}
	v.noRace(t)
}

// TestReloadRestartOnlyKeys: keys that need a new process are logged at
// warn, one line each, and keep their running value; the rest applies.
func TestReloadRestartOnlyKeys(t *testing.T) {
	_, url := newCountingServer(t, http.StatusOK, "ok")
	s := reloadSetup{dir: t.TempDir(), title: "Old Title", services: service("web", node("api", "poll", replicas(url+"/")))}
	v := startVigil(t, s.write(t))

	s.title = "New Title"
	s.inet = "127.0.0.1:1"
	s.db = "elsewhere.db"
	s.metrics = "poll_parallelism = 7"
	s.write(t)
	v.hup(t, 1)
	out := v.output()
	for _, key := range []string{"server.inet", "storage.path", "metrics.poll_parallelism"} {
		if !strings.Contains(out, `level=WARN msg="config reload: `+key+` needs a restart`) {
			t.Errorf("no warning that %s needs a restart:\n%s", key, out)
		}
	}
	if strings.Contains(out, "config reload refused") {
		t.Errorf("reload refused:\n%s", out)
	}
	if body := v.get(t, ""); !strings.Contains(body, "New Title") {
		t.Error("the live part (page_title) was not applied")
	}
	if _, err := os.Stat(filepath.Join(s.dir, "elsewhere.db")); err == nil {
		t.Error("the new storage path was opened before a restart")
	}
	v.noRace(t)
}

// TestReloadDuringAnOutage: an alert waits in the outbox for a webhook
// that is down when vigil reloads; once the webhook is back, the alert is
// delivered exactly once, and the reload neither forgets the announced
// outage nor announces it again.
func TestReloadDuringAnOutage(t *testing.T) {
	hookAddr := closedPort(t)
	notifyCfg := fmt.Sprintf("[notify]\nstartup_notification = false\n\n[notify.webhook]\nhook_url = \"http://%s/hook\"\n", hookAddr)
	s := reloadSetup{dir: t.TempDir(), title: "Outage", extra: notifyCfg,
		services: service("web", node("lb", "poll", replicas("tcp://"+closedPort(t))))}
	v := startVigil(t, s.write(t))
	v.await(t, `msg="alert queued" kind=changed status=dead`)
	v.await(t, "notification not delivered, will retry")

	s.title = "Outage, reloaded"
	s.extra = notifyCfg + "reminders_only = false\n" // the channel's table changes too
	s.write(t)
	v.hup(t, 1)

	hook := &hookServer{code: 200}
	ln, err := net.Listen("tcp", hookAddr)
	if err != nil {
		t.Skipf("port %s was taken meanwhile: %v", hookAddr, err)
	}
	srv := &http.Server{Handler: hook}
	go srv.Serve(ln)
	defer srv.Close()

	v.await(t, `msg="notification delivered" channel=webhook kind=changed`)
	time.Sleep(4 * time.Second) // the replica is checked every second: time for a wrong second alert
	got := hook.got()
	if len(got) != 1 || !strings.Contains(got[0], `"type":"changed","status":"dead"`) {
		t.Errorf("webhook received %q, want the outage once", got)
	}
	if n := strings.Count(v.output(), `msg="alert queued"`); n != 1 {
		t.Errorf("%d alerts queued, want 1 (no second announcement after the reload):\n%s", n, v.output())
	}
	v.noRace(t)
}

// TestWatchConfig: with watch_config, saving the file (by rename, as
// editors do) reloads it once, without a signal.
func TestWatchConfig(t *testing.T) {
	_, url := newCountingServer(t, http.StatusOK, "ok")
	s := reloadSetup{dir: t.TempDir(), title: "Watched Before", server: "watch_config = true",
		services: service("web", node("api", "poll", replicas(url+"/")))}
	v := startVigil(t, s.write(t))

	s.title = "Watched After"
	s.services += service("more", node("extra", "poll", replicas(url+"/more")))
	s.write(t)
	v.awaitCount(t, 1, `msg="config reloaded" trigger="file changed"`)
	if body := v.get(t, ""); !strings.Contains(body, "Watched After") {
		t.Error("the watched change was not applied")
	}
	v.waitReport(t, "the added node", func(r statusReport) bool { return len(r.node("extra").Replicas) == 1 })
	time.Sleep(5 * time.Second) // two more looks at the file
	if n := strings.Count(v.output(), `msg="config reloaded"`); n != 1 {
		t.Errorf("%d reloads for one save, want 1:\n%s", n, v.output())
	}

	// Turned off by a reload, the watch stops.
	s.server = "watch_config = false"
	s.write(t)
	v.awaitCount(t, 2, `msg="config reloaded" trigger="file changed"`)
	s.title = "Not Watched"
	s.write(t)
	time.Sleep(5 * time.Second)
	if n := strings.Count(v.output(), `msg="config reloaded"`); n != 2 {
		t.Errorf("%d reloads, want 2: the watch went on after watch_config = false", n)
	}
	v.noRace(t)
}
