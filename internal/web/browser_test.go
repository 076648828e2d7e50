package web

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"

	"github.com/vigil-go/vigil/internal/status"
	"github.com/vigil-go/vigil/internal/testkit/chromium"
)

// TestBrowser loads the page in a real headless Chromium: replica boxes,
// tooltips on hover and keyboard focus, and the live refresh that updates
// the page without reloading it when the monitor's state changes.
//
// It is skipped when Chromium is missing, unless VIGIL_REQUIRE_BROWSER=1.
// With VIGIL_SCREENSHOT=<directory> it saves the README's screenshots of the
// page there: status-page.png (light) and status-page-dark.png.
func TestBrowser(t *testing.T) {

	// The company's logo and icon live elsewhere, as they usually do.
	brand := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "image/svg+xml")
		_, _ = w.Write([]byte(`<svg xmlns="http://www.w3.org/2000/svg" width="96" height="28" viewBox="0 0 96 28">` +
			`<rect width="28" height="28" rx="7" fill="#1972F5"/><path d="M8 20l6-12 6 12" fill="none" stroke="#FFF" stroke-width="2.6" stroke-linejoin="round"/>` +
			`<text x="36" y="21" font-family="Arial, sans-serif" font-weight="700" font-size="19" fill="#1C2430">Acme</text></svg>`))
	}))
	defer brand.Close()
	cfg := testConfig(t)
	cfg.Branding.LogoURL = brand.URL + "/logo.svg"
	cfg.Branding.IconURL = brand.URL + "/icon.svg"
	// Without custom_html, the page is served under the strict policy of
	// the built-in theme: its own script file and inline script only.
	cfg.Branding.CustomHTML = ""
	ts := newTestServer(t, Options{Config: cfg, Now: time.Now})
	ts.src.Set(sampleServicesAt(time.Now(), status.Healthy), time.Now())

	browser := chromium.Start(t, chromium.Options{Width: 1200, Height: 1000})

	// Any uncaught script error fails the test.
	var mu sync.Mutex
	var jsErrors []string
	err := chromedp.Listen(browser, func(ev any) {
		if e, ok := ev.(*runtime.EventExceptionThrown); ok && e.ExceptionDetails != nil {
			msg := e.ExceptionDetails.Text
			if e.ExceptionDetails.Exception != nil {
				msg += ": " + e.ExceptionDetails.Exception.Description
			}
			mu.Lock()
			jsErrors = append(jsErrors, msg)
			mu.Unlock()
		}
	})
	if err != nil {
		t.Fatalf("start the browser: %v", err)
	}
	defer func() {
		mu.Lock()
		defer mu.Unlock()
		for _, e := range jsErrors {
			t.Errorf("script error in the page: %s", e)
		}
	}()

	chromium.Do(t, browser, "load the page",
		chromedp.Navigate(ts.URL+"/"),
		chromedp.WaitVisible(chromedp.CSS("#replica-web-api-2")),
	)

	classes := chromium.Eval(t, browser, "read the replica boxes",
		`JSON.stringify(Object.fromEntries([...document.querySelectorAll(".replica")].map(e => [e.id, e.className])))`)
	for _, id := range []string{"replica-web-api-1", "replica-web-api-2", "replica-web-workers-1", "replica-jobs-cron-1", "replica-jobs-agent-1"} {
		if !strings.Contains(classes, `"`+id+`":"replica status-healthy-background `) {
			t.Errorf("box %s: want status-healthy-background; boxes: %s", id, classes)
		}
	}
	if general := chromium.Eval(t, browser, "read the inline script's status", `String(window.STATUS_GENERAL)`); general != "healthy" {
		t.Errorf("window.STATUS_GENERAL = %q, want healthy: the Content-Security-Policy blocked the page's inline script", general)
	}
	waitFor(t, browser, "the logo from another origin shown", `document.querySelector(".logo img").naturalWidth > 0`)
	if banner := chromium.Eval(t, browser, "read the banner", `document.querySelector("aside h1").textContent.trim()`); banner != "All systems report as healthy" {
		t.Errorf("banner = %q, want All systems report as healthy", banner)
	}

	// Hover: the tooltip appears, with the replica's texts.
	center, err := chromedp.Run(browser, chromedp.Evaluate[[]float64](
		`(() => { const r = document.getElementById("replica-web-api-1").getBoundingClientRect(); return [r.left + r.width / 2, r.top + r.height / 2]; })()`))
	if err != nil || len(center) != 2 {
		t.Fatalf("locate a box: %v %v", center, err)
	}
	chromium.Do(t, browser, "hover a box", chromedp.MouseEvent(chromedp.MouseMoved, center[0], center[1]))
	tip := waitTooltip(t, browser, "replica-web-api-1", true)
	for _, want := range []string{"This replica reports as healthy.", "Checked via a poll probe (HTTP, SSH, TCP or ICMP).", "http://10.0.0.1/health", "Latency: 12 ms"} {
		if !strings.Contains(tip, want) {
			t.Errorf("hovered tooltip %q lacks %q", tip, want)
		}
	}
	chromium.Do(t, browser, "move the mouse away", chromedp.MouseEvent(chromedp.MouseMoved, 3, 3))
	waitTooltip(t, browser, "replica-web-api-1", false)

	// Keyboard focus: the tooltip appears too, and relative times are shown.
	chromium.Do(t, browser, "focus a box", chromedp.Focus(chromedp.CSS("#replica-web-workers-1")))
	tip = waitTooltip(t, browser, "replica-web-workers-1", true)
	for _, want := range []string{"This replica reports as healthy.", "Checked via a push probe (Reporter).", "Load: 42%", "Memory: 80%", "Queue: 3R 1N", "Last report: "} {
		if !strings.Contains(tip, want) {
			t.Errorf("focused tooltip %q lacks %q", tip, want)
		}
	}
	if ago := chromium.Eval(t, browser, "read a relative time", `document.querySelector("#replica-web-workers-1 time").textContent`); !strings.HasSuffix(ago, " s ago") {
		t.Errorf("last report time = %q, want a relative time like \"12 s ago\"", ago)
	}

	// Live refresh: a replica dies; the page follows without a reload, and
	// the focused box keeps its focus (and so its tooltip).
	if said := chromium.Eval(t, browser, "read the live region", `document.getElementById("status-announcer").textContent`); said != "" {
		t.Errorf("live region at load = %q, want nothing announced", said)
	}
	chromium.Eval(t, browser, "mark the document", `String(window.vigilTestMarker = 42)`)
	ts.src.Set(sampleServicesAt(time.Now(), status.Dead), time.Now())
	deadline := time.Now().Add(25 * time.Second)
	type pageState struct {
		Marker  int    `json:"marker"`
		Class   string `json:"class"`
		General string `json:"general"`
		Banner  string `json:"banner"`
		Focused string `json:"focused"`
	}
	var state pageState
	for {
		state, err = chromedp.Run(browser, chromedp.Evaluate[pageState](`({
			marker: window.vigilTestMarker || 0,
			class: document.getElementById("replica-web-api-2").className,
			general: window.STATUS_GENERAL,
			banner: document.querySelector("aside h1").textContent.trim(),
			focused: document.activeElement ? document.activeElement.id : ""
		})`))
		if err != nil {
			t.Fatalf("read the page state: %v", err)
		}
		if strings.Contains(state.Class, "status-dead-background") || time.Now().After(deadline) {
			break
		}
		time.Sleep(500 * time.Millisecond)
	}
	if !strings.Contains(state.Class, "status-dead-background") {
		t.Fatalf("25 s after a replica died, its box classes = %q, want status-dead-background", state.Class)
	}
	if state.Marker != 42 {
		t.Errorf("the page was reloaded (marker %d), want an in-place update", state.Marker)
	}
	if state.General != "dead" || state.Banner != "Partial service outage ongoing" {
		t.Errorf("after the update: STATUS_GENERAL %q, banner %q, want dead and the outage banner", state.General, state.Banner)
	}
	if state.Focused != "replica-web-workers-1" {
		t.Errorf("after the update, focus is on %q, want it kept on replica-web-workers-1", state.Focused)
	}
	waitTooltip(t, browser, "replica-web-workers-1", true)
	// Screen readers hear of the change: the polite live region says it.
	if said := chromium.Eval(t, browser, "read the live region", `(() => { const r = document.getElementById("status-announcer"); return r.getAttribute("aria-live") + ": " + r.textContent; })()`); said != "polite: Status changed: Partial service outage ongoing." {
		t.Errorf("live region after the change = %q, want polite: Status changed: Partial service outage ongoing.", said)
	}

	// The dead replica's tooltip says why.
	chromium.Do(t, browser, "focus the dead box", chromedp.Focus(chromedp.CSS("#replica-web-api-2")))
	tip = waitTooltip(t, browser, "replica-web-api-2", true)
	for _, want := range []string{"This replica reports as dead.", "GET http://10.0.0.2/health: status 503, want 200–399", "Latency: 0 ms"} {
		if !strings.Contains(tip, want) {
			t.Errorf("dead replica tooltip %q lacks %q", tip, want)
		}
	}

	if dir := os.Getenv("VIGIL_SCREENSHOT"); dir != "" {
		for _, shot := range []struct{ scheme, file string }{
			{"dark", "status-page-dark.png"},
			{"light", "status-page.png"},
		} {
			emulateScheme(t, browser, shot.scheme)
			waitTooltip(t, browser, "replica-web-api-2", true)
			png, err := chromedp.Run(browser, chromedp.FullScreenshot(100))
			if err != nil {
				t.Fatalf("take a screenshot: %v", err)
			}
			path := filepath.Join(dir, shot.file)
			if err := os.WriteFile(path, png, 0o644); err != nil {
				t.Fatalf("save screenshot: %v", err)
			}
			t.Logf("screenshot saved to %s", path)
		}
	}

	// A phone: every tooltip stays on screen, and a tap toggles one.
	chromium.Do(t, browser, "blur", chromedp.Blur(chromedp.CSS("#replica-web-api-2")))
	chromium.Do(t, browser, "narrow the viewport", chromedp.EmulateViewport(360, 760, chromedp.EmulateMobile, chromedp.EmulateTouch))
	waitFor(t, browser, "every tooltip inside a 360 px viewport", `(() => {
		const width = document.documentElement.clientWidth;
		return width <= 400 && [...document.querySelectorAll(".tooltip")].every(tip => {
			const r = tip.getBoundingClientRect();
			return r.left >= 0 && r.right <= width;
		});
	})()`)
	chromium.Do(t, browser, "scroll to a box", chromedp.ScrollIntoView(chromedp.CSS("#replica-jobs-cron-1")))
	center, err = chromedp.Run(browser, chromedp.Evaluate[[]float64](
		`(() => { const r = document.getElementById("replica-jobs-cron-1").getBoundingClientRect(); return [r.left + r.width / 2, r.top + r.height / 2]; })()`))
	if err != nil || len(center) != 2 {
		t.Fatalf("locate a box: %v %v", center, err)
	}
	chromium.Do(t, browser, "tap a box", chromedp.TapXY(center[0], center[1]))
	tip = waitTooltip(t, browser, "replica-jobs-cron-1", true)
	if !strings.Contains(tip, "Checked via a script probe.") {
		t.Errorf("tapped tooltip %q lacks the script mode line", tip)
	}
	chromium.Do(t, browser, "tap elsewhere", chromedp.TapXY(center[0]+150, center[1]+150))
	waitTooltip(t, browser, "replica-jobs-cron-1", false)

	// Behind a reverse proxy that serves the page at /status/ and strips the
	// prefix on the way, the page's relative links still reach the
	// stylesheets, the icons and the script.
	target, err := url.Parse(ts.URL)
	if err != nil {
		t.Fatal(err)
	}
	proxy := httptest.NewServer(http.StripPrefix("/status", httputil.NewSingleHostReverseProxy(target)))
	defer proxy.Close()
	chromium.Do(t, browser, "load the page under /status/",
		chromedp.Navigate(proxy.URL+"/status/"),
		chromedp.WaitVisible(chromedp.CSS("#replica-web-api-1")),
	)
	waitFor(t, browser, "the stylesheets, the script and the icons loaded under /status/", `(() => {
		const loaded = performance.getEntriesByType("resource").filter(e => e.responseStatus === 200).map(e => new URL(e.name).pathname);
		return ["/status/assets/stylesheets/common.css", "/status/assets/stylesheets/index.css", "/status/assets/javascripts/index.js"]
			.every(p => loaded.includes(p)) && loaded.some(p => p.startsWith("/status/assets/images/icons/"));
	})()`)
	if bg := chromium.Eval(t, browser, "read a box's colour", `getComputedStyle(document.getElementById("replica-web-api-1")).backgroundColor`); bg != "rgb(10, 125, 39)" {
		t.Errorf("healthy box under /status/: background %q, want rgb(10, 125, 39) from the stylesheet", bg)
	}

	// custom_html is the operator's own markup: its inline script runs.
	custom := newTestServer(t, Options{Config: testConfig(t), Now: time.Now})
	chromium.Do(t, browser, "load a page with custom_html",
		chromedp.Navigate(custom.URL+"/"),
		chromedp.WaitVisible(chromedp.CSS("#replica-web-api-1")),
	)
	if got := chromium.Eval(t, browser, "read custom_html's variable", `String(window.CUSTOM) + " " + window.STATUS_GENERAL`); got != "1 dead" {
		t.Errorf("window.CUSTOM, STATUS_GENERAL = %q, want 1 dead: custom_html's script or the theme's was blocked", got)
	}
}

// waitFor waits up to 5 s for a script to return true.
func waitFor(t *testing.T, ctx context.Context, what, script string) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		ok, err := chromedp.Run(ctx, chromedp.Evaluate[bool](script))
		if err != nil {
			t.Fatalf("%s: %v", what, err)
		}
		if ok {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: still false after 5 s", what)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// waitTooltip waits up to 5 s for the tooltip of the box id to be shown
// (fully opaque) or hidden, and returns its visible text.
func waitTooltip(t *testing.T, ctx context.Context, id string, shown bool) string {
	t.Helper()
	script := fmt.Sprintf(`(() => {
		const tip = document.querySelector("#%s .tooltip");
		const style = getComputedStyle(tip);
		const visible = style.visibility === "visible" && parseFloat(style.opacity) > 0.99;
		return visible ? "shown:" + tip.innerText.replace(/\s+/g, " ").trim() : "hidden";
	})()`, id)
	deadline := time.Now().Add(5 * time.Second)
	for {
		got, err := chromedp.Run(ctx, chromedp.Evaluate[string](script))
		if err != nil {
			t.Fatalf("read tooltip of %s: %v", id, err)
		}
		if strings.HasPrefix(got, "shown:") == shown {
			return strings.TrimPrefix(got, "shown:")
		}
		if time.Now().After(deadline) {
			t.Fatalf("tooltip of %s: got %q, want shown=%v", id, got, shown)
		}
		time.Sleep(100 * time.Millisecond)
	}
}
