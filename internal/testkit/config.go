package testkit

import (
	"testing"

	"github.com/vigil-go/vigil/internal/config"
)

// Config parses config text as the file "test.cfg", with no environment,
// and fails the test on any error.
func Config(tb testing.TB, text string) *config.Config {
	tb.Helper()
	cfg, _, err := config.Parse("test.cfg", []byte(text), nil)
	if err != nil {
		tb.Fatalf("config: %v", err)
	}
	return cfg
}
