package subscribe

import (
	"strings"
	"testing"
	"time"

	"github.com/vigil-go/vigil/internal/config/configtest"
	"github.com/vigil-go/vigil/internal/store"
	"github.com/vigil-go/vigil/internal/testkit"
)

// A reload that renames the page and a node, or moves the time zone,
// reaches the mails sent after it.
func TestApplyReachesTheMails(t *testing.T) {
	cfgText := func(title, tz, label string) string {
		return "[server]\nmanager_token = \"m\"\nreporter_token = \"r\"\n" + configtest.Branding +
			"page_title = \"" + title + "\"\ntime_zone = \"" + tz + "\"\n" + `
[subscriptions]
enabled = true
from = "updates@example.com"

[notify.email]
to = "ops@example.com"
from = "vigil@example.com"

[[probe.service]]
id = "web"
label = "Website"

[[probe.service.node]]
id = "api"
label = "` + label + `"
mode = "poll"
replicas = ["http://127.0.0.1:9/"]
`
	}
	s := New(Options{Config: testkit.Config(t, cfgText("Acme Status", "UTC", "Public API"))})
	in := store.Incident{ID: 7, Title: "Slow API", Nodes: []string{"web:api"}, Opened: time.Date(2031, 3, 4, 9, 0, 0, 0, time.UTC)}
	bulletin := func() mail { return s.renderBulletin(s.incidentEvents(in)[0], "https://status.example.com/u") }

	before := bulletin()
	if !strings.Contains(before.Subject, "[Acme Status]") || !strings.Contains(before.Text, "Affected: Website: Public API") ||
		!strings.Contains(before.Text, "09:00 UTC+00:00") {
		t.Fatalf("before the reload:\n%s\n%s", before.Subject, before.Text)
	}
	s.Apply(testkit.Config(t, cfgText("Acme Cloud Status", "Europe/Paris", "Public API v2")))
	after := bulletin()
	if !strings.Contains(after.Subject, "[Acme Cloud Status]") || !strings.Contains(after.Text, "Affected: Website: Public API v2") ||
		!strings.Contains(after.Text, "10:00 UTC+01:00") {
		t.Errorf("after the reload:\n%s\n%s", after.Subject, after.Text)
	}
}
