package daemon

import (
	"fmt"
	"io"
	"net/http"
	"net/url"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/vigil-go/vigil/internal/config/configtest"
	"github.com/vigil-go/vigil/internal/testkit/mailbox"
)

// TestSubscriptionsInTheDaemon runs vigil with [subscriptions] enabled:
// the page has the form, a sign-up is mailed its confirmation through the
// SMTP server of [notify.email], and a stop leaves no goroutine of the
// dispatcher or its outbox behind.
func TestSubscriptionsInTheDaemon(t *testing.T) {
	mail := mailbox.Start(t)
	ignore := goleak.IgnoreCurrent()
	dir := t.TempDir()
	addr, stop := runDaemon(t, dir, fmt.Sprintf(`[server]
log_level = "off"
manager_token = "m"
reporter_token = "r"
inet = "127.0.0.1:0"

`+configtest.Branding+`
[storage]
path = %q

[notify]
startup_notification = false
[notify.email]
to = "team@example.com"
from = "alerts@example.com"
smtp_host = %q
smtp_port = %d
smtp_encrypt = false

[subscriptions]
enabled = true
from = "updates@example.com"

[[probe.service]]
id = "web"
label = "Web"

[[probe.service.node]]
id = "push"
label = "Push"
mode = "push"
`, filepath.Join(dir, "vigil.db"), mail.Host, mail.Port), io.Discard)

	base := "http://" + addr.String()
	client := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}
	res, err := client.Get(base + "/")
	if err != nil {
		t.Fatal(err)
	}
	page, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if !strings.Contains(string(page), `action="subscriptions"`) {
		t.Fatalf("the page has no subscription form")
	}
	res, err = client.PostForm(base+"/subscriptions", url.Values{"address": {"visitor@example.com"}})
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusOK {
		t.Fatalf("sign-up = %d", res.StatusCode)
	}
	m := mail.Wait(t, "visitor@example.com", 1, 20*time.Second)[0]
	if m.From != "updates@example.com" || !strings.Contains(m.Text, "https://status.example.com/subscriptions/confirm?token=") {
		t.Errorf("confirmation from %s:\n%s", m.From, m.Text)
	}
	if err := stop(); err != nil {
		t.Fatalf("Run: %v", err)
	}
	goleak.VerifyNone(t, ignore)
}
