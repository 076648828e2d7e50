package config

import (
	"strconv"
	"strings"
	"testing"

	"github.com/vigil-go/vigil/internal/config/configtest"
)

const subscriptionsBase = `[server]
manager_token = "manager"
reporter_token = "reporter"

` + configtest.Branding + `
[[probe.service]]
id = "web"
label = "Web"

[[probe.service.node]]
id = "api"
label = "API"
mode = "poll"
replicas = ["https://example.com/"]
`

func TestSubscriptionsDefaults(t *testing.T) {
	cfg, _, err := Parse("test.cfg", []byte(subscriptionsBase), nil)
	if err != nil {
		t.Fatal(err)
	}
	s := cfg.Subscriptions
	if s.Enabled || s.MaxPending != 1000 || s.ClientRate != 10 || s.AddressRate != 3 {
		t.Errorf("defaults = %+v, want off, 1000, 10, 3", s)
	}
}

func TestSubscriptionsMailServer(t *testing.T) {
	notifyEmail := `
[notify.email]
to = "team@example.com"
from = "alerts@example.com"
smtp_host = "alerts-mail.example.com"
smtp_port = 2525
`
	tests := []struct {
		name, extra string
		wantHost    string
		wantPort    int
	}{
		{"from [notify.email]", "[subscriptions]\nenabled = true\nfrom = \"updates@example.com\"\n" + notifyEmail, "alerts-mail.example.com", 2525},
		{"[subscriptions.smtp] wins", "[subscriptions]\nenabled = true\nfrom = \"updates@example.com\"\n[subscriptions.smtp]\nsmtp_host = \"bulk.example.com\"\n" + notifyEmail, "bulk.example.com", 587},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg, _, err := Parse("test.cfg", []byte(subscriptionsBase+tt.extra), nil)
			if err != nil {
				t.Fatal(err)
			}
			srv, ok := cfg.MailServer()
			if !ok || srv.Host != tt.wantHost || srv.Port != tt.wantPort || !srv.Encrypt {
				t.Errorf("MailServer() = %+v, %v; want %s:%d with STARTTLS", srv, ok, tt.wantHost, tt.wantPort)
			}
		})
	}
}

// TestSubscriptionsInvalid checks that each mistake is reported at its
// file, line and key.
func TestSubscriptionsInvalid(t *testing.T) {
	base := strings.Count(subscriptionsBase, "\n")
	tests := []struct {
		name, extra string
		want        []string
	}{
		{"no mail server", "[subscriptions]\nenabled = true\nfrom = \"updates@example.com\"\n",
			[]string{"test.cfg:" + strconv.Itoa(base+2) + ":11: subscriptions.enabled: subscriptions need a mail server: add [subscriptions.smtp] (smtp_host, smtp_port, …) or [notify.email]"}},
		{"missing from", "[subscriptions]\nenabled = true\n[subscriptions.smtp]\n",
			[]string{"test.cfg:" + strconv.Itoa(base+1) + ":1: subscriptions.from: missing required key"}},
		{"bad from and limits", "[subscriptions]\nenabled = true\nfrom = \"not an address\"\nmax_pending = 0\nclient_rate = -1\n[subscriptions.smtp]\nsmtp_port = 70000\n",
			[]string{
				"test.cfg:" + strconv.Itoa(base+3) + ":8: subscriptions.from: invalid address \"not an address\": mail: no angle-addr",
				"test.cfg:" + strconv.Itoa(base+4) + ":15: subscriptions.max_pending: must be at least 1, got 0",
				"test.cfg:" + strconv.Itoa(base+5) + ":15: subscriptions.client_rate: must be at least 1, got -1",
				"test.cfg:" + strconv.Itoa(base+7) + ":13: subscriptions.smtp.smtp_port: port 70000 out of range 1-65535",
			}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, _, err := Parse("test.cfg", []byte(subscriptionsBase+tt.extra), nil)
			if err == nil {
				t.Fatal("Parse accepted it")
			}
			if got, want := err.Error(), strings.Join(tt.want, "\n"); got != want {
				t.Errorf("error:\n%s\nwant:\n%s", got, want)
			}
		})
	}
}
