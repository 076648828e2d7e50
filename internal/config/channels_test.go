package config

import (
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/vigil-go/vigil/internal/notify"
)

// TestEveryChannelConfiguredValidatedAndBuilt keeps the channel registry
// the one list: full.cfg must configure every registered channel, each must
// validate without a warning and build, and metrics and notify-test see
// exactly the built channels.
func TestEveryChannelConfiguredValidatedAndBuilt(t *testing.T) {
	cfg, warns, err := Load(filepath.Join("testdata", "full.cfg"), noEnv)
	if err != nil {
		t.Fatalf("Load(full.cfg): %v", err)
	}
	if len(warns) > 0 {
		t.Errorf("Load(full.cfg) warnings: %v", warns)
	}
	if got, want := cfg.Notify.Configured(), notify.Names(); !slices.Equal(got, want) {
		t.Errorf("full.cfg configures %v, want every registered channel %v", got, want)
	}
	channels, err := notify.Build(cfg.Notify.Channels, notify.Options{})
	if err != nil {
		t.Fatalf("Build(full.cfg): %v", err)
	}
	var built []string
	for _, ch := range channels {
		built = append(built, ch.Name)
		if len(ch.Targets) == 0 {
			t.Errorf("channel %s built with no target", ch.Name)
		}
	}
	if !slices.Equal(built, notify.Names()) {
		t.Errorf("Build(full.cfg) = %v, want %v", built, notify.Names())
	}
}

// TestEveryChannelTableIsDecoded checks that each registered channel's
// table is known to the decoder (no "unknown table" warning), becomes a
// section of its own type, and is validated by the channel: an empty table
// lacks a required key.
func TestEveryChannelTableIsDecoded(t *testing.T) {
	for _, d := range notify.Registry() {
		t.Run(d.Name, func(t *testing.T) {
			text := readTestdata(t, "minimal.cfg") + "\n[notify]\n[notify." + d.Name + "]\n"
			cfg, warns, err := Parse("test.cfg", []byte(text), noEnv)
			for _, w := range warns {
				if strings.Contains(w.String(), "unknown") {
					t.Errorf("warning %q: the table is not decoded", w)
				}
			}
			if err == nil {
				t.Fatalf("Parse with an empty [notify.%s] = %+v, want a missing required key", d.Name, cfg.Notify.Configured())
			}
			if !strings.Contains(err.Error(), "notify."+d.Name+".") || !strings.Contains(err.Error(), "missing required key") {
				t.Errorf("Parse error = %v, want a missing key of notify.%s", err, d.Name)
			}
		})
	}
	// A section decodes into the registered type.
	cfg := mustParse(t, readTestdata(t, "minimal.cfg")+"\n[notify]\n[notify.webhook]\nhook_url = \"https://example.com/h\"\n", noEnv)
	if len(cfg.Notify.Channels) != 1 {
		t.Fatalf("Channels = %v, want the webhook", cfg.Notify.Channels)
	}
	if w, ok := cfg.Notify.Channels[0].(*notify.Webhook); !ok || w.HookURL != "https://example.com/h" {
		t.Errorf("Channels[0] = %#v, want *notify.Webhook with the hook_url", cfg.Notify.Channels[0])
	}
}

// TestUnknownChannelKeyHint checks that channel keys are in the schema the
// unknown-key hints read.
func TestUnknownChannelKeyHint(t *testing.T) {
	text := readTestdata(t, "minimal.cfg") + "\n[notify]\n[notify.webhook]\nhook_url = \"https://example.com/h\"\nhook_ur = \"x\"\n"
	_, warns, err := Parse("test.cfg", []byte(text), noEnv)
	if err != nil {
		t.Fatal(err)
	}
	if len(warns) != 1 || !strings.Contains(warns[0].String(), "notify.webhook.hook_ur: unknown key, ignored (did you mean hook_url?)") {
		t.Errorf("warnings = %v, want one suggesting hook_url", warns)
	}
}

// TestOnCallChannelChecks checks the validation of the new channels' keys,
// each reported at its key.
func TestOnCallChannelChecks(t *testing.T) {
	for _, tc := range []struct{ section, want string }{
		{"[notify.teams]\nhook_url = \"https://contoso.webhook.office.com/webhookb2/x\"", "notify.teams.hook_url: Office 365 connector URLs are retired"},
		{"[notify.ntfy]\ntopic_url = \"https://ntfy.sh/x\"\ntoken = \"tk_1\"\nusername = \"u\"\npassword = \"p\"", "notify.ntfy.token: set either token or username and password, not both"},
		{"[notify.ntfy]\ntopic_url = \"https://ntfy.sh/x\"\npriority = \"loud\"", `notify.ntfy.priority: unknown priority "loud"`},
		{"[notify.opsgenie]\napi_key = \"k\"\npriority = \"P6\"", `notify.opsgenie.priority: unknown priority "P6" (want P1, P2, P3, P4 or P5)`},
		{"[notify.pagerduty]\napi_url = \"https://events.pagerduty.com/v2/enqueue\"", "notify.pagerduty.routing_key: missing required key"},
	} {
		_, _, err := Parse("test.cfg", []byte(readTestdata(t, "minimal.cfg")+"\n[notify]\n"+tc.section+"\n"), noEnv)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: error = %v, want %q", tc.section, err, tc.want)
		}
	}
	cfg := mustParse(t, readTestdata(t, "minimal.cfg")+"\n[notify]\n[notify.opsgenie]\napi_key = \"k\"\n[notify.ntfy]\ntopic_url = \"https://ntfy.sh/x\"\n", noEnv)
	og, nt := cfg.Notify.Channels[0].(*notify.Opsgenie), cfg.Notify.Channels[1].(*notify.Ntfy)
	if og.APIURL != "https://api.opsgenie.com" || og.Priority != "P3" || nt.Priority != "urgent" {
		t.Errorf("defaults = %q %q %q, want the US API, P3 and urgent", og.APIURL, og.Priority, nt.Priority)
	}
}
