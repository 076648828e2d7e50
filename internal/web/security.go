package web

import (
	"crypto/sha256"
	"encoding/base64"
	"net/http"
	"slices"
	"strings"

	"github.com/vigil-go/vigil/internal/config"
	"github.com/vigil-go/vigil/internal/status"
)

// securityHeaders are sent with every answer, the page and everything else
// alike (an SVG badge opened on its own is a document too).
//
// The Content-Security-Policy depends on what the page may hold. The
// built-in theme's one inline script sets window.STATUS_GENERAL; it is
// allowed by hash, one per status, so with the built-in theme and no
// branding custom_html no other script runs than the theme's own file. A
// custom theme or custom_html is the operator's own markup, typically with
// an analytics snippet: its inline and https: scripts, styles, fonts and
// beacons are then allowed. Either way plugins, <base> rewriting and
// framing by other sites are refused. Styles allow 'unsafe-inline' in both:
// the theme sets a colour in a style attribute, and CSS cannot run code.
func securityHeaders(cfg *config.Config, customTheme bool) http.Header {
	scripts := []string{"'self'"}
	open := ""
	if customTheme || strings.TrimSpace(cfg.Branding.CustomHTML) != "" {
		scripts = append(scripts, "'unsafe-inline'", "https:")
		open = " https:"
	} else {
		for _, h := range []status.Health{status.Healthy, status.Sick, status.Dead} {
			scripts = append(scripts, scriptHash(statusScript(h)))
		}
	}
	frames := "'none'"
	if len(cfg.Server.FrameAncestors) > 0 {
		frames = strings.Join(cfg.Server.FrameAncestors, " ")
	}
	csp := "default-src 'self'" +
		"; script-src " + strings.Join(scripts, " ") +
		"; style-src 'self' 'unsafe-inline'" + open +
		"; img-src * data:" +
		"; font-src 'self' data:" + open +
		"; connect-src 'self'" + open +
		"; object-src 'none'; base-uri 'self'; form-action 'self'" +
		"; frame-ancestors " + frames
	h := http.Header{
		"Content-Security-Policy": {csp},
		"X-Content-Type-Options":  {"nosniff"},
		// Links out (the website, support, a node's link) carry the
		// origin only, never the path Vigil is served under.
		"Referrer-Policy": {"strict-origin-when-cross-origin"},
	}
	// X-Frame-Options, for browsers without frame-ancestors, can only say
	// "nobody" or "this origin"; with other sources it is left out, as it
	// would refuse them.
	switch {
	case len(cfg.Server.FrameAncestors) == 0 || slices.Equal(cfg.Server.FrameAncestors, []string{"'none'"}):
		h.Set("X-Frame-Options", "DENY")
	case slices.Equal(cfg.Server.FrameAncestors, []string{"'self'"}):
		h.Set("X-Frame-Options", "SAMEORIGIN")
	}
	return h
}

// statusScript is the text of the built-in theme's inline script for
// status h, as html/template renders `window.STATUS_GENERAL = {{.Status}};`
// in templates/index.html. TestPageScriptsAllowed keeps the two in step.
func statusScript(h status.Health) string {
	return `window.STATUS_GENERAL = "` + h.String() + `";`
}

// scriptHash is the CSP source allowing an inline script of exactly text.
func scriptHash(text string) string {
	sum := sha256.Sum256([]byte(text))
	return "'sha256-" + base64.StdEncoding.EncodeToString(sum[:]) + "'"
}

// withHeaders sets h on every answer of next.
func withHeaders(h http.Header, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		out := w.Header()
		for k, v := range h {
			out[k] = v
		}
		next.ServeHTTP(w, r)
	})
}
