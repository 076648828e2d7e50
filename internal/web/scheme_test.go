package web

import (
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"github.com/vigil-go/vigil/internal/config"
	"github.com/vigil-go/vigil/internal/status"
)

// TestColorSchemeLinks: each scheme of config.ColorSchemes (the one list)
// gives the page its own head: "auto" links the dark stylesheet for visitors
// who prefer dark, "dark" links it for everyone, "light" does not link it.
// A scheme added to the list without a case here fails.
func TestColorSchemeLinks(t *testing.T) {
	const darkCSS = `<link rel="stylesheet" href="assets/stylesheets/dark.css?v=1.2.3"`
	want := map[string]struct{ meta, link string }{
		"auto":  {`<meta name="color-scheme" content="light dark">`, darkCSS + ` media="(prefers-color-scheme: dark)">`},
		"light": {`<meta name="color-scheme" content="light">`, ""},
		"dark":  {`<meta name="color-scheme" content="dark">`, darkCSS + `>`},
	}
	if len(want) != len(config.ColorSchemes) {
		t.Fatalf("config.ColorSchemes = %v, but this test knows %d schemes", config.ColorSchemes, len(want))
	}
	for _, scheme := range append([]string{""}, config.ColorSchemes...) {
		w, ok := want[scheme]
		if scheme == "" {
			w, ok = want["auto"] // a Config built without defaults
		}
		if !ok {
			t.Errorf("scheme %q: no expectation", scheme)
			continue
		}
		cfg := testConfig(t)
		cfg.Branding.ColorScheme = scheme
		head := element(t, newTestServer(t, Options{Config: cfg}).get(t, "/").body, "<head>", "</head>")
		if !strings.Contains(head, w.meta) {
			t.Errorf("scheme %q: <head> lacks %s", scheme, w.meta)
		}
		switch {
		case w.link == "" && strings.Contains(head, "dark.css"):
			t.Errorf("scheme %q: <head> links dark.css", scheme)
		case w.link != "" && !strings.Contains(head, w.link):
			t.Errorf("scheme %q: <head> lacks %s", scheme, w.link)
		case w.link != "" && strings.Index(head, "dark.css") < strings.Index(head, "index.css"):
			t.Errorf("scheme %q: dark.css is linked before index.css, whose colours would win", scheme)
		}
	}
	res := newTestServer(t, Options{}).get(t, "/assets/stylesheets/dark.css?v=1.2.3")
	if res.code != 200 || !strings.Contains(res.body, "color-scheme: dark") {
		t.Errorf("GET dark.css: %d %.80q, want 200 with the dark colours", res.code, res.body)
	}
}

// TestSupportButtonContrast: the text on logo_color is the one of white and
// black that reaches 4.5:1; a colour the page cannot read keeps the
// stylesheet's.
func TestSupportButtonContrast(t *testing.T) {
	for _, tt := range []struct{ logo, style string }{
		{"#0B3D91", `style="background-color: #0B3D91; color: #FFFFFF;"`},
		{"#FFE600", `style="background-color: #FFE600; color: #000000;"`},
		{"#1972F5", `style="background-color: #1972F5; color: #000000;"`}, // white: 4.41:1
		{"#000", `style="background-color: #000; color: #FFFFFF;"`},
		{"rebeccapurple", `style="background-color: rebeccapurple;"`},
	} {
		cfg := testConfig(t)
		cfg.Branding.LogoColor = tt.logo
		header := element(t, newTestServer(t, Options{Config: cfg}).get(t, "/").body, "<header>", "</header>")
		if !strings.Contains(header, tt.style) {
			t.Errorf("logo_color %q: support link lacks %s in %s", tt.logo, tt.style, header)
		}
	}
}

// TestNodeStateWord: each node says its state in a word with a glyph class,
// not by colour alone; the live region is outside what the refresh swaps.
func TestNodeStateWord(t *testing.T) {
	for _, h := range []status.Health{status.Healthy, status.Sick, status.Dead} {
		ts := newTestServer(t, Options{})
		ts.src.Set(healthServices(h), testNow)
		body := ts.get(t, "/").body
		// The word and its glyph take the state from the node's <li>.
		want := fmt.Sprintf(`<li class="status-%s-background-before"><span class="node-label font-sans-semibold"><span class="node-name">Main</span> <span class="node-state">%s</span></span>`, h, h)
		if !strings.Contains(body, want) {
			t.Errorf("%s node: page lacks %s", h, want)
		}
		live := strings.Index(body, `<div id="status-announcer" class="visually-hidden" role="status" aria-live="polite" aria-atomic="true"></div>`)
		if live < 0 || live < strings.Index(body, "</aside>") || live > strings.Index(body, "<main") {
			t.Errorf("%s: the live region is missing or inside a part the refresh replaces", h)
		}
	}
}

// TestColorSchemeCustomTheme: a custom theme can replace the dark colours
// (its own dark.css) or use the built-in ones (it has none), and its template
// sees the scheme in .Branding.ColorScheme.
func TestColorSchemeCustomTheme(t *testing.T) {
	const template = `<!DOCTYPE html><html><head>` +
		`{{if ne .Branding.ColorScheme "light"}}<link rel="stylesheet" href="assets/stylesheets/dark.css">{{end}}` +
		`</head><body>scheme={{.Branding.ColorScheme}}</body></html>`
	for _, tt := range []struct {
		name  string
		files map[string]string
		dark  string // what dark.css must hold
	}{
		{"own dark.css", map[string]string{"templates/index.html": template, "stylesheets/dark.css": ":root { --color-page: #000000; }"}, "--color-page: #000000"},
		{"built-in dark.css", map[string]string{"templates/index.html": template}, "color-scheme: dark"},
	} {
		dir := filepath.Join(t.TempDir(), "theme")
		writeFiles(t, dir, tt.files)
		cfg := testConfig(t)
		cfg.Assets.Path = dir
		cfg.Branding.ColorScheme = "dark"
		ts := newTestServer(t, Options{Config: cfg})
		if body := ts.get(t, "/").body; !strings.Contains(body, "scheme=dark") || !strings.Contains(body, "dark.css") {
			t.Errorf("%s: page = %q, want the theme's template with scheme=dark and its dark.css link", tt.name, body)
		}
		if res := ts.get(t, "/assets/stylesheets/dark.css"); res.code != 200 || !strings.Contains(res.body, tt.dark) {
			t.Errorf("%s: GET dark.css = %d %.60q, want 200 holding %s", tt.name, res.code, res.body, tt.dark)
		}
	}
}
