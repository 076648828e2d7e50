package requires

import (
	"os"
	"path/filepath"
	"regexp"
	"testing"
)

// TestNewestPostgresBin: the highest major wins, compared as numbers (10
// after 9.6), and a directory without pg_ctl or not named by a version is
// passed over.
func TestNewestPostgresBin(t *testing.T) {
	root := t.TempDir()
	install := func(major string, programs ...string) {
		dir := filepath.Join(root, major, "bin")
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		for _, p := range programs {
			if err := os.WriteFile(filepath.Join(dir, p), nil, 0o755); err != nil {
				t.Fatal(err)
			}
		}
	}
	if _, err := newestPostgresBin(root); err == nil {
		t.Error("an empty root gave a directory")
	}
	install("9.6", "initdb", "pg_ctl")
	install("10", "initdb", "pg_ctl")
	install("17", "initdb") // a half-installed major: no pg_ctl
	install("current", "initdb", "pg_ctl")
	got, err := newestPostgresBin(root)
	if want := filepath.Join(root, "10", "bin"); err != nil || got != want {
		t.Errorf("newestPostgresBin = %q, %v; want %q", got, err, want)
	}
}

// TestScriptRequiresEverything: scripts/test exports every VIGIL_REQUIRE_*
// variable the tests know, and none they do not, so a need it prepares is
// never merely skipped.
func TestScriptRequiresEverything(t *testing.T) {
	script, err := os.ReadFile(filepath.Join("..", "..", "..", "scripts", "test"))
	if err != nil {
		t.Fatal(err)
	}
	exported := map[string]bool{}
	for _, m := range regexp.MustCompile(`\b(VIGIL_REQUIRE_[A-Z_]+)=1`).FindAllStringSubmatch(string(script), -1) {
		exported[m[1]] = true
	}
	known := map[string]bool{}
	for _, n := range All {
		known[n.Env] = true
		if !exported[n.Env] {
			t.Errorf("scripts/test does not set %s=1 (%s)", n.Env, n.What)
		}
	}
	for env := range exported {
		if !known[env] {
			t.Errorf("scripts/test sets %s, which no test reads (add it to requires.All)", env)
		}
	}
}
