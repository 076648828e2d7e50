package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/vigil-go/vigil/internal/config/configtest"
	"github.com/vigil-go/vigil/internal/testkit/requires"
)

// The cluster test runs three vigil processes on one private PostgreSQL
// server, each probing from its own loopback address (Linux routes all of
// 127.0.0.0/8 to lo), against a target that fails for chosen source
// addresses only. Timings: heartbeat 1 s, member timeout 3 s, poll 1 s.
const memberTimeout = 3 * time.Second

// flakyTarget answers 500 to probes from the failing source addresses.
type flakyTarget struct {
	mu      sync.Mutex
	failing map[string]bool
}

func (f *flakyTarget) set(ips ...string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.failing = map[string]bool{}
	for _, ip := range ips {
		f.failing[ip] = true
	}
}

func (f *flakyTarget) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	host, _, _ := net.SplitHostPort(r.RemoteAddr)
	f.mu.Lock()
	fail := f.failing[host]
	f.mu.Unlock()
	if fail {
		http.Error(w, "failing for "+host, http.StatusInternalServerError)
		return
	}
	w.WriteHeader(http.StatusOK)
}

// member is one vigil process of the cluster.
type member struct {
	id, label, source string
	*running
}

type clusterStatus struct {
	NodeID  string `json:"node_id"`
	Leader  string `json:"leader"`
	Members []struct {
		NodeID string `json:"node_id"`
		Label  string `json:"label"`
		Live   bool   `json:"live"`
	} `json:"members"`
}

func (m *member) status() (clusterStatus, error) {
	var s clusterStatus
	resp, err := http.Get(m.url + "status/cluster")
	if err != nil {
		return s, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 {
		return s, fmt.Errorf("GET /status/cluster: %s", resp.Status)
	}
	return s, json.NewDecoder(resp.Body).Decode(&s)
}

func (m *member) get(path string) string {
	resp, err := http.Get(m.url + path)
	if err != nil {
		return "error: " + err.Error()
	}
	defer resp.Body.Close()
	var b strings.Builder
	_, _ = bufio.NewReader(resp.Body).WriteTo(&b)
	return b.String()
}

// privatePostgres is a PostgreSQL server of the test's own, which it may
// stop and start (the machine's shared server is left alone).
type privatePostgres struct {
	t          *testing.T
	bin        string // the server's programs, whatever the major version
	data, sock string
	port       int
	asPostgres bool
}

func (p *privatePostgres) run(args ...string) {
	p.t.Helper()
	if p.asPostgres {
		args = append([]string{"-u", "postgres", "--"}, args...)
		args = append([]string{"runuser"}, args...)
	}
	out, err := exec.Command(args[0], args[1:]...).CombinedOutput()
	if err != nil {
		p.t.Fatalf("%s: %v\n%s", strings.Join(args, " "), err, out)
	}
}

func startPrivatePostgres(t *testing.T) *privatePostgres {
	bin := requires.PostgresBinDir(t)
	dir, err := os.MkdirTemp("", "vigil-pg")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	p := &privatePostgres{t: t, bin: bin, data: filepath.Join(dir, "data"), sock: dir, asPostgres: os.Getuid() == 0}
	if p.asPostgres {
		// initdb refuses to run as root.
		u, err := user.Lookup("postgres")
		if err != nil {
			requires.PostgresBin.Missing(t, "running as root without a postgres user for initdb: %v", err)
		}
		uid, _ := strconv.Atoi(u.Uid)
		gid, _ := strconv.Atoi(u.Gid)
		if err := os.Chmod(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.Chown(dir, uid, gid); err != nil {
			t.Fatal(err)
		}
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p.port = ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	p.run(p.bin+"/initdb", "-D", p.data, "-A", "trust", "-U", "postgres", "--no-sync")
	p.start()
	t.Cleanup(p.stop)
	return p
}

func (p *privatePostgres) start() {
	p.run(p.bin+"/pg_ctl", "-D", p.data, "-l", filepath.Join(p.sock, "log"), "-w", "start",
		"-o", fmt.Sprintf("-p %d -k %s -c listen_addresses=127.0.0.1 -c fsync=off", p.port, p.sock))
}

func (p *privatePostgres) stop() {
	p.run(p.bin+"/pg_ctl", "-D", p.data, "-m", "fast", "-w", "stop")
}

func (p *privatePostgres) url() string {
	return fmt.Sprintf("postgres://postgres@127.0.0.1:%d/postgres?sslmode=disable", p.port)
}

const clusterConfig = `
[server]
log_level = "info"
inet = "127.0.0.1:0"
manager_token = "m"
reporter_token = "r"
probe_source_address = "%s"

` + configtest.Branding + `
[metrics]
poll_interval = 1
poll_retry = 0
poll_delay_dead = 1
poll_delay_sick = 1

[storage]
driver = "postgres"
url = "%s"

[cluster]
enabled = true
node_id = "%s"
label = "%s"
confirmations = 2
heartbeat_interval = 1
member_timeout = 3

[[probe.service]]
id = "web"
label = "Web"

[[probe.service.node]]
id = "api"
label = "API"
mode = "poll"
replicas = ["%s"]

[notify]
startup_notification = false

[notify.webhook]
hook_url = "%s"
`

// startMemberWith starts m on tmpl, clusterConfig or a variant.
func startMemberWith(t *testing.T, tmpl, dir, dbURL, target, hook string, m *member) {
	t.Helper()
	cfg := filepath.Join(dir, m.id+".cfg")
	if err := os.WriteFile(cfg, []byte(fmt.Sprintf(tmpl, m.source, dbURL, m.id, m.label, target, hook)), 0o600); err != nil {
		t.Fatal(err)
	}
	m.running = startVigil(t, cfg)
}

// eventually polls cond every 100 ms until it holds or within passes.
func eventually(t *testing.T, within time.Duration, what string, cond func() bool) time.Duration {
	t.Helper()
	start := time.Now()
	for !cond() {
		if time.Since(start) > within {
			t.Fatalf("not within %v: %s", within, what)
		}
		time.Sleep(100 * time.Millisecond)
	}
	return time.Since(start)
}

// handedOff counts the distinct page hand-offs to the alerting into and
// out of dead, across the output of every member (the same key logged by
// two leaders is one alert: the outbox deduplicates it).
func handedOff(members []*member) (intoDead, outOfDead int) {
	re := regexp.MustCompile(`cluster: decided page status handed off" .*key=(\d+) from=(\w+) to=(\w+)`)
	seen := map[string]bool{}
	for _, m := range members {
		for _, l := range re.FindAllStringSubmatch(m.output(), -1) {
			if seen[l[1]] {
				continue
			}
			seen[l[1]] = true
			switch {
			case l[2] != "dead" && l[3] == "dead":
				intoDead++
			case l[2] == "dead" && l[3] != "dead":
				outOfDead++
			}
		}
	}
	return
}

// webhookSink receives the cluster's alerts, as a user's webhook would.
type webhookSink struct {
	mu              sync.Mutex
	intoDead, other int
}

func (w *webhookSink) ServeHTTP(rw http.ResponseWriter, r *http.Request) {
	var p struct{ Type, Status string }
	if err := json.NewDecoder(r.Body).Decode(&p); err != nil {
		http.Error(rw, err.Error(), http.StatusBadRequest)
		return
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	if p.Type == "changed" && p.Status == "dead" {
		w.intoDead++
	} else if p.Type == "changed" {
		w.other++
	}
}

// received waits until the webhook got exactly in alerts into dead and out
// out of it, and fails if it got more or, within 15 s, fewer.
func (w *webhookSink) received(t *testing.T, in, out int) {
	t.Helper()
	counts := func() (int, int) {
		w.mu.Lock()
		defer w.mu.Unlock()
		return w.intoDead, w.other
	}
	eventually(t, 15*time.Second, fmt.Sprintf("%d/%d webhook alerts into/out of dead", in, out), func() bool {
		i, o := counts()
		return i >= in && o >= out
	})
	time.Sleep(time.Second) // a duplicate would arrive by now
	if i, o := counts(); i != in || o != out {
		t.Fatalf("webhook alerts into/out of dead: %d/%d, want %d/%d", i, o, in, out)
	}
}

func transitions(t *testing.T, dbURL string) []string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, dbURL)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	rows, err := conn.Query(ctx, `SELECT from_health || '>' || to_health FROM cluster_transitions ORDER BY version`)
	if err != nil {
		t.Fatal(err)
	}
	out, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func queryString(t *testing.T, dbURL, sql string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, dbURL)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	var s string
	if err := conn.QueryRow(ctx, sql).Scan(&s); err != nil && err != pgx.ErrNoRows {
		t.Fatal(err)
	}
	return s
}

func pageStatus(ms []*member) string {
	var out []string
	for _, m := range ms {
		out = append(out, m.get("status/text"))
	}
	return strings.Join(out, ",")
}

// startThreeMembers starts a private PostgreSQL, a target, a webhook and
// three members on tmpl (clusterConfig or a variant), probing from
// 127.0.0.2, .3 and .4.
func startThreeMembers(t *testing.T, tmpl string) (*privatePostgres, *flakyTarget, *webhookSink, []*member) {
	t.Helper()
	pg := startPrivatePostgres(t)
	target := &flakyTarget{}
	ts := httptest.NewServer(target)
	t.Cleanup(ts.Close)
	hook := &webhookSink{}
	hs := httptest.NewServer(hook)
	t.Cleanup(hs.Close)
	dir := t.TempDir()
	members := []*member{
		{id: "n2", label: "eu-west", source: "127.0.0.2"},
		{id: "n3", label: "us-east", source: "127.0.0.3"},
		{id: "n4", label: "us-west", source: "127.0.0.4"},
	}
	for _, m := range members {
		startMemberWith(t, tmpl, dir, pg.url(), ts.URL+"/", hs.URL+"/", m)
	}
	return pg, target, hook, members
}

func TestClusterQuorumFailoverAndRestart(t *testing.T) {
	if testing.Short() {
		t.Skip("starts PostgreSQL and three vigil processes")
	}
	pg, target, hook, members := startThreeMembers(t, clusterConfig)
	allLive := func(ms []*member, n int) func() bool {
		return func() bool {
			for _, m := range ms {
				s, err := m.status()
				live := 0
				for _, x := range s.Members {
					if x.Live {
						live++
					}
				}
				if err != nil || s.Leader == "" || live != n {
					return false
				}
			}
			return true
		}
	}
	eventually(t, 20*time.Second, "three live members and a leader", allLive(members, 3))

	// Seen dead from one vantage point only: no flip, no alert.
	target.set("127.0.0.2")
	eventually(t, 10*time.Second, "eu-west's dead observation recorded", func() bool {
		return queryString(t, pg.url(), `SELECT health FROM cluster_observations WHERE member = 'n2'`) == "dead"
	})
	time.Sleep(3 * time.Second)
	if got := transitions(t, pg.url()); len(got) != 0 {
		t.Fatalf("one vantage point flipped the status: transitions %v", got)
	}
	if got := pageStatus(members); got != "healthy,healthy,healthy" {
		t.Fatalf("pages with one dissenting vantage point: %s, want healthy everywhere", got)
	}
	if in, _ := handedOff(members); in != 0 {
		t.Fatalf("%d alerts with one dissenting vantage point, want 0", in)
	}
	hook.received(t, 0, 0)

	// Seen dead from two: one flip, one alert, on every page.
	target.set("127.0.0.2", "127.0.0.3")
	eventually(t, 10*time.Second, "dead on every page", func() bool { return pageStatus(members) == "dead,dead,dead" })
	page := members[2].get("")
	if !strings.Contains(page, "dead from eu-west, us-east; healthy from us-west") {
		t.Errorf("the page does not say how each vantage point sees the replica")
	}
	time.Sleep(2 * time.Second)
	if got := transitions(t, pg.url()); strings.Join(got, " ") != "healthy>dead" {
		t.Fatalf("transitions %v, want one healthy>dead", got)
	}
	if in, _ := handedOff(members); in != 1 {
		t.Fatalf("%d alerts for one outage, want 1", in)
	}
	hook.received(t, 1, 0)

	// Recovery, confirmed by two as well.
	target.set("127.0.0.2")
	eventually(t, 10*time.Second, "healthy again", func() bool { return pageStatus(members) == "healthy,healthy,healthy" })

	// Kill the leader; an outage starts during the failover.
	s, err := members[0].status()
	if err != nil {
		t.Fatal(err)
	}
	var leader *member
	var rest []*member
	for _, m := range members {
		if m.id == s.Leader {
			leader = m
		} else {
			rest = append(rest, m)
		}
	}
	if leader == nil {
		t.Fatalf("leader %q is not a member", s.Leader)
	}
	leader.cmd.Process.Kill() // SIGKILL
	target.set(rest[0].source, rest[1].source)
	took := eventually(t, 2*memberTimeout, "another member leads", func() bool {
		s, err := rest[0].status()
		return err == nil && s.Leader != "" && s.Leader != leader.id
	})
	t.Logf("failover took %v", took)
	eventually(t, 10*time.Second, "the outage during the failover shown", func() bool { return pageStatus(rest) == "dead,dead" })
	time.Sleep(2 * time.Second)
	if in, out := handedOff(members); in != 2 || out != 1 {
		t.Fatalf("alerts into/out of dead: %d/%d, want 2/1", in, out)
	}
	hook.received(t, 2, 1)

	// PostgreSQL restarts during the outage: members reconnect, nothing is
	// alerted twice.
	pg.stop()
	time.Sleep(2 * time.Second)
	pg.start()
	eventually(t, 20*time.Second, "both members live again with a leader", allLive(rest, 2))
	time.Sleep(3 * time.Second)
	if got := pageStatus(rest); got != "dead,dead" {
		t.Fatalf("pages after the restart: %s, want dead,dead", got)
	}
	if got := transitions(t, pg.url()); strings.Join(got, " ") != "healthy>dead dead>healthy healthy>dead" {
		t.Fatalf("transitions after the restart %v", got)
	}
	if in, out := handedOff(members); in != 2 || out != 1 {
		t.Fatalf("alerts into/out of dead after the restart: %d/%d, want 2/1", in, out)
	}
	hook.received(t, 2, 1)

	// And the members still decide: recovery after the restart.
	target.set()
	eventually(t, 10*time.Second, "healthy after the restart", func() bool { return pageStatus(rest) == "healthy,healthy" })
	time.Sleep(time.Second)
	if in, out := handedOff(members); in != 2 || out != 2 {
		t.Fatalf("alerts into/out of dead at the end: %d/%d, want 2/2", in, out)
	}
	hook.received(t, 2, 2)
}
