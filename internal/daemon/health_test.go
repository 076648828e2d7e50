package daemon

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/vigil-go/vigil/internal/config/configtest"
	"github.com/vigil-go/vigil/internal/store/pgtest"
	"github.com/vigil-go/vigil/internal/testkit/faultnet"
)

// pollConfig is a config whose one poll node checks the given replicas every
// interval seconds, with the [storage] section given, under path_prefix /s.
func pollConfig(storage string, interval int, replicas ...string) string {
	quoted := make([]string, len(replicas))
	for i, r := range replicas {
		quoted[i] = fmt.Sprintf("%q", r)
	}
	return fmt.Sprintf(`[server]
log_level = "off"
inet = "127.0.0.1:0"
path_prefix = "/s"
manager_token = "m"
reporter_token = "r"
`+configtest.Branding+`
[metrics]
poll_interval = %d

%s

[[probe.service]]
id = "web"
label = "Web"

[[probe.service.node]]
id = "site"
label = "Site"
mode = "poll"
replicas = [%s]
`, interval, storage, strings.Join(quoted, ", "))
}

// probeAnswer is what GET path answered.
func probeAnswer(t *testing.T, addr net.Addr, path string) (int, string) {
	t.Helper()
	c := &http.Client{Timeout: 10 * time.Second}
	res, err := c.Get("http://" + addr.String() + path)
	if err != nil {
		t.Fatalf("GET %s: %v", path, err)
	}
	defer res.Body.Close()
	body, _ := io.ReadAll(res.Body)
	return res.StatusCode, string(body)
}

// waitAnswer asks GET path until it answers code with a body containing
// want, for up to 20 s.
func waitAnswer(t *testing.T, addr net.Addr, path string, code int, want string) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		got, body := probeAnswer(t, addr, path)
		if got == code && strings.Contains(body, want) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("GET %s = %d %q after 20 s, want %d with %q", path, got, body, code, want)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// TestReadyAfterFirstRound: /readyz answers 503 naming the replicas not
// checked yet until every poll replica has a result, then 200; /healthz
// answers 200 from the start.
func TestReadyAfterFirstRound(t *testing.T) {
	target := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {}))
	defer target.Close()
	dir := t.TempDir()
	storage := fmt.Sprintf("[storage]\npath = %q", filepath.Join(dir, "vigil.db"))

	// Two replicas every 300 s: the first round checks the second one
	// 120 s after the start, far past this test.
	addr, _ := runDaemon(t, dir, pollConfig(storage, 300, target.URL+"/a", target.URL+"/b"), io.Discard)
	if code, body := probeAnswer(t, addr, "/s/healthz"); code != 200 || body != "ok\n" {
		t.Errorf("GET /s/healthz = %d %q, want 200 ok", code, body)
	}
	waitAnswer(t, addr, "/s/readyz", 503, "first round of checks not done: 1 replicas not checked yet")
	for range 10 { // and it stays so while the second replica waits its turn
		if code, body := probeAnswer(t, addr, "/s/readyz"); code != 503 {
			t.Fatalf("GET /s/readyz = %d %q before the second replica was checked, want 503", code, body)
		}
		time.Sleep(50 * time.Millisecond)
	}

	// One replica: checked at once, ready soon after.
	dir2 := t.TempDir()
	storage2 := fmt.Sprintf("[storage]\npath = %q", filepath.Join(dir2, "vigil.db"))
	addr2, _ := runDaemon(t, dir2, pollConfig(storage2, 300, target.URL+"/a"), io.Discard)
	waitAnswer(t, addr2, "/s/readyz", 200, "ok")
}

// TestNotReadyWhileStoreIsDown runs vigil on PostgreSQL through a relay
// that refuses, then hangs: /readyz says the store does not answer (within
// its bound when the database hangs) and recovers when it answers again,
// while /healthz stays 200 throughout.
func TestNotReadyWhileStoreIsDown(t *testing.T) {
	dbURL, _, _ := pgtest.FreshDatabase(t)
	u, err := url.Parse(dbURL)
	if err != nil {
		t.Fatal(err)
	}
	relay := faultnet.Start(t, u.Host)
	u.Host = relay.Addr()
	target := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {}))
	defer target.Close()
	dir := t.TempDir()
	storage := fmt.Sprintf("[storage]\ndriver = \"postgres\"\nurl = %q", u.String())
	addr, _ := runDaemon(t, dir, pollConfig(storage, 300, target.URL), io.Discard)
	waitAnswer(t, addr, "/s/readyz", 200, "ok")

	relay.Set(faultnet.Refuse)
	waitAnswer(t, addr, "/s/readyz", 503, "store does not answer")
	if code, _ := probeAnswer(t, addr, "/s/healthz"); code != 200 {
		t.Errorf("GET /s/healthz = %d with the store down, want 200: the process still serves", code)
	}
	relay.Set(faultnet.Pass)
	waitAnswer(t, addr, "/s/readyz", 200, "ok")

	relay.Set(faultnet.Hang)
	waitAnswer(t, addr, "/s/readyz", 503, "store does not answer")
	// Each answer is bounded: a hung database must not hang the probe.
	for range 5 {
		start := time.Now()
		code, body := probeAnswer(t, addr, "/s/readyz")
		if took := time.Since(start); took > 3*time.Second {
			t.Errorf("GET /s/readyz took %v with the database hung, want at most about a second", took)
		}
		if code != 503 {
			t.Errorf("GET /s/readyz = %d %q with the database hung, want 503", code, body)
		}
	}
	if code, _ := probeAnswer(t, addr, "/s/healthz"); code != 200 {
		t.Errorf("GET /s/healthz = %d with the store hung, want 200", code)
	}
	relay.Set(faultnet.Pass)
	waitAnswer(t, addr, "/s/readyz", 200, "ok")
}
