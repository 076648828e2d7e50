package main

import (
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// freePort returns a loopback port nothing listens on right now.
func freePort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// TestHealthcheck runs `vigil healthcheck` as a container engine would:
// against the config of a running vigil (exit 0), with -ready, against an
// address nothing answers (exit 1) and an endpoint answering 503 (exit 1,
// with the reason).
func TestHealthcheck(t *testing.T) {
	dir := t.TempDir()
	port := freePort(t)
	cfg := filepath.Join(dir, "config.cfg")
	src := fmt.Sprintf(`[server]
inet = "0.0.0.0:%d"
path_prefix = "/st"
manager_token = "m"
reporter_token = "r"

[branding]
page_title = "T"
page_url = "http://x.test/"
company_name = "C"
icon_color = "#000000"
icon_url = "http://x.test/i.png"
logo_color = "#000000"
logo_url = "http://x.test/l.png"
website_url = "http://x.test/"
support_url = "mailto:a@x.test"

[storage]
path = %q

[[probe.service]]
id = "s"
label = "S"

[[probe.service.node]]
id = "p"
label = "P"
mode = "push"
`, port, filepath.Join(dir, "vigil.db"))
	if err := os.WriteFile(cfg, []byte(src), 0o600); err != nil {
		t.Fatal(err)
	}

	// Nothing runs yet: the check fails and says what it could not reach.
	_, stderr, code := vigil(t, "healthcheck", "-c", cfg)
	if code != 1 || !strings.Contains(stderr, fmt.Sprintf("http://127.0.0.1:%d/st/healthz", port)) {
		t.Errorf("healthcheck with no vigil running: exit %d, %q; want exit 1 naming the URL", code, stderr)
	}

	startVigil(t, cfg)
	out, stderr, code := vigil(t, "healthcheck", "-c", cfg)
	if code != 0 || out != fmt.Sprintf("http://127.0.0.1:%d/st/healthz: ok\n", port) {
		t.Errorf("healthcheck = %q %q, exit %d; want ok, exit 0", out, stderr, code)
	}
	// A push node only: nothing to check first, ready once the store answers.
	out, stderr, code = vigil(t, "healthcheck", "-ready", "-c", cfg)
	if code != 0 || !strings.HasSuffix(out, "/st/readyz: ok\n") {
		t.Errorf("healthcheck -ready = %q %q, exit %d; want ok, exit 0", out, stderr, code)
	}

	unready := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		http.Error(w, "not ready: store does not answer", http.StatusServiceUnavailable)
	}))
	defer unready.Close()
	_, stderr, code = vigil(t, "healthcheck", "-url", unready.URL+"/readyz")
	if code != 1 || !strings.Contains(stderr, "503 Service Unavailable: not ready: store does not answer") {
		t.Errorf("healthcheck of a 503: exit %d, %q; want exit 1 with the status and the reason", code, stderr)
	}

	_, stderr, code = vigil(t, "healthcheck", "-c", filepath.Join(dir, "missing.cfg"))
	if code != 1 || !strings.Contains(stderr, "missing.cfg") {
		t.Errorf("healthcheck with a missing config: exit %d, %q; want exit 1 naming the file", code, stderr)
	}
}

func TestDialable(t *testing.T) {
	for in, want := range map[string]string{
		"0.0.0.0:8080":   "127.0.0.1:8080",
		":8080":          "127.0.0.1:8080",
		"[::]:8080":      "[::1]:8080",
		"[::1]:8080":     "[::1]:8080",
		"10.0.0.5:80":    "10.0.0.5:80",
		"status.test:80": "status.test:80",
	} {
		if got := dialable(in); got != want {
			t.Errorf("dialable(%q) = %q, want %q", in, got, want)
		}
	}
}
