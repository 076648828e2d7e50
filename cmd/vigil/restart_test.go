package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/vigil-go/vigil/internal/config/configtest"
	"github.com/vigil-go/vigil/internal/status"
	"github.com/vigil-go/vigil/internal/store"
	"github.com/vigil-go/vigil/internal/store/storetest"
)

// TestRestartKeepsHistory kills vigil with SIGKILL in the middle of an
// outage and starts it again on the same database: the push replica, the
// open incident and the history must all be there, and the outage must end
// as one incident when the target recovers.
func TestRestartKeepsHistory(t *testing.T) {
	storetest.Backends(t, testRestartKeepsHistory)
}

func testRestartKeepsHistory(t *testing.T, fresh func(testing.TB) store.Config) {
	ctx := context.Background()
	var failing atomic.Bool
	target := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if failing.Load() {
			http.Error(w, "down for the test", http.StatusServiceUnavailable)
		}
	}))
	defer target.Close()

	dir := t.TempDir()
	sc := fresh(t)
	storage := fmt.Sprintf("[storage]\npath = %q\n", filepath.Join(dir, "vigil.db"))
	if sc.Driver == store.Postgres {
		storage = fmt.Sprintf("[storage]\ndriver = \"postgres\"\nurl = %q\n", sc.URL)
	} else {
		sc.Path = filepath.Join(dir, "vigil.db")
	}
	cfgPath := filepath.Join(dir, "config.cfg")
	if err := os.WriteFile(cfgPath, []byte(restartConfig(target.URL)+storage), 0o600); err != nil {
		t.Fatal(err)
	}

	v := startVigil(t, cfgPath)
	st := storetest.Open(t, sc) // after vigil created the schema
	if code := v.report(t, "fleet", "workers", `{"replica":"r1","interval":30,"load":{"cpu":0.1,"ram":0.2}}`); code != http.StatusOK {
		t.Fatalf("push report = %d, want 200", code)
	}
	v.waitReport(t, "healthy and the push replica shown", func(r statusReport) bool {
		return r.node("API").Status == status.Healthy && len(r.node("Workers").Replicas) == 1 &&
			len(r.node("API").Replicas) == 1 && r.Health == status.Healthy
	})
	// The first check's status reaches the store before the outage, so the
	// outage is a change from healthy.
	waitStore(t, "the first status of the API node", func() bool {
		return len(nodeChanges(t, st)) == 1
	})

	failing.Store(true)
	v.waitReport(t, "the API dead", func(r statusReport) bool { return r.node("API").Status == status.Dead })
	var before store.PushReplica
	waitStore(t, "the incident opened and the replica saved", func() bool {
		open := incidents(t, st, true)
		reps, err := st.LoadReplicas(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if len(reps) == 1 {
			before = reps[0]
		}
		return len(open) == 1 && len(reps) == 1
	})
	// Samples are written every 10 s: a kill loses at most the last ones,
	// so wait until some of both healths are stored.
	var beforeKill store.Bucket
	waitStore(t, "healthy and dead samples written", func() bool {
		beforeKill = samples(t, st)
		return beforeKill.Healthy > 0 && beforeKill.Dead > 0
	})

	// What operators wrote through the manager API survives too.
	start := time.Now().UTC().Truncate(time.Second)
	for _, w := range []struct{ method, path, body string }{
		{http.MethodPost, "manager/announcement/", `{"title":"Upgrade","text":"Tonight, 22:00 UTC"}`},
		{http.MethodPost, "manager/maintenance/", fmt.Sprintf(`{"start":%q,"end":%q,"targets":["fleet"],"message":"Moving racks"}`,
			start.Format(time.RFC3339), start.Add(time.Hour).Format(time.RFC3339))},
		{http.MethodPost, fmt.Sprintf("manager/incident/%d/updates/", incidents(t, st, true)[0].ID), `{"status":"identified","text":"A bad deploy"}`},
	} {
		if code, body := v.manage(t, w.method, w.path, w.body); code != http.StatusOK {
			t.Fatalf("%s /%s = %d %s, want 200", w.method, w.path, code, body)
		}
	}
	wantManaged := map[string]string{}
	for _, path := range []string{"manager/announcements/", "manager/maintenances/", "manager/incidents/"} {
		_, wantManaged[path] = v.manage(t, http.MethodGet, path, "")
	}

	v.kill(t)
	v = startVigil(t, cfgPath)

	// The replica is back at once, healthy: it reported seconds ago and
	// promised to report every 30 s.
	r := v.getReport(t)
	if w := r.node("Workers"); len(w.Replicas) != 1 || w.Replicas[0] != status.Healthy {
		t.Errorf("push node after the restart = %+v, want the restored replica, healthy", w)
	}
	for path, want := range wantManaged {
		if code, got := v.manage(t, http.MethodGet, path, ""); code != http.StatusOK || got != want {
			t.Errorf("GET /%s after the restart = %d %s, want %s", path, code, got, want)
		}
	}
	for _, want := range []string{"Upgrade", "Tonight, 22:00 UTC", "Moving racks", "A bad deploy"} {
		if !strings.Contains(v.get(t, ""), want) {
			t.Errorf("the page after the restart does not show %q", want)
		}
	}
	// Let the restarted vigil check the still-failing target and write it.
	waitStore(t, "samples from the restarted vigil", func() bool {
		return samples(t, st).Dead > beforeKill.Dead+1
	})
	if open := incidents(t, st, true); len(open) != 1 || len(incidents(t, st, false)) != 1 {
		t.Fatalf("incidents after the restart: %d open of %d, want the one from before the kill", len(open), len(incidents(t, st, false)))
	}
	reps, err := st.LoadReplicas(ctx)
	if err != nil || len(reps) != 1 || !reps[0].LastReport.Equal(before.LastReport) || reps[0].Interval != 30*time.Second ||
		reps[0].Load == nil || reps[0].Load.RAM != 0.2 {
		t.Errorf("stored replicas after the restart = %+v, %v; want r1 with its last report %v", reps, err, before.LastReport)
	}

	failing.Store(false)
	v.waitReport(t, "the API healthy again", func(r statusReport) bool { return r.node("API").Status == status.Healthy })
	waitStore(t, "the incident resolved", func() bool { return len(incidents(t, st, true)) == 0 })
	all := incidents(t, st, false)
	if len(all) != 1 || !all[0].Auto || !slices.Equal(all[0].Nodes, []string{"web:api"}) || all[0].Duration(time.Time{}) <= 0 {
		t.Errorf("incidents = %+v, want one automatic web:api incident, resolved", all)
	}
	if got, want := nodeChanges(t, st), []string{"healthy>healthy", "healthy>dead", "dead>healthy"}; !slices.Equal(got, want) {
		t.Errorf("API node changes = %q, want %q: nothing spurious around the restart", got, want)
	}
	v.stop(t) // a stop writes every sample still in memory
	if after := samples(t, st); after.Dead <= beforeKill.Dead || after.Healthy <= beforeKill.Healthy {
		t.Errorf("sample buckets %+v after, %+v before the kill: want the old ones kept and new ones added", after, beforeKill)
	}
}

func restartConfig(targetURL string) string {
	return fmt.Sprintf(`[server]
log_level = "info"
inet = "127.0.0.1:0"
manager_token = "m"
reporter_token = "reporter-secret"

`+configtest.Branding+`
[metrics]
poll_interval = 1
poll_retry = 0
poll_delay_dead = 2
poll_delay_sick = 2

[[probe.service]]
id = "web"
label = "Web"

[[probe.service.node]]
id = "api"
label = "API"
mode = "poll"
replicas = ["%s/health"]

[[probe.service]]
id = "fleet"
label = "Fleet"

[[probe.service.node]]
id = "workers"
label = "Workers"
mode = "push"

`, targetURL)
}

func (v *running) report(t *testing.T, service, node, body string) int {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, v.url+"reporter/"+service+"/"+node+"/", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.SetBasicAuth("", "reporter-secret")
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

// manage sends a manager API request and returns its status and body.
func (v *running) manage(t *testing.T, method, path, body string) (int, string) {
	t.Helper()
	return v.manageAs(t, "m", method, path, body)
}

// manageAs sends a request with token as the Basic password.
func (v *running) manageAs(t *testing.T, token, method, path, body string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(method, v.url+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.SetBasicAuth("", token)
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, string(b)
}

// get returns the body of a GET of path.
func (v *running) get(t *testing.T, path string) string {
	t.Helper()
	resp, err := http.Get(v.url + path)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

type statusReport struct {
	Health status.Health `json:"health"`
	Probes []struct {
		Name  string       `json:"name"`
		Nodes []reportNode `json:"nodes"`
	} `json:"probes"`
}

type reportNode struct {
	Name     string          `json:"name"`
	Status   status.Health   `json:"status"`
	Replicas []status.Health `json:"replicas"`
}

func (r statusReport) node(label string) reportNode {
	for _, p := range r.Probes {
		for _, n := range p.Nodes {
			if n.Name == label {
				return n
			}
		}
	}
	return reportNode{}
}

func (v *running) getReport(t *testing.T) statusReport {
	t.Helper()
	resp, err := http.Get(v.url + "status/report")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var r statusReport
	if err := json.NewDecoder(resp.Body).Decode(&r); err != nil {
		t.Fatalf("GET /status/report: %v", err)
	}
	return r
}

func (v *running) waitReport(t *testing.T, what string, cond func(statusReport) bool) {
	t.Helper()
	var last statusReport
	waitStore(t, what, func() bool {
		last = v.getReport(t)
		return cond(last)
	})
}

// waitStore waits up to 30 s for cond.
func waitStore(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(30 * time.Second); !cond(); time.Sleep(100 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
	}
}

func incidents(t *testing.T, st *store.Store, openOnly bool) []store.Incident {
	t.Helper()
	in, err := st.Incidents(context.Background(), store.IncidentFilter{OpenOnly: openOnly})
	if err != nil {
		t.Fatal(err)
	}
	return in
}

// nodeChanges returns the API node's changes, oldest first, as "from>to".
func nodeChanges(t *testing.T, st *store.Store) []string {
	t.Helper()
	cs, err := st.Changes(context.Background(), store.ChangeFilter{Service: "web", Node: "api", Level: store.LevelNode})
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, c := range slices.Backward(cs) {
		out = append(out, c.From.String()+">"+c.To.String())
	}
	return out
}

// samples sums the API's hour buckets.
func samples(t *testing.T, st *store.Store) store.Bucket {
	t.Helper()
	now := time.Now()
	bs, err := st.HourBuckets(context.Background(), store.SeriesKey{Service: "web", Node: "api"}, now.Add(-2*time.Hour), now.Add(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	var sum store.Bucket
	for _, b := range bs {
		sum.Healthy += b.Healthy
		sum.Sick += b.Sick
		sum.Dead += b.Dead
	}
	return sum
}
