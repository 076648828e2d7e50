package web

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/chromedp"

	"github.com/vigil-go/vigil/internal/config"
	"github.com/vigil-go/vigil/internal/contrast"
	"github.com/vigil-go/vigil/internal/status"
	"github.com/vigil-go/vigil/internal/testkit/chromium"
)

// The page is checked for every visitor: in both colour schemes, at these
// widths (a desktop, a common phone, the narrowest phone), in each state.
var (
	auditWidths  = []int64{1366, 390, 320}
	auditSchemes = []string{"light", "dark"}
	auditStates  = []status.Health{status.Healthy, status.Sick, status.Dead}
)

// TestPageAccessibility runs axe-core (pinned in testdata/axe) in Chromium
// on the page in each state, scheme and width, and fails on any violation
// of impact "serious" or "critical". In the same places it computes the WCAG
// contrast of every visible text from its computed colours, checks that
// nothing overflows the viewport sideways and that the header's parts do
// not overlap.
//
// A replica's tooltip is open during the checks, so its text is audited too.
// The page is audited without a store and with one, whose page holds the
// 90-day history, an announcement, a maintenance window and the incidents.
//
// It is skipped when Chromium, npm or the axe-core package is missing,
// unless VIGIL_REQUIRE_BROWSER=1.
func TestPageAccessibility(t *testing.T) {
	browser := newChromium(t)
	axeSource := loadAxe(t)

	ts := newTestServer(t, Options{Config: browserConfig(t), Now: time.Now})
	cfg := browserConfig(t)
	cfg.Server.ManagerToken = managerToken
	st := openStoreGap(t)
	fillHistory(t, st)
	withHistory := newTestServer(t, Options{Config: cfg, Store: st})
	postAnnouncement(t, withHistory, `{"title":"Planned upgrade","text":"The API moves to new servers tonight."}`)
	if res := withHistory.manager(t, "POST", "/manager/maintenance/",
		`{"start":"2031-03-04T09:00:00Z","end":"2031-03-04T11:00:00Z","targets":["web:api"],"message":"Database upgrade"}`); res.code != 200 {
		t.Fatalf("add a maintenance window: %d %s", res.code, res.body)
	}
	for _, state := range auditStates {
		ts.src.Set(sampleServicesAt(time.Now(), state), time.Now())
		withHistory.src.Set(sampleServicesAt(testNow, state), testNow)
		for _, page := range []struct {
			name string
			url  string
		}{{"page", ts.URL + "/"}, {"page with history", withHistory.URL + "/"}} {
			for _, scheme := range auditSchemes {
				emulateScheme(t, browser, scheme)
				for _, width := range auditWidths {
					where := fmt.Sprintf("%s %s, %s scheme, %d px", state, page.name, scheme, width)
					auditPage(t, browser, axeSource, where, page.url, state, width)
				}
			}
		}
	}
}

// auditPage loads url at width, opens a replica's tooltip (so its text is
// audited and placed too) and reports what the audit finds there.
func auditPage(t *testing.T, browser context.Context, axeSource, where, url string, state status.Health, width int64) {
	t.Helper()
	loadPage(t, browser, url, width)
	if got := evalString(t, browser, `String(window.STATUS_GENERAL)`); got != state.String() {
		t.Fatalf("%s: the page says %q", where, got)
	}
	if err := chromedp.Do(browser, chromedp.Focus(chromedp.CSS("#replica-web-api-2"))); err != nil {
		t.Fatalf("%s: focus a replica: %v", where, err)
	}
	waitTooltip(t, browser, "replica-web-api-2", true)
	for _, v := range runAxe(t, browser, axeSource) {
		t.Errorf("%s: axe %s (%s): %s\n\t%s", where, v.ID, v.Impact, v.Help, strings.Join(v.Nodes, "\n\t"))
	}
	for _, p := range textContrastProblems(t, browser) {
		t.Errorf("%s: %s", where, p)
	}
	for _, p := range layoutProblems(t, browser) {
		t.Errorf("%s: %s", where, p)
	}
}

// TestColorSchemeInBrowser: "auto" follows the visitor's preference, "light"
// and "dark" hold whatever it is; the page's background shows which applied.
func TestColorSchemeInBrowser(t *testing.T) {
	browser := newChromium(t)
	const light, dark = "rgb(244, 246, 248)", "rgb(13, 17, 23)"
	for _, tt := range []struct {
		scheme, prefers, want string
	}{
		{"auto", "light", light},
		{"auto", "dark", dark},
		{"light", "dark", light},
		{"dark", "light", dark},
	} {
		cfg := browserConfig(t)
		cfg.Branding.ColorScheme = tt.scheme
		ts := newTestServer(t, Options{Config: cfg, Now: time.Now})
		emulateScheme(t, browser, tt.prefers)
		loadPage(t, browser, ts.URL+"/", 1366)
		if got := evalString(t, browser, `getComputedStyle(document.body).backgroundColor`); got != tt.want {
			t.Errorf("color_scheme %q, visitor prefers %s: page background %s, want %s", tt.scheme, tt.prefers, got, tt.want)
		}
	}

	// Without JavaScript: the scheme, the state words and glyphs are the
	// stylesheet's and the markup's alone.
	if _, err := chromedp.Call(browser, emulation.SetScriptExecutionDisabled, emulation.SetScriptExecutionDisabledParams{Value: true}); err != nil {
		t.Fatalf("disable scripts: %v", err)
	}
	ts := newTestServer(t, Options{Config: browserConfig(t), Now: time.Now})
	ts.src.Set(sampleServicesAt(time.Now(), status.Dead), time.Now())
	emulateScheme(t, browser, "dark")
	loadPage(t, browser, ts.URL+"/", 390)
	got := evalString(t, browser, `JSON.stringify([
		typeof window.STATUS_GENERAL,
		getComputedStyle(document.body).backgroundColor,
		document.querySelector("#probe-web").closest("section").querySelector(".node-state").textContent,
		getComputedStyle(document.querySelector(".node-state"), "::before").maskImage.slice(0, 19),
		getComputedStyle(document.getElementById("replica-web-api-2"), "::before").maskImage.slice(0, 19)])`)
	if want := `["undefined","` + dark + `","dead","url(\"data:image/svg","url(\"data:image/svg"]`; got != want {
		t.Errorf("without JavaScript: script, background, state word, glyphs = %s, want %s", got, want)
	}
}

// TestTooltipPlacementOnPhone: at 390 px a replica near the left edge opens
// its tooltip inside the viewport, whether tapped, hovered or focused, and
// again after the page changed width. A tooltip is placed from the layout of
// its box, not from where its slide-in animation has it at that moment.
func TestTooltipPlacementOnPhone(t *testing.T) {
	browser := newChromium(t)
	ts := newTestServer(t, Options{Config: browserConfig(t), Now: time.Now})
	ts.src.Set(sampleServicesAt(time.Now(), status.Dead), time.Now())
	const box = "replica-web-api-1" // the first box of a node: the tooltip is wider than the room on its left

	inside := func(how string) {
		t.Helper()
		waitTooltip(t, browser, box, true)
		r, err := chromedp.Run(browser, chromedp.Evaluate[[]float64](fmt.Sprintf(
			`(() => { const r = document.querySelector("#%s .tooltip").getBoundingClientRect(); return [r.left, r.right, document.documentElement.clientWidth]; })()`, box)))
		if err != nil {
			t.Fatalf("%s: measure the tooltip: %v", how, err)
		}
		if r[0] < 0 || r[1] > r[2] {
			t.Errorf("%s: tooltip spans %.0f to %.0f px, outside the %.0f px viewport", how, r[0], r[1], r[2])
		}
	}
	center := func() (x, y float64) {
		t.Helper()
		if err := chromedp.Do(browser, chromedp.ScrollIntoView(chromedp.CSS("#"+box))); err != nil {
			t.Fatal(err)
		}
		c, err := chromedp.Run(browser, chromedp.Evaluate[[]float64](fmt.Sprintf(
			`(() => { const r = document.getElementById(%q).getBoundingClientRect(); return [r.left + r.width / 2, r.top + r.height / 2]; })()`, box)))
		if err != nil || len(c) != 2 {
			t.Fatalf("locate %s: %v %v", box, c, err)
		}
		return c[0], c[1]
	}

	// A phone: tap to open, tap elsewhere to close.
	loadPage(t, browser, ts.URL+"/", 390, chromedp.EmulateMobile, chromedp.EmulateTouch)
	x, y := center()
	if err := chromedp.Do(browser, chromedp.TapXY(x, y)); err != nil {
		t.Fatal(err)
	}
	inside("tapped at 390 px")
	if err := chromedp.Do(browser, chromedp.TapXY(x+200, y+200)); err != nil {
		t.Fatal(err)
	}
	waitTooltip(t, browser, box, false)

	// A narrow window with a mouse: hover, then keyboard focus.
	loadPage(t, browser, ts.URL+"/", 390)
	x, y = center()
	if err := chromedp.Do(browser, chromedp.MouseEvent(chromedp.MouseMoved, x, y)); err != nil {
		t.Fatal(err)
	}
	inside("hovered at 390 px")
	if err := chromedp.Do(browser, chromedp.MouseEvent(chromedp.MouseMoved, x+200, y+200)); err != nil {
		t.Fatal(err)
	}
	waitTooltip(t, browser, box, false)
	if err := chromedp.Do(browser, chromedp.Focus(chromedp.CSS("#"+box))); err != nil {
		t.Fatal(err)
	}
	inside("focused at 390 px")
	if err := chromedp.Do(browser, chromedp.Blur(chromedp.CSS("#"+box))); err != nil {
		t.Fatal(err)
	}

	// The window narrows while the page is open: tooltips are placed again.
	if err := chromedp.Do(browser, chromedp.EmulateViewport(320, 700)); err != nil {
		t.Fatal(err)
	}
	time.Sleep(300 * time.Millisecond) // index.js places them 100 ms after the last resize
	x, y = center()
	if err := chromedp.Do(browser, chromedp.MouseEvent(chromedp.MouseMoved, x, y)); err != nil {
		t.Fatal(err)
	}
	inside("hovered after narrowing to 320 px")
}

// browserConfig is the test config with the company's logo and icon served
// from another origin, as they usually are, and without custom_html, so the
// page runs under the built-in theme's strict Content-Security-Policy.
func browserConfig(t *testing.T) *config.Config {
	brand := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "image/svg+xml")
		_, _ = w.Write([]byte(acmeLogoSVG))
	}))
	t.Cleanup(brand.Close)
	cfg := testConfig(t)
	cfg.Branding.CustomHTML = ""
	cfg.Branding.LogoURL = brand.URL + "/logo.svg"
	cfg.Branding.IconURL = brand.URL + "/icon.svg"
	return cfg
}

// acmeLogoSVG is a company logo drawn for a light background, as most are.
const acmeLogoSVG = `<svg xmlns="http://www.w3.org/2000/svg" width="96" height="28" viewBox="0 0 96 28">` +
	`<rect width="28" height="28" rx="7" fill="#1972F5"/><path d="M8 20l6-12 6 12" fill="none" stroke="#FFF" stroke-width="2.6" stroke-linejoin="round"/>` +
	`<text x="36" y="21" font-family="Arial, sans-serif" font-weight="700" font-size="19" fill="#1C2430">Acme</text></svg>`

// newChromium starts a headless Chromium for the test and returns a tab in
// it; everything is stopped when the test ends. Without Chromium the test is
// skipped, unless VIGIL_REQUIRE_BROWSER=1.
func newChromium(t *testing.T) context.Context {
	t.Helper()
	browser := chromium.Start(t, chromium.Options{Timeout: 4 * time.Minute, Width: 1366, Height: 900})
	if err := chromedp.Do(browser); err != nil {
		t.Fatalf("start the browser: %v", err)
	}
	return browser
}

// loadPage sets the viewport width and loads url, waiting for its script.
func loadPage(t *testing.T, browser context.Context, url string, width int64, opts ...chromedp.EmulateViewportOption) {
	t.Helper()
	if err := chromedp.Do(browser,
		chromedp.EmulateViewport(width, 900, opts...),
		chromedp.Navigate(url),
		chromedp.WaitVisible(chromedp.CSS("#replica-web-api-2")),
	); err != nil {
		t.Fatalf("load %s at %d px: %v", url, width, err)
	}
	// Everything is laid out once the logo, from another origin, is in.
	waitFor(t, browser, "the page and its logo loaded", `document.readyState === "complete" && document.querySelector(".logo img").naturalWidth > 0`)
}

// emulateScheme makes the browser prefer the light or the dark scheme.
func emulateScheme(t *testing.T, browser context.Context, scheme string) {
	t.Helper()
	_, err := chromedp.Call(browser, emulation.SetEmulatedMedia, emulation.SetEmulatedMediaParams{
		Features: []*emulation.MediaFeature{{Name: "prefers-color-scheme", Value: scheme}},
	})
	if err != nil {
		t.Fatalf("prefer the %s scheme: %v", scheme, err)
	}
}

func evalString(t *testing.T, browser context.Context, script string) string {
	t.Helper()
	return chromium.Eval(t, browser, fmt.Sprintf("evaluate %.60q", script), script)
}

// loadAxe returns axe-core's script at the version pinned in
// testdata/axe/package-lock.json, installing it with `npm ci` when it is
// missing or another version is there.
func loadAxe(t *testing.T) string {
	t.Helper()
	required := os.Getenv("VIGIL_REQUIRE_BROWSER") == "1"
	dir := filepath.Join("testdata", "axe")
	pinned := packageVersion(t, filepath.Join(dir, "package-lock.json"), "node_modules/axe-core")
	installed := filepath.Join(dir, "node_modules", "axe-core")
	if packageVersion(t, filepath.Join(installed, "package.json"), "") != pinned {
		missing := func(format string, args ...any) {
			t.Helper()
			if required {
				t.Fatalf("VIGIL_REQUIRE_BROWSER=1 but "+format, args...)
			}
			t.Skipf(format+"; set VIGIL_REQUIRE_BROWSER=1 to make this a failure", args...)
		}
		if _, err := exec.LookPath("npm"); err != nil {
			missing("npm is not installed, so axe-core cannot be (scripts/test installs npm)")
		}
		npm := exec.Command("npm", "ci", "--no-audit", "--no-fund")
		npm.Dir = dir
		if out, err := npm.CombinedOutput(); err != nil {
			missing("npm ci in %s: %v\n%s", dir, err, out)
		}
		if got := packageVersion(t, filepath.Join(installed, "package.json"), ""); got != pinned {
			t.Fatalf("after npm ci, axe-core is at %q, want %s from the lockfile", got, pinned)
		}
	}
	src, err := os.ReadFile(filepath.Join(installed, "axe.min.js"))
	if err != nil {
		t.Fatalf("read axe-core: %v", err)
	}
	return string(src)
}

// packageVersion reads the version of an npm package.json (entry "") or of
// an entry of a package-lock.json's "packages"; "" when the file is missing.
func packageVersion(t *testing.T, file, entry string) string {
	t.Helper()
	data, err := os.ReadFile(file)
	if os.IsNotExist(err) {
		return ""
	} else if err != nil {
		t.Fatal(err)
	}
	var pkg struct {
		Version  string `json:"version"`
		Packages map[string]struct {
			Version string `json:"version"`
		} `json:"packages"`
	}
	if err := json.Unmarshal(data, &pkg); err != nil {
		t.Fatalf("%s: %v", file, err)
	}
	if entry == "" {
		return pkg.Version
	}
	if pkg.Packages[entry].Version == "" {
		t.Fatalf("%s pins no %s", file, entry)
	}
	return pkg.Packages[entry].Version
}

// axeViolation is one rule axe found broken, with the elements it names.
type axeViolation struct {
	ID     string   `json:"id"`
	Impact string   `json:"impact"`
	Help   string   `json:"help"`
	Nodes  []string `json:"nodes"`
}

// runAxe injects axe-core into the loaded page and returns its violations
// of impact "serious" or "critical".
func runAxe(t *testing.T, browser context.Context, axeSource string) []axeViolation {
	t.Helper()
	if _, err := chromedp.Run(browser, chromedp.Evaluate[bool](axeSource+"\n;true")); err != nil {
		t.Fatalf("inject axe-core: %v", err)
	}
	out, err := chromedp.Run(browser, chromedp.Evaluate[string](`axe.run(document, {resultTypes: ["violations"]}).then(r => JSON.stringify(
		r.violations
			.filter(v => v.impact === "serious" || v.impact === "critical")
			.map(v => ({id: v.id, impact: v.impact, help: v.help,
				nodes: v.nodes.map(n => n.target.join(" ") + ": " + (n.failureSummary || "").replace(/\s+/g, " "))}))))`,
		chromedp.EvalAwaitPromise))
	if err != nil {
		t.Fatalf("run axe-core: %v", err)
	}
	var vs []axeViolation
	if err := json.Unmarshal([]byte(out), &vs); err != nil {
		t.Fatalf("read axe-core's results %q: %v", out, err)
	}
	return vs
}

// textSample is a visible text element with its computed colours: its own
// text colour and the background colours from it up to the first opaque one.
type textSample struct {
	What        string   `json:"what"`
	Text        string   `json:"text"`
	Color       string   `json:"color"`
	Backgrounds []string `json:"backgrounds"`
	Size        float64  `json:"size"`
	Weight      int      `json:"weight"`
}

// textContrastProblems computes the WCAG contrast of each visible text of
// the page from its computed styles, and lists those below AA: 4.5:1, or 3:1
// for large text (24 px, or 18.66 px bold).
func textContrastProblems(t *testing.T, browser context.Context) []string {
	t.Helper()
	out := evalString(t, browser, `(() => {
		const samples = [], seen = new Set();
		const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
		for (let n = walker.nextNode(); n; n = walker.nextNode()) {
			const el = n.parentElement;
			if (!n.textContent.trim() || seen.has(el)) continue;
			seen.add(el);
			const style = getComputedStyle(el), box = el.getBoundingClientRect();
			if (style.visibility !== "visible" || box.width === 0 || box.height === 0 || el.closest(".visually-hidden, script, style")) continue;
			const backgrounds = [];
			for (let e = el; e; e = e.parentElement) {
				const bg = getComputedStyle(e).backgroundColor;
				backgrounds.push(bg);
				if (/^rgb\(/.test(bg)) break;
			}
			const what = el.tagName.toLowerCase() + (el.id ? "#" + el.id : "") + (el.classList.length ? "." + [...el.classList].join(".") : "");
			samples.push({what, text: n.textContent.trim().slice(0, 40), color: style.color, backgrounds,
				size: parseFloat(style.fontSize), weight: parseInt(style.fontWeight, 10)});
		}
		return JSON.stringify(samples);
	})()`)
	var samples []textSample
	if err := json.Unmarshal([]byte(out), &samples); err != nil {
		t.Fatalf("read the text samples: %v", err)
	}
	if len(samples) < 20 {
		t.Fatalf("only %d text samples: the page did not render", len(samples))
	}
	var problems []string
	for _, s := range samples {
		bg := contrast.White // the canvas under a page that paints nothing
		for i := len(s.Backgrounds) - 1; i >= 0; i-- {
			c, err := contrast.Parse(s.Backgrounds[i])
			if err != nil {
				t.Fatalf("%s: background: %v", s.What, err)
			}
			bg = c.Over(bg)
		}
		fg, err := contrast.Parse(s.Color)
		if err != nil {
			t.Fatalf("%s: colour: %v", s.What, err)
		}
		fg = fg.Over(bg)
		want := contrast.AAText
		if s.Size >= 24 || s.Size >= 18.66 && s.Weight >= 700 {
			want = contrast.AALargeText
		}
		if got := contrast.Ratio(fg, bg); got < want {
			problems = append(problems, fmt.Sprintf("text %q (%s, %.1f px) is %s on %s: contrast %.2f:1, want %.1f:1",
				s.Text, s.What, s.Size, fg, bg, got, want))
		}
	}
	return problems
}

// layoutProblems lists what breaks the layout at the current width: the
// page scrolling sideways, a visible element reaching past the viewport, the
// header's content overflowing its box, or the header's parts overlapping.
func layoutProblems(t *testing.T, browser context.Context) []string {
	t.Helper()
	out := evalString(t, browser, `(() => {
		const problems = [], width = document.documentElement.clientWidth;
		if (document.documentElement.scrollWidth > width) {
			problems.push("the page is " + document.documentElement.scrollWidth + " px wide in a " + width + " px viewport");
		}
		const visible = e => { const s = getComputedStyle(e); return s.display !== "none" && s.visibility === "visible"; };
		for (const e of document.querySelectorAll("header *, aside *, main *, footer *")) {
			if (!visible(e) || e.closest(".visually-hidden")) continue;
			const r = e.getBoundingClientRect();
			if (r.width > 0 && (r.left < -0.5 || r.right > width + 0.5)) {
				problems.push(e.tagName.toLowerCase() + "." + [...e.classList].join(".") + " spans " + Math.round(r.left) + " to " + Math.round(r.right) + " px");
			}
		}
		for (const e of document.querySelectorAll("header, header *")) {
			if (visible(e) && e.scrollWidth > e.clientWidth + 1 && e.clientWidth > 0) {
				problems.push("in the header, " + e.tagName.toLowerCase() + "." + [...e.classList].join(".") + " overflows by " + (e.scrollWidth - e.clientWidth) + " px");
			}
		}
		const parts = [".logo img", ".logo-label", ".nav-support", ".nav-website"]
			.map(s => [s, document.querySelector(s)]).filter(([, e]) => e && visible(e));
		for (let i = 0; i < parts.length; i++) {
			for (let j = i + 1; j < parts.length; j++) {
				const a = parts[i][1].getBoundingClientRect(), b = parts[j][1].getBoundingClientRect();
				if (a.left < b.right && b.left < a.right && a.top < b.bottom && b.top < a.bottom) {
					problems.push("in the header, " + parts[i][0] + " overlaps " + parts[j][0]);
				}
			}
		}
		return JSON.stringify(problems);
	})()`)
	var problems []string
	if err := json.Unmarshal([]byte(out), &problems); err != nil {
		t.Fatalf("read the layout problems: %v", err)
	}
	return problems
}
