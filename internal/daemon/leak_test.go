package daemon

import (
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/goleak"
)

// TestStopLeavesNoGoroutine runs vigil with every part that starts
// goroutines (probing, history, alerting with a webhook, the page with its
// history refresh, metrics, MCP), uses it, stops it, and checks that no
// goroutine it started is left: each has an owner that waits for it.
func TestStopLeavesNoGoroutine(t *testing.T) {
	var hooks atomic.Int64
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		hooks.Add(1)
	}))
	target := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	ignore := goleak.IgnoreCurrent() // the test's own servers and runtime

	dir := t.TempDir()
	addr, stop := runDaemon(t, dir, webhookConfig(dir, "inet = \"127.0.0.1:0\"\nmetrics_enabled = true\nmcp_server = true",
		hook.URL, []string{target.URL + "/health", "tcp://" + strings.TrimPrefix(target.URL, "http://")}, `
[[probe.service.node]]
id = "push"
label = "Push"
mode = "push"
`), io.Discard)

	base := "http://" + addr.String()
	client := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}
	deadline := time.Now().Add(20 * time.Second)
	for hooks.Load() == 0 {
		if time.Now().After(deadline) {
			t.Fatal("the startup notification never reached the webhook")
		}
		time.Sleep(20 * time.Millisecond)
	}
	for _, path := range []string{"/", "/status/report", "/status/history/web/up", "/metrics"} {
		res, err := client.Get(base + path)
		if err != nil {
			t.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, res.Body)
		res.Body.Close()
	}
	req, _ := http.NewRequest("POST", base+"/reporter/web/push/", strings.NewReader(
		`{"replica":"a","interval":30,"load":{"cpu":0.1,"ram":0.2}}`))
	req.SetBasicAuth("", "r")
	req.Header.Set("Content-Type", "application/json")
	if res, err := client.Do(req); err != nil {
		t.Fatal(err)
	} else {
		res.Body.Close()
		if res.StatusCode != 200 {
			t.Fatalf("report = %d", res.StatusCode)
		}
	}

	if err := stop(); err != nil {
		t.Fatalf("Run: %v", err)
	}
	// The targets close their connections with vigil's clients, whose
	// read loops then end; what remains is vigil's.
	hook.Close()
	target.Close()
	if _, err := net.Dial("tcp", addr.String()); err == nil {
		t.Error("vigil still accepts connections after it stopped")
	}
	goleak.VerifyNone(t, ignore)
}
