package subscribe_test

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/vigil-go/vigil/internal/testkit/chromium"
)

// TestBrowserJourney is the visitor's journey in a real headless
// Chromium: fill the page's form and submit it, follow the link of the
// confirmation mail read from the SMTP server, get the mail of an incident
// opened through the manager API, and unsubscribe through the link of its
// List-Unsubscribe header.
//
// It is skipped when Chromium is missing, unless VIGIL_REQUIRE_BROWSER=1.
func TestBrowserJourney(t *testing.T) {
	r := newRig(t, rigOptions{})

	// No script is needed anywhere on this journey.
	browser := chromium.Start(t, chromium.Options{Width: 1200, Height: 1000, NoScript: true})
	// waitHeading waits for the page's heading to read want. A click that
	// submits a form navigates: until the new page is there, the heading
	// may be the old one, or unreadable while the document is replaced.
	waitHeading := func(after, want string) {
		t.Helper()
		var got string
		var err error
		for deadline := time.Now().Add(wait); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
			var h string
			if h, err = chromedp.Run(browser, chromedp.Text(chromedp.CSS("h1"))); err == nil {
				if got = strings.TrimSpace(h); got == want {
					return
				}
			}
		}
		t.Fatalf("after %s, heading = %q (last error: %v), want %q", after, got, err, want)
	}

	chromium.Do(t, browser, "fill and submit the form",
		chromedp.Navigate(r.url),
		chromedp.WaitVisible(chromedp.CSS(".subscribe-form")),
		chromedp.SendKeys(chromedp.CSS("#subscribe-address"), "browser@example.com"),
		chromedp.Click(chromedp.CSS(`.subscribe-service input[value="web"]`)),
		chromedp.Click(chromedp.CSS(".subscribe-button")),
		chromedp.WaitVisible(chromedp.CSS("main.subscribe-result")),
	)
	waitHeading("submitting", "Check your inbox")

	link := confirmLinkIn(t, r.mail.Wait(t, "browser@example.com", 1, wait)[0])
	chromium.Do(t, browser, "follow the confirmation link and press its button",
		chromedp.Navigate(link),
		chromedp.WaitVisible(chromedp.CSS("main.subscribe-result button")),
		chromedp.Click(chromedp.CSS("main.subscribe-result button")),
		chromedp.WaitVisible(chromedp.CSS("main.subscribe-result")),
	)
	waitHeading("confirming", "Subscription confirmed")

	r.clock.Advance(time.Minute)
	if a := r.manager(http.MethodPost, "manager/incident", `{"title":"Checkout errors","nodes":["web:api"]}`); a.code != http.StatusOK {
		t.Fatalf("open incident = %d %s", a.code, a.body)
	}
	m := r.mail.Wait(t, "browser@example.com", 2, wait)[1]
	if got := m.Subject(); got != "[Acme Status] Incident: Checkout errors" {
		t.Errorf("subject = %q", got)
	}
	unsubscribe := strings.Trim(m.Header.Get("List-Unsubscribe"), "<>")
	chromium.Do(t, browser, "follow the List-Unsubscribe link and press its button",
		chromedp.Navigate(unsubscribe),
		chromedp.WaitVisible(chromedp.CSS("main.subscribe-result button")),
		chromedp.Click(chromedp.CSS("main.subscribe-result button")),
	)
	waitHeading("unsubscribing", "Unsubscribed")
	if n := countSubscribers(t, r, "browser@example.com"); n != 0 {
		t.Errorf("still subscribed after unsubscribing in the browser")
	}
}
