package daemon

import (
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/vigil-go/vigil/internal/config/configtest"
	"github.com/vigil-go/vigil/internal/testkit"
)

// TestHangingChannelDoesNotDelayProbing runs vigil with a webhook that
// accepts connections and never answers, and measures that a polled
// replica keeps its one-second cadence while alerts wait for the webhook.
func TestHangingChannelDoesNotDelayProbing(t *testing.T) {
	var hits atomic.Int64
	target := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
	}))
	defer target.Close()

	var hanging atomic.Int64 // webhook requests in flight
	release := make(chan struct{})
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hanging.Add(1)
		defer hanging.Add(-1)
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}))
	defer hook.Close()
	defer close(release)

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	dead := ln.Addr().String()
	ln.Close()

	dir := t.TempDir()
	logs := &testkit.LogBuffer{}
	runDaemon(t, dir, fmt.Sprintf(`[server]
log_level = "info"
manager_token = "m"
reporter_token = "r"
inet = "127.0.0.1:0"

`+configtest.Branding+`
[metrics]
poll_interval = 1
poll_retry = 0
poll_delay_dead = 2

[storage]
path = %q

[notify]
[notify.webhook]
hook_url = "%s/hook"

[[probe.service]]
id = "web"
label = "Web"

[[probe.service.node]]
id = "up"
label = "Up"
mode = "poll"
replicas = ["%s/health"]

[[probe.service.node]]
id = "down"
label = "Down"
mode = "poll"
replicas = ["tcp://%s"]
`, filepath.Join(dir, "vigil.db"), hook.URL, target.URL, dead), logs)

	// The startup notification, then the outage, wait for the webhook.
	deadline := time.Now().Add(30 * time.Second)
	for !(hanging.Load() > 0 && strings.Contains(logs.String(), `msg="alert queued" kind=changed status=dead`)) {
		if time.Now().After(deadline) {
			t.Fatalf("the webhook never got a request, or no outage was queued; log:\n%s", logs)
		}
		time.Sleep(20 * time.Millisecond)
	}

	// Measure the probe cadence over 5 s while the webhook hangs.
	const window = 5 * time.Second
	before := hits.Load()
	start := time.Now()
	time.Sleep(window)
	got := hits.Load() - before
	elapsed := time.Since(start)
	if hanging.Load() == 0 {
		t.Fatal("the webhook stopped hanging during the measure; it proves nothing")
	}
	want := int64(elapsed/time.Second) - 1 // one check per second, give or take the edges
	if got < want {
		t.Errorf("%d checks of the polled replica in %v while the channel hung, want at least %d", got, elapsed.Round(time.Millisecond), want)
	}
	t.Logf("%d checks in %v while the webhook hung", got, elapsed.Round(time.Millisecond))
}
