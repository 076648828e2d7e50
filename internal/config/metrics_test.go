package config

import (
	"fmt"
	"strings"
	"testing"
)

// TestMetricsOffByDefault: /metrics names every service and node, so it is
// served only when asked for.
func TestMetricsOffByDefault(t *testing.T) {
	cfg := mustParse(t, readTestdata(t, "minimal.cfg"), noEnv)
	if cfg.Server.MetricsEnabled || cfg.Server.MetricsToken != "" {
		t.Errorf("metrics_enabled = %v, metrics_token = %q; want false and empty by default",
			cfg.Server.MetricsEnabled, cfg.Server.MetricsToken)
	}
}

// TestMetricsTokenWithoutMetrics warns that a token alone serves nothing.
func TestMetricsTokenWithoutMetrics(t *testing.T) {
	base := readTestdata(t, "minimal.cfg")
	text := strings.Replace(base, `reporter_token = "reporter"`, "reporter_token = \"reporter\"\nmetrics_token = \"scrape\"", 1)
	if text == base {
		t.Fatal("minimal.cfg has no reporter_token line to extend")
	}
	_, warns, err := Parse("test.cfg", []byte(text), noEnv)
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	line := 1 + strings.Count(text[:strings.Index(text, "metrics_token")], "\n")
	checkWarnings(t, warns, []string{
		fmt.Sprintf("test.cfg:%d:17: server.metrics_token: ignored: /metrics is served only with metrics_enabled = true", line),
	})

	enabled := strings.Replace(text, `metrics_token = "scrape"`, "metrics_token = \"scrape\"\nmetrics_enabled = true", 1)
	cfg, warns, err := Parse("test.cfg", []byte(enabled), noEnv)
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	checkWarnings(t, warns, nil)
	if !cfg.Server.MetricsEnabled || cfg.Server.MetricsToken != "scrape" {
		t.Errorf("metrics_enabled = %v, metrics_token = %q; want true and \"scrape\"", cfg.Server.MetricsEnabled, cfg.Server.MetricsToken)
	}
}
