package main

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/vigil-go/vigil/internal/status"
)

// TestNotifyOnSickWebhook runs vigil with a push node that notifies on
// "sick" and a poll node that notifies on "dead" only, both heard by the
// webhook: the push replica going sick and back reaches the webhook with
// these exact payloads, the poll node's outage too, its recovery not.
func TestNotifyOnSickWebhook(t *testing.T) {
	failing := make(chan bool, 1)
	failing <- false
	target := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		f := <-failing
		failing <- f
		if f {
			w.WriteHeader(http.StatusServiceUnavailable)
		}
	}))
	defer target.Close()
	set := func(f bool) { <-failing; failing <- f }
	hook := &hookServer{code: http.StatusOK}
	hs := httptest.NewServer(hook)
	defer hs.Close()

	dir := t.TempDir()
	cfg := filepath.Join(dir, "config.cfg")
	text := restartConfig(target.URL) + fmt.Sprintf(`notify_on = ["dead", "recovered", "sick"]

[notify]
startup_notification = false

[notify.webhook]
hook_url = %q

[storage]
path = %q
`, hs.URL+"/hook", filepath.Join(dir, "vigil.db"))
	// The poll node hears "dead" only.
	text = strings.Replace(text, `replicas = ["`+target.URL+`/health"]`, `replicas = ["`+target.URL+`/health"]
notify_on = ["dead"]`, 1)
	if err := os.WriteFile(cfg, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	v := startVigil(t, cfg)
	if code := v.report(t, "fleet", "workers", `{"replica":"w1","interval":30,"load":{"cpu":0.1,"ram":0.2}}`); code != http.StatusOK {
		t.Fatalf("report = %d", code)
	}
	v.waitReport(t, "all healthy", func(r statusReport) bool { return r.Health == status.Healthy })
	time.Sleep(1500 * time.Millisecond) // settled

	times := regexp.MustCompile(`"time":"[^"]*"`)
	expect := func(what string, want ...string) {
		t.Helper()
		eventually(t, 20*time.Second, what, func() bool { return len(hook.got()) >= len(want) })
		time.Sleep(1500 * time.Millisecond) // nothing more should come
		got := hook.got()
		for i := range got {
			got[i] = times.ReplaceAllString(got[i], `"time":"T"`)
		}
		if strings.Join(got, "\n") != strings.Join(want, "\n") {
			t.Fatalf("%s: webhook got\n%s\nwant\n%s", what, strings.Join(got, "\n"), strings.Join(want, "\n"))
		}
	}
	page := `"page":{"title":"Status Page","url":"https://status.example.com/"}`
	sick := `{"type":"changed","status":"sick","time":"T","replicas":["fleet:workers:w1"],` + page + `}`
	back := `{"type":"changed","status":"healthy","time":"T","replicas":[],` + page + `,"recovered":["fleet:workers:w1"]}`
	dead := `{"type":"changed","status":"dead","time":"T","replicas":["web:api:` + target.URL + `/health"],` + page + `}`

	v.report(t, "fleet", "workers", `{"replica":"w1","interval":30,"load":{"cpu":1.5,"ram":0.2}}`)
	expect("the push replica going sick", sick)
	v.report(t, "fleet", "workers", `{"replica":"w1","interval":30,"load":{"cpu":0.1,"ram":0.2}}`)
	expect("the push replica back", sick, back)
	set(true)
	expect("the poll node's outage", sick, back, dead)
	set(false)
	v.waitReport(t, "the poll node back", func(r statusReport) bool { return r.Health == status.Healthy })
	expect("no recovery for a node without \"recovered\"", sick, back, dead)
}
