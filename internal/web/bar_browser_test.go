package web

import (
	"context"
	"fmt"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"

	"github.com/vigil-go/vigil/internal/status"
	"github.com/vigil-go/vigil/internal/testkit/chromium"
)

// TestBrowserDayBar drives the 90-day bar in Chromium: its accessible name
// and the patterns of bad days; a day's details in a popover by mouse, by
// keyboard (Enter, arrows, Tab into its buttons, Escape) and by tap on a
// phone, inside the viewport; the hover text; folding a service, which
// survives the live refresh; and, without JavaScript, the day page the bar
// links to and a service folded by its <summary>. With
// VIGIL_BAR_SCREENSHOT=<file.png> it saves the page with a popover open.
func TestBrowserDayBar(t *testing.T) {
	browser := startChromium(t)
	st := openStoreGap(t)
	fillHistory(t, st)
	ts := newManagerServer(t, st, Options{})
	ts.src.Set(sampleServices(status.Healthy), testNow)

	const bar = `a.bar[href="status/history/web/api/days"]`
	// dayX is the viewport x of the middle of day i of the API bar.
	dayXY := func(i int) (float64, float64) {
		t.Helper()
		xy, err := chromedp.Run(browser, chromedp.Evaluate[[]float64](fmt.Sprintf(
			`(() => { const r = document.querySelector(%q).getBoundingClientRect(); return [r.left + (%d + 0.5) * r.width / 90, r.top + r.height / 2]; })()`, bar, i)))
		if err != nil || len(xy) != 2 {
			t.Fatalf("locate day %d: %v %v", i, xy, err)
		}
		return xy[0], xy[1]
	}
	// popover returns the popover's text, "" when closed, after checking
	// it lies inside the viewport.
	popover := func() string {
		t.Helper()
		return chromium.Eval(t, browser, "read the popover", `(() => {
			const p = document.querySelector(".bar-popover");
			if (!p) return "";
			const r = p.getBoundingClientRect(), w = document.documentElement.clientWidth, h = window.innerHeight;
			if (r.left < 0 || r.right > w || r.top < 0 || r.bottom > h) return "outside the viewport: " + JSON.stringify(r) + " in " + w + "x" + h;
			return p.querySelector(".bar-popover-day").innerText.replace(/\s+/g, " ").trim();
		})()`)
	}
	waitPopover := func(what, want string) {
		t.Helper()
		deadline := time.Now().Add(5 * time.Second)
		for {
			got := popover()
			if got == want {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s: popover %q, want %q", what, got, want)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	const (
		dead    = "Dead 3 Mar 2031: 97.91% uptime, 1 incident: API outage"
		today   = "Healthy 4 Mar 2031: 100.00% uptime"
		noData  = "Without data 5 Dec 2030: no data"
		focused = `document.activeElement.matches(` + "`" + bar + "`" + `)`
	)

	chromium.Do(t, browser, "load the page", chromedp.EmulateViewport(1200, 900), chromedp.Navigate(ts.URL+"/"), chromedp.WaitVisible(chromedp.CSS(bar)))
	if name := chromium.Eval(t, browser, "read the bar's name", `document.querySelector(`+"`"+bar+"`"+`).getAttribute("aria-label")`); name != "90 days: 3 healthy, 1 dead, 86 without data" {
		t.Errorf("bar's accessible name = %q", name)
	}
	// A dead day is not told by colour alone: it is hatched.
	if bg := chromium.Eval(t, browser, "read a dead day's look", `getComputedStyle(document.querySelector(".bar-dead")).backgroundImage`); !strings.Contains(bg, "repeating-linear-gradient") {
		t.Errorf("dead day background-image = %q, want a pattern", bg)
	}

	// Mouse: the hover text, then a click opens the day under the pointer.
	x, y := dayXY(88)
	chromium.Do(t, browser, "hover the dead day", chromedp.MouseEvent(chromedp.MouseMoved, x-1, y), chromedp.MouseEvent(chromedp.MouseMoved, x, y))
	waitFor(t, browser, "the dead day's hover text", `document.querySelector(`+"`"+bar+"`"+`).title === "Dead, 3 Mar 2031: 97.91% uptime, 1 incident: API outage"`)
	chromium.Do(t, browser, "click the dead day", chromedp.MouseClickXY(x, y))
	waitPopover("click on 3 March", dead)
	if loc := chromium.Eval(t, browser, "read the location", `location.pathname`); loc != "/" {
		t.Errorf("a click on the bar left the page for %s", loc)
	}
	chromium.Do(t, browser, "next day", chromedp.KeyEvent(kb.ArrowRight))
	waitPopover("ArrowRight", today)
	chromium.Do(t, browser, "close", chromedp.KeyEvent(kb.Escape))
	waitPopover("Escape", "")
	waitFor(t, browser, "focus back on the bar", focused)

	// Keyboard: Enter opens the most recent day; arrows move; Tab reaches
	// the popover's buttons, which work with Enter; Escape closes.
	chromium.Do(t, browser, "blur", chromedp.Blur(chromedp.CSS(bar)))
	chromium.Do(t, browser, "focus the bar", chromedp.Focus(chromedp.CSS(bar)))
	chromium.Do(t, browser, "Enter", chromedp.KeyEvent(kb.Enter))
	waitPopover("Enter on the bar", today)
	if exp := chromium.Eval(t, browser, "read aria-expanded", `document.querySelector(`+"`"+bar+"`"+`).getAttribute("aria-expanded")`); exp != "true" {
		t.Errorf("aria-expanded = %q with the popover open", exp)
	}
	chromium.Do(t, browser, "previous day", chromedp.KeyEvent(kb.ArrowLeft))
	waitPopover("ArrowLeft", dead)
	if path := os.Getenv("VIGIL_BAR_SCREENSHOT"); path != "" {
		png, err := chromedp.Run(browser, chromedp.FullScreenshot(100))
		if err != nil {
			t.Fatalf("take a screenshot: %v", err)
		}
		if err := os.WriteFile(path, png, 0o644); err != nil {
			t.Fatalf("save the screenshot: %v", err)
		}
	}
	chromium.Do(t, browser, "Tab into the popover", chromedp.KeyEvent(kb.Tab))
	if label := chromium.Eval(t, browser, "read the focus", `document.activeElement.getAttribute("aria-label") || ""`); label != "Previous day" {
		t.Errorf("Tab from the bar reached %q, want the Previous day button", label)
	}
	chromium.Do(t, browser, "press Previous day", chromedp.KeyEvent(kb.Enter))
	waitPopover("the Previous day button", "Healthy 2 Mar 2031: 100.00% uptime")
	chromium.Do(t, browser, "Escape from the popover", chromedp.KeyEvent(kb.Escape))
	waitPopover("Escape in the popover", "")
	waitFor(t, browser, "focus back on the bar", focused)

	// Folding a service survives the live refresh.
	chromium.Do(t, browser, "fold Web", chromedp.Click(chromedp.CSS(`#nodes-web > summary`)))
	waitFor(t, browser, "Web folded", `!document.getElementById("nodes-web").open`)
	chromium.Eval(t, browser, "mark the document", `String(window.vigilTestMarker = 7)`)
	key := chromium.Eval(t, browser, "read the render key", `document.querySelector('meta[name="vigil-render"]').content`)
	// dayFetches counts the requests for the API's day page so far.
	dayFetches := func() string {
		t.Helper()
		return chromium.Eval(t, browser, "count the day page fetches", `String(performance.getEntriesByType("resource").filter(e => e.name.endsWith("/status/history/web/api/days")).length)`)
	}
	fetched := dayFetches()
	ts.src.Set(sampleServices(status.Dead), testNow)
	deadline := time.Now().Add(25 * time.Second)
	for chromium.Eval(t, browser, "read the render key", `window.vigilTestMarker === 7 ? document.querySelector("aside").dataset.status : "reloaded"`) != "dead" {
		if time.Now().After(deadline) {
			t.Fatalf("the page did not refresh to the dead state within 25 s (render key %s)", key)
		}
		time.Sleep(250 * time.Millisecond)
	}
	if open := chromium.Eval(t, browser, "read the fold", `String(document.getElementById("nodes-web").open)`); open != "false" {
		t.Error("the refresh unfolded the service the visitor folded")
	}
	// The refresh brought a new state, not a new history: the days fetched
	// already give the new bar its hover text, without a request.
	chromium.Do(t, browser, "unfold Web to hover", chromedp.Click(chromedp.CSS(`#nodes-web > summary`)))
	waitFor(t, browser, "Web unfolded", `document.getElementById("nodes-web").open`)
	x, y = dayXY(88)
	chromium.Do(t, browser, "hover the dead day after the refresh", chromedp.MouseEvent(chromedp.MouseMoved, x-1, y), chromedp.MouseEvent(chromedp.MouseMoved, x, y))
	waitFor(t, browser, "the hover text after the refresh", `document.querySelector(`+"`"+bar+"`"+`).title.startsWith("Dead, 3 Mar 2031")`)
	if got := dayFetches(); got != fetched {
		t.Errorf("the day page was fetched %s times after a refresh of the state alone, want still %s: the days change only with the history", got, fetched)
	}
	// A new incident is a new history: the days are fetched again.
	if r := ts.manager(t, "POST", "/manager/incident/", `{"title":"Slow queries","nodes":["web:api"]}`); r.code != 200 {
		t.Fatalf("open an incident: %d %s", r.code, r.body)
	}
	x, y = dayXY(89)
	deadline = time.Now().Add(25 * time.Second)
	for {
		chromium.Do(t, browser, "hover today", chromedp.MouseEvent(chromedp.MouseMoved, x-1, y), chromedp.MouseEvent(chromedp.MouseMoved, x, y))
		if strings.Contains(chromium.Eval(t, browser, "read the hover text", `document.querySelector(`+"`"+bar+"`"+`).title`), "Slow queries") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("today's hover text does not show the incident opened 25 s ago: the days of the old history were kept")
		}
		time.Sleep(250 * time.Millisecond)
	}
	const todayIncident = today + ", 1 incident: Slow queries"
	chromium.Do(t, browser, "fold Web again", chromedp.Click(chromedp.CSS(`#nodes-web > summary`)))
	waitFor(t, browser, "Web folded", `!document.getElementById("nodes-web").open`)
	chromium.Do(t, browser, "unfold Web", chromedp.Click(chromedp.CSS(`#nodes-web > summary`)))
	waitFor(t, browser, "Web unfolded", `document.getElementById("nodes-web").open`)

	// A phone: a tap opens the popover inside the viewport, at both ends.
	chromium.Do(t, browser, "phone", chromedp.EmulateViewport(390, 800, chromedp.EmulateMobile, chromedp.EmulateTouch))
	chromium.Do(t, browser, "scroll to the bar", chromedp.ScrollIntoView(chromedp.CSS(bar)))
	x, y = dayXY(0)
	chromium.Do(t, browser, "tap the oldest day", chromedp.TapXY(x, y))
	waitPopover("tap on the oldest day", noData)
	// Chromium adjusts a tap to its target's shape, which can move it by a
	// day of 3.5 px at the bar's end: either of the last two days is right.
	x, y = dayXY(89)
	chromium.Do(t, browser, "tap today", chromedp.TapXY(x, y))
	waitFor(t, browser, "a popover at the right end", `!!document.querySelector(".bar-popover")`)
	if got := popover(); got == dead {
		chromium.Do(t, browser, "tap the next day button", chromedp.Click(chromedp.CSS(".bar-popover-next")))
	} else if got != todayIncident {
		t.Fatalf("tap on today: popover %q, want %q or %q", got, todayIncident, dead)
	}
	waitPopover("the right end", todayIncident)
	chromium.Do(t, browser, "tap the previous day button", chromedp.Click(chromedp.CSS(".bar-popover-previous")))
	waitPopover("tap on Previous day", dead)
	chromium.Do(t, browser, "scroll to the top", chromedp.ScrollIntoView(chromedp.CSS(".general h2")))
	xy, err := chromedp.Run(browser, chromedp.Evaluate[[]float64](
		`(() => { const r = document.querySelector(".general h2").getBoundingClientRect(); return [r.left + 10, r.top + r.height / 2]; })()`))
	if err != nil || len(xy) != 2 {
		t.Fatalf("locate the heading: %v %v", xy, err)
	}
	chromium.Do(t, browser, "tap elsewhere", chromedp.TapXY(xy[0], xy[1]))
	waitPopover("tap elsewhere", "")

	// Without JavaScript: the bar is a link to the day page, and services
	// fold with their summary.
	chromium.Do(t, browser, "disable scripts", chromedp.EmulateViewport(1200, 900), chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
		_, err := cdp.Call(ctx, tg, emulation.SetScriptExecutionDisabled, emulation.SetScriptExecutionDisabledParams{Value: true})
		return err
	}))
	chromium.Do(t, browser, "reload without scripts", chromedp.Navigate(ts.URL+"/"), chromedp.WaitVisible(chromedp.CSS(bar)))
	chromium.Do(t, browser, "fold Web without scripts", chromedp.Click(chromedp.CSS(`#nodes-web > summary`)))
	waitFor(t, browser, "Web folded without scripts", `!document.getElementById("nodes-web").open`)
	chromium.Do(t, browser, "unfold Web without scripts", chromedp.Click(chromedp.CSS(`#nodes-web > summary`)))
	waitFor(t, browser, "Web unfolded without scripts", `document.getElementById("nodes-web").open`)
	chromium.Do(t, browser, "follow the bar", chromedp.Click(chromedp.CSS(bar)), chromedp.WaitVisible(chromedp.CSS("ol.days")))
	if loc := chromium.Eval(t, browser, "read the location", `location.pathname`); loc != "/status/history/web/api/days" {
		t.Errorf("the bar led to %s", loc)
	}
	if line := chromium.Eval(t, browser, "read 3 March", `document.querySelectorAll("ol.days > li")[88].innerText.replace(/\s+/g, " ").trim()`); line != dead {
		t.Errorf("3 March on the day page = %q, want %q", line, dead)
	}
	if bg := chromium.Eval(t, browser, "read the stylesheet on the day page", `getComputedStyle(document.querySelectorAll("ol.days .day-swatch")[88]).backgroundImage`); !strings.Contains(bg, "repeating-linear-gradient") {
		t.Errorf("the day page's dead swatch = %q, want the bar's pattern", bg)
	}
}

// startChromium starts a headless Chromium for one test and returns its
// context; any uncaught script error in a page fails the test. It skips the
// test when Chromium is missing, unless VIGIL_REQUIRE_BROWSER=1.
func startChromium(t *testing.T) context.Context {
	t.Helper()
	browser := chromium.Start(t, chromium.Options{})
	var mu sync.Mutex
	var errs []string
	if err := chromedp.Listen(browser, func(ev any) {
		if e, ok := ev.(*runtime.EventExceptionThrown); ok && e.ExceptionDetails != nil {
			msg := e.ExceptionDetails.Text
			if e.ExceptionDetails.Exception != nil {
				msg += ": " + e.ExceptionDetails.Exception.Description
			}
			mu.Lock()
			errs = append(errs, msg)
			mu.Unlock()
		}
	}); err != nil {
		t.Fatalf("start the browser: %v", err)
	}
	t.Cleanup(func() {
		mu.Lock()
		defer mu.Unlock()
		for _, e := range errs {
			t.Errorf("script error in the page: %s", e)
		}
	})
	return browser
}
