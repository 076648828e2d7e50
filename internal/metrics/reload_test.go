package metrics

import (
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/vigil-go/vigil/internal/testkit"
)

func TestConfigLoaded(t *testing.T) {
	m := New(nil, testkit.SourceOf(nil))
	names := []string{"vigil_config_last_reload_successful", "vigil_config_last_reload_success_timestamp_seconds"}
	compare := func(when string, ok float64, at string) {
		t.Helper()
		want := `
# HELP vigil_config_last_reload_success_timestamp_seconds When the config was last loaded and applied, in seconds since the Unix epoch.
# TYPE vigil_config_last_reload_success_timestamp_seconds gauge
vigil_config_last_reload_success_timestamp_seconds ` + at + `
# HELP vigil_config_last_reload_successful Whether the last config load (the start, SIGHUP or a change of the file with watch_config) was applied: 1, or 0 when it was refused.
# TYPE vigil_config_last_reload_successful gauge
vigil_config_last_reload_successful ` + map[float64]string{0: "0", 1: "1"}[ok] + "\n"
		if err := testutil.GatherAndCompare(m.Registry(), strings.NewReader(want), names...); err != nil {
			t.Errorf("%s: %v", when, err)
		}
	}
	start := time.Unix(1_700_000_000, 500_000_000)
	m.ConfigLoaded(true, start)
	compare("at start", 1, "1.7000000005e+09")
	m.ConfigLoaded(false, start.Add(time.Minute))
	compare("after a refused reload", 0, "1.7000000005e+09") // the last success stays
	m.ConfigLoaded(true, start.Add(2*time.Minute))
	compare("after an applied reload", 1, "1.7000001205e+09")
}
