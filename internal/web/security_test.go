package web

import (
	"net/http"
	"regexp"
	"strings"
	"testing"

	"github.com/vigil-go/vigil/internal/status"
)

// TestSecurityHeaders checks the headers every answer carries, found or
// not, page or API, and frame_ancestors for sites that embed the page.
func TestSecurityHeaders(t *testing.T) {
	ts := newTestServer(t, Options{})
	for _, path := range []string{"/", "/status/report", "/status/text", "/badge/icon", "/assets/javascripts/index.js", "/robots.txt", "/nope", "/manager/announcements"} {
		res := ts.get(t, path)
		if got := res.header.Get("X-Content-Type-Options"); got != "nosniff" {
			t.Errorf("GET %s (%d): X-Content-Type-Options = %q, want nosniff", path, res.code, got)
		}
		if got := res.header.Get("Referrer-Policy"); got != "strict-origin-when-cross-origin" {
			t.Errorf("GET %s: Referrer-Policy = %q", path, got)
		}
		csp := res.header.Get("Content-Security-Policy")
		if !strings.Contains(csp, "frame-ancestors 'none'") || !strings.Contains(csp, "object-src 'none'") {
			t.Errorf("GET %s: Content-Security-Policy = %q, want frame-ancestors 'none' and object-src 'none'", path, csp)
		}
		if got := res.header.Get("X-Frame-Options"); got != "DENY" {
			t.Errorf("GET %s: X-Frame-Options = %q, want DENY", path, got)
		}
	}

	for _, tt := range []struct {
		ancestors []string
		csp, xfo  string
	}{
		{[]string{"'self'"}, "frame-ancestors 'self'", "SAMEORIGIN"},
		{[]string{"'self'", "https://intranet.example.com"}, "frame-ancestors 'self' https://intranet.example.com", ""},
	} {
		cfg := testConfig(t)
		cfg.Server.FrameAncestors = tt.ancestors
		res := newTestServer(t, Options{Config: cfg}).get(t, "/")
		if csp := res.header.Get("Content-Security-Policy"); !strings.HasSuffix(csp, tt.csp) {
			t.Errorf("frame_ancestors %q: Content-Security-Policy = %q, want it to end with %q", tt.ancestors, csp, tt.csp)
		}
		if got := res.header.Get("X-Frame-Options"); got != tt.xfo {
			t.Errorf("frame_ancestors %q: X-Frame-Options = %q, want %q", tt.ancestors, got, tt.xfo)
		}
	}
}

// TestPageScriptsAllowed checks that the policy sent with the built-in
// theme allows each inline script of the page, whatever the status, and
// nothing inline else; and that custom_html, the operator's own markup,
// gets its inline scripts allowed.
func TestPageScriptsAllowed(t *testing.T) {
	inline := regexp.MustCompile(`<script>([^<]*)</script>`)
	cfg := testConfig(t)
	cfg.Branding.CustomHTML = ""
	for _, h := range []status.Health{status.Healthy, status.Sick, status.Dead} {
		ts := newTestServer(t, Options{Config: cfg})
		ts.src.Set(healthServices(h), testNow)
		res := ts.get(t, "/")
		csp := res.header.Get("Content-Security-Policy")
		if strings.Contains(csp, "'unsafe-inline' https:; style") || !strings.Contains(csp, "script-src 'self' 'sha256-") {
			t.Errorf("%s: script-src of the built-in theme should allow its own scripts only: %q", h, csp)
		}
		scripts := inline.FindAllStringSubmatch(res.body, -1)
		if len(scripts) == 0 {
			t.Fatalf("%s: no inline script in the page", h)
		}
		for _, m := range scripts {
			if !strings.Contains(csp, scriptHash(m[1])) {
				t.Errorf("%s: inline script %q is not allowed by %q", h, m[1], csp)
			}
		}
	}
	res := newTestServer(t, Options{}).get(t, "/") // testConfig has custom_html with a script
	if csp := res.header.Get("Content-Security-Policy"); !strings.Contains(csp, "script-src 'self' 'unsafe-inline' https:;") {
		t.Errorf("with custom_html, Content-Security-Policy = %q, want inline scripts allowed", csp)
	}
	if res.code != http.StatusOK {
		t.Errorf("GET / = %d", res.code)
	}
}
