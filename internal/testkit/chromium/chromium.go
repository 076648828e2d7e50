// Package chromium starts the real browser the page's tests drive:
// Debian's headless Chromium through chromedp, with the flags a machine
// without internet needs.
package chromium

import (
	"context"
	"os"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/vigil-go/vigil/internal/testkit/requires"
)

// Path is where Debian's chromium package installs the browser.
const Path = "/usr/bin/chromium"

// Options shape the browser; zero values take the defaults.
type Options struct {
	Timeout       time.Duration // the whole test's browsing; 2 minutes by default
	Width, Height int           // the window; 1200 × 900 by default
	NoScript      bool          // JavaScript off, as some visitors have it
}

// Start starts a headless Chromium for t and returns the context of its
// first tab; the browser stops when the test ends. Without Chromium the
// test is skipped (failed under VIGIL_REQUIRE_BROWSER=1), and in -short
// mode unless the browser is required.
func Start(t *testing.T, o Options) context.Context {
	t.Helper()
	if _, err := os.Stat(Path); err != nil {
		requires.Browser.Missing(t, "%v", err)
	}
	if testing.Short() && !requires.Browser.Required() {
		t.Skip("browser test skipped in -short mode")
	}
	if o.Timeout == 0 {
		o.Timeout = 2 * time.Minute
	}
	if o.Width == 0 || o.Height == 0 {
		o.Width, o.Height = 1200, 900
	}
	ctx, cancel := context.WithTimeout(context.Background(), o.Timeout)
	t.Cleanup(cancel)
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(Path),
		chromedp.Headless,
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck,
		chromedp.UserDataDir(t.TempDir()),
		// The machine reaches no Google host: without these, Chromium's
		// background connections are refused many at a time.
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.WindowSize(o.Width, o.Height),
	}
	if o.NoScript {
		opts = append(opts, chromedp.Flag("blink-settings", "scriptEnabled=false"))
	}
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(ctx, opts...)
	t.Cleanup(cancelAlloc)
	browser, cancelBrowser := chromedp.NewContext(allocCtx)
	t.Cleanup(cancelBrowser)
	return browser
}

// Do runs steps in browser and fails t, saying what was being done, when
// one fails.
func Do(t testing.TB, browser context.Context, what string, steps ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	if err := chromedp.Do(browser, steps...); err != nil {
		t.Fatalf("%s: %v", what, err)
	}
}

// Eval evaluates script in browser and returns its string result; it fails
// t, saying what was being read, when the script fails.
func Eval(t testing.TB, browser context.Context, what, script string) string {
	t.Helper()
	v, err := chromedp.Run(browser, chromedp.Evaluate[string](script))
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
	return v
}
