package daemon

import (
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strconv"
	"testing"
	"time"
)

// TestMetricsWiring runs vigil with metrics enabled, a polled replica and
// a webhook, and scrapes /metrics until the checks counter, fed by the
// monitor's Observed hook, counts the replica's checks, and the
// notifications counter, fed by the outbox, counts the startup message.
func TestMetricsWiring(t *testing.T) {
	target := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	defer target.Close()
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	defer hook.Close()

	dir := t.TempDir()
	a, _ := runDaemon(t, dir, webhookConfig(dir, "inet = \"127.0.0.1:0\"\nmetrics_enabled = true\nmetrics_token = \"scrape\"",
		hook.URL, []string{target.URL + "/health"}, ""), io.Discard)
	url := "http://" + a.String() + "/metrics"

	checks := regexp.MustCompile(`(?m)^vigil_probe_checks_total\{node="up",result="healthy",service="web"\} (\d+)$`)
	delivered := regexp.MustCompile(`(?m)^vigil_notifications_total\{channel="webhook",result="delivered"\} 1$`)
	deadline := time.Now().Add(20 * time.Second)
	for {
		req, _ := http.NewRequest("GET", url, nil)
		req.SetBasicAuth("", "scrape")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("GET /metrics = %d %q, want 200", resp.StatusCode, body)
		}
		m := checks.FindSubmatch(body)
		if m == nil {
			t.Fatalf("scrape has no healthy checks counter for web/up:\n%s", body)
		}
		n, _ := strconv.Atoi(string(m[1]))
		if n >= 2 && delivered.Match(body) {
			break // two checks counted, so the counter follows the probes; the startup message counted
		}
		if time.Now().After(deadline) {
			t.Fatalf("after 20 s of 1 s polling: %s healthy checks counted, want 2; the startup webhook delivered: %v\n%s",
				m[1], delivered.Match(body), body)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
