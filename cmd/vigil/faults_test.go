package main

import (
	"database/sql"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	neturl "net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/vigil-go/vigil/internal/config/configtest"
	"github.com/vigil-go/vigil/internal/status"
	"github.com/vigil-go/vigil/internal/store/pgtest"
	"github.com/vigil-go/vigil/internal/testkit/faultnet"
)

// The store-fault suite: vigil runs on a database that becomes unavailable
// (refusing connections, hanging, or full) while a target goes down and
// comes back. Each test asserts the exact webhook messages: the outage and
// its recovery are both announced during the fault, once each, and nothing
// is sent again when the store returns.

// storeFault is a database for vigil that a test can make sick and heal.
type storeFault struct {
	storage string // the [storage] section
	sicken  func(t *testing.T)
	heal    func(t *testing.T)
}

// faultConfig polls target every second, alerts through hook only, and
// beats to heartbeat every second.
func faultConfig(target, hook, heartbeat, storage string) string {
	return fmt.Sprintf(`[server]
log_level = "info"
inet = "127.0.0.1:0"
manager_token = "m"
reporter_token = "r"

`+configtest.Branding+`
[metrics]
poll_interval = 1
poll_retry = 0
poll_delay_dead = 1
poll_delay_sick = 1

[[probe.service]]
id = "web"
label = "Web"

[[probe.service.node]]
id = "api"
label = "API"
mode = "poll"
replicas = ["%s/health"]

[notify]
startup_notification = false
heartbeat_url = "%s"
heartbeat_interval = 1

[notify.webhook]
hook_url = "%s"

%s
`, target, heartbeat, hook, storage)
}

// hookMessage is the part of a webhook payload the suite checks.
type hookMessage struct {
	Type      string   `json:"type"`
	Status    string   `json:"status"`
	Replicas  []string `json:"replicas"`
	Recovered []string `json:"recovered"`
}

func (m hookMessage) String() string {
	return fmt.Sprintf("%s %s replicas=%v recovered=%v", m.Type, m.Status, m.Replicas, m.Recovered)
}

func decodeHooks(t *testing.T, bodies []string) []string {
	t.Helper()
	out := make([]string, len(bodies))
	for i, b := range bodies {
		var m hookMessage
		if err := json.Unmarshal([]byte(b), &m); err != nil {
			t.Fatalf("webhook body %q: %v", b, err)
		}
		out[i] = m.String()
	}
	return out
}

// runThroughFault starts vigil on the fault's database, makes it sick,
// takes the target down and up again, heals the database, and checks what
// the webhook received and what the log said.
func runThroughFault(t *testing.T, f storeFault) {
	var failing atomic.Bool
	target := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if failing.Load() {
			http.Error(w, "down for the test", http.StatusServiceUnavailable)
		}
	}))
	defer target.Close()
	hook := &hookServer{code: http.StatusOK}
	hookSrv := httptest.NewServer(hook)
	defer hookSrv.Close()
	var beats atomic.Int64
	beatSrv := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { beats.Add(1) }))
	defer beatSrv.Close()
	beatsGrow := func(what string) {
		t.Helper()
		from := beats.Load()
		eventually(t, 15*time.Second, what, func() bool { return beats.Load() >= from+2 })
	}

	dir := t.TempDir()
	cfg := filepath.Join(dir, "config.cfg")
	if err := os.WriteFile(cfg, []byte(faultConfig(target.URL, hookSrv.URL+"/hook", beatSrv.URL+"/ping", f.storage)), 0o600); err != nil {
		t.Fatal(err)
	}
	v := startVigil(t, cfg)
	v.waitReport(t, "the API healthy", func(r statusReport) bool { return r.Health == status.Healthy })
	time.Sleep(1500 * time.Millisecond) // the engine has settled on a healthy page
	beatsGrow("heartbeats before the fault")

	f.sicken(t)
	time.Sleep(time.Second)
	failing.Store(true)
	const within = 30 * time.Second
	dead := "changed dead replicas=[web:api:" + target.URL + "/health] recovered=[]"
	eventually(t, within, "the dead alert during the fault", func() bool { return len(hook.got()) >= 1 })
	failing.Store(false)
	eventually(t, within, "the recovery during the fault", func() bool { return len(hook.got()) >= 2 })
	during := decodeHooks(t, hook.got())
	recovered := "changed healthy replicas=[] recovered=[web:api:" + target.URL + "/health]"
	if len(during) != 2 || during[0] != dead || during[1] != recovered {
		t.Fatalf("webhook during the fault:\n%s\nwant:\n%s\n%s", strings.Join(during, "\n"), dead, recovered)
	}
	if out := v.output(); !strings.Contains(out, "level=WARN") || !strings.Contains(out, "without durability") {
		t.Errorf("no warning that alerts are delivered without durability:\n%s", out)
	}
	// Alerts wait in memory for the store: the dead man's switch must not
	// hear that all is well.
	time.Sleep(1500 * time.Millisecond) // a beat in flight ends
	before := beats.Load()
	time.Sleep(2500 * time.Millisecond)
	if n := beats.Load() - before; n != 0 {
		t.Errorf("%d heartbeats sent while alerts could not be stored, want none", n)
	}

	f.heal(t)
	v.await(t, "notifications are durable again")
	beatsGrow("heartbeats after the store came back")
	time.Sleep(3 * time.Second) // a message written back as pending would be sent again by now
	if after := decodeHooks(t, hook.got()); len(after) != 2 {
		t.Errorf("webhook after the store came back:\n%s\nwant the same two messages only", strings.Join(after, "\n"))
	}
}

// TestPostgresUnavailable refuses every connection to vigil's database and
// ends the ones open (ALLOW_CONNECTIONS false, pg_terminate_backend).
func TestPostgresUnavailable(t *testing.T) {
	url, name, admin := pgtest.FreshDatabase(t)
	exec := func(t *testing.T, q string) {
		t.Helper()
		if _, err := admin.Exec(q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	runThroughFault(t, storeFault{
		storage: fmt.Sprintf("[storage]\ndriver = \"postgres\"\nurl = %q\n", url),
		sicken: func(t *testing.T) {
			exec(t, "ALTER DATABASE "+name+" ALLOW_CONNECTIONS false")
			exec(t, "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '"+name+"'")
		},
		heal: func(t *testing.T) { exec(t, "ALTER DATABASE "+name+" ALLOW_CONNECTIONS true") },
	})
	waitStoredDelivered(t, url)
}

// TestPostgresHung puts vigil's database behind a relay that stops
// answering: connections open and new stay up and nothing comes back.
func TestPostgresHung(t *testing.T) {
	url, _, _ := pgtest.FreshDatabase(t)
	u, err := neturl.Parse(url)
	if err != nil {
		t.Fatal(err)
	}
	relay := faultnet.Start(t, u.Host) // the test server, wherever scripts/test runs it
	u.Host = relay.Addr()
	viaRelay := u.String()
	runThroughFault(t, storeFault{
		storage: fmt.Sprintf("[storage]\ndriver = \"postgres\"\nurl = %q\n", viaRelay),
		sicken:  func(*testing.T) { relay.Set(faultnet.Hang) },
		heal:    func(*testing.T) { relay.Set(faultnet.Pass) },
	})
	waitStoredDelivered(t, url)
}

// TestSQLiteFull runs vigil's SQLite database on a small tmpfs and fills
// it during the fault. Mounting needs root; elsewhere the test is skipped.
func TestSQLiteFull(t *testing.T) {
	if os.Getuid() != 0 {
		t.Skip("mounting a small tmpfs to fill needs root")
	}
	dir := t.TempDir()
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size=8m", "tmpfs", dir).CombinedOutput(); err != nil {
		t.Skipf("cannot mount a tmpfs: %v %s", err, out)
	}
	t.Cleanup(func() { exec.Command("umount", "-l", dir).Run() })
	filler := filepath.Join(dir, "filler")
	runThroughFault(t, storeFault{
		storage: fmt.Sprintf("[storage]\npath = %q\n", filepath.Join(dir, "vigil.db")),
		sicken: func(t *testing.T) {
			// dd stops with "No space left on device": that is the point.
			exec.Command("dd", "if=/dev/zero", "of="+filler, "bs=64k").Run()
			if fi, err := os.Stat(filler); err != nil || fi.Size() == 0 {
				t.Fatalf("could not fill the file system: %v", err)
			}
		},
		heal: func(t *testing.T) {
			if err := os.Remove(filler); err != nil {
				t.Fatal(err)
			}
		},
	})
}

// waitStoredDelivered checks, once the database is back, that the outbox
// holds both alerts as delivered, each once.
func waitStoredDelivered(t *testing.T, url string) {
	t.Helper()
	db, err := sql.Open("pgx", url)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var got string
	eventually(t, 15*time.Second, "both alerts recorded as delivered", func() bool {
		err := db.QueryRow(`SELECT COALESCE(string_agg(state, ',' ORDER BY seq), '') FROM outbox`).Scan(&got)
		return err == nil && got == "delivered,delivered"
	})
}
