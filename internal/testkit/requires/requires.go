// Package requires names what Vigil's tests need of the machine beyond Go
// (a browser, PostgreSQL, RabbitMQ, …) and decides what a test does when
// it is missing.
//
// `go test ./...` alone runs what it can: a test whose need is missing is
// skipped, with a message naming what is missing. scripts/test installs and
// starts everything, then sets each need's VIGIL_REQUIRE_* variable, so
// that there a missing piece fails the test instead of hiding it. Tests
// never install or start system services themselves.
//
// It imports nothing of Vigil, so every package's tests can use it.
package requires

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"testing"
)

// Need is something the tests need of the machine.
type Need struct {
	// Env is the variable that, set to 1, makes its absence a failure.
	Env string
	// What names it for a person reading a skip or a failure.
	What string
}

// The machine's pieces the tests use. scripts/test exports every Env here
// (TestScriptRequiresEverything checks it).
var (
	Browser     = Need{"VIGIL_REQUIRE_BROWSER", "Chromium (/usr/bin/chromium)"}
	Node        = Need{"VIGIL_REQUIRE_NODE", "Node.js and npm"}
	Postgres    = Need{"VIGIL_REQUIRE_POSTGRES", "PostgreSQL with trust auth and a database test (VIGIL_TEST_POSTGRES, default 127.0.0.1:5432)"}
	PostgresBin = Need{"VIGIL_REQUIRE_POSTGRES_BIN", "PostgreSQL's server programs (initdb, pg_ctl) under /usr/lib/postgresql/<major>/bin"}
	RabbitMQ    = Need{"VIGIL_REQUIRE_RABBITMQ", "RabbitMQ with its management API on 127.0.0.1:15672 (guest/guest)"}
	Prosody     = Need{"VIGIL_REQUIRE_PROSODY", "Prosody (prosody and prosodyctl in PATH)"}
	Systemd     = Need{"VIGIL_REQUIRE_SYSTEMD", "systemd-analyze"}
)

// All is every Need, for the check that scripts/test sets each one.
var All = []Need{Browser, Node, Postgres, PostgresBin, RabbitMQ, Prosody, Systemd}

// Required reports whether the environment says n must be present.
func (n Need) Required() bool { return os.Getenv(n.Env) == "1" }

// Missing ends the test because n is missing, for the reason given: a
// failure when n is required, a skip otherwise.
func (n Need) Missing(t testing.TB, format string, args ...any) {
	t.Helper()
	why := fmt.Sprintf(format, args...)
	if n.Required() {
		t.Fatalf("%s is missing (%s=1 requires it): %s", n.What, n.Env, why)
	}
	t.Skipf("skipped: %s is missing (%s); set %s=1 to make this a failure", n.What, why, n.Env)
}

// PostgresBinDir returns the bin directory of the newest PostgreSQL
// server installed (Debian's /usr/lib/postgresql/<major>/bin), whatever
// its major version; the test ends through PostgresBin.Missing when there
// is none.
func PostgresBinDir(t testing.TB) string {
	t.Helper()
	dir, err := newestPostgresBin("/usr/lib/postgresql")
	if err != nil {
		PostgresBin.Missing(t, "%v", err)
	}
	return dir
}

// newestPostgresBin returns root/<major>/bin with the highest numeric major
// that holds initdb and pg_ctl.
func newestPostgresBin(root string) (string, error) {
	matches, _ := filepath.Glob(filepath.Join(root, "*", "bin", "initdb"))
	type found struct {
		major float64
		dir   string
	}
	var all []found
	for _, initdb := range matches {
		dir := filepath.Dir(initdb)
		major, err := strconv.ParseFloat(filepath.Base(filepath.Dir(dir)), 64)
		if err != nil {
			continue // not a version directory
		}
		if _, err := os.Stat(filepath.Join(dir, "pg_ctl")); err != nil {
			continue
		}
		all = append(all, found{major, dir})
	}
	if len(all) == 0 {
		return "", fmt.Errorf("no %s/<major>/bin/initdb with pg_ctl (Debian package postgresql)", root)
	}
	sort.Slice(all, func(i, j int) bool { return all[i].major > all[j].major })
	return all[0].dir, nil
}
