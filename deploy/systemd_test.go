// Package deploy holds what runs Vigil outside a developer's shell (the
// systemd unit, the container image) and the tests that check them.
package deploy

import (
	"bufio"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/vigil-go/vigil/internal/testkit/requires"
)

const unitFile = "systemd/vigil.service"

// unitDirectives reads a unit file into directive → values, in order.
func unitDirectives(t *testing.T, path string) map[string][]string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	d := map[string][]string{}
	lines := bufio.NewScanner(f)
	for lines.Scan() {
		line := strings.TrimSpace(lines.Text())
		if line == "" || strings.HasPrefix(line, "#") || strings.HasPrefix(line, "[") {
			continue
		}
		k, v, ok := strings.Cut(line, "=")
		if !ok {
			t.Fatalf("%s: not a directive: %q", path, line)
		}
		d[k] = append(d[k], v)
	}
	if err := lines.Err(); err != nil {
		t.Fatal(err)
	}
	return d
}

// TestUnitHardening: the unit keeps the hardening operators expect; a
// removed line or a loosened value fails here.
func TestUnitHardening(t *testing.T) {
	d := unitDirectives(t, unitFile)
	for k, want := range map[string]string{
		"DynamicUser":             "yes",
		"StateDirectory":          "vigil",
		"WorkingDirectory":        "/var/lib/vigil", // the default ./vigil.db lands in the state directory
		"ProtectSystem":           "strict",
		"ProtectHome":             "yes",
		"PrivateTmp":              "yes",
		"PrivateDevices":          "yes",
		"NoNewPrivileges":         "yes",
		"AmbientCapabilities":     "CAP_NET_RAW", // ICMP replicas, and nothing more
		"CapabilityBoundingSet":   "CAP_NET_RAW",
		"ExecReload":              "/bin/kill -HUP $MAINPID",
		"ExecStart":               "/usr/local/bin/vigil -c /etc/vigil/config.cfg",
		"Restart":                 "on-failure",
		"RestrictSUIDSGID":        "yes",
		"MemoryDenyWriteExecute":  "yes",
		"SystemCallArchitectures": "native",
	} {
		if got := d[k]; len(got) != 1 || got[0] != want {
			t.Errorf("%s = %q, want exactly %q", k, got, want)
		}
	}
	if got := strings.Join(d["SystemCallFilter"], " "); !strings.Contains(got, "@system-service") {
		t.Errorf("SystemCallFilter = %q, want @system-service", got)
	}
	if got := d["RestrictAddressFamilies"]; len(got) != 1 || strings.Contains(got[0], "AF_PACKET") {
		t.Errorf("RestrictAddressFamilies = %q, want one line without AF_PACKET", got)
	}
}

// TestUnitVerifies runs systemd-analyze verify on the unit, its programs
// pointed at stand-ins in a temporary directory (verify checks that
// ExecStart names an executable), and fails on any complaint, an unknown
// directive's included (verify only warns about those). Where systemd can
// judge the unit's exposure offline, it must be rated OK or better.
func TestUnitVerifies(t *testing.T) {
	analyze, err := exec.LookPath("systemd-analyze")
	if err != nil {
		requires.Systemd.Missing(t, "%v", err)
	}
	dir := t.TempDir()
	stub := filepath.Join(dir, "vigil")
	if err := os.WriteFile(stub, []byte("#!/bin/sh\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	src, err := os.ReadFile(unitFile)
	if err != nil {
		t.Fatal(err)
	}
	unit := filepath.Join(dir, "vigil.service")
	text := strings.ReplaceAll(string(src), "/usr/local/bin/vigil", stub)
	if err := os.WriteFile(unit, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	verify := func(path string) string {
		out, err := exec.Command(analyze, "verify", path).CombinedOutput()
		s := strings.TrimSpace(string(out))
		if err != nil && s == "" {
			s = err.Error()
		}
		return s
	}
	if out := verify(unit); out != "" {
		t.Errorf("systemd-analyze verify %s:\n%s", unitFile, out)
	}

	// The check itself can fail: a misspelt directive is reported.
	broken := filepath.Join(dir, "broken", "vigil.service")
	os.Mkdir(filepath.Dir(broken), 0o755)
	if err := os.WriteFile(broken, []byte(strings.Replace(text, "ProtectHome=", "ProtectHom=", 1)), 0o644); err != nil {
		t.Fatal(err)
	}
	if out := verify(broken); !strings.Contains(out, "ProtectHom") {
		t.Errorf("systemd-analyze verify said nothing of a misspelt directive: %q", out)
	}

	out, err := exec.Command(analyze, "security", "--offline=yes", unit).CombinedOutput()
	if err != nil {
		t.Logf("systemd-analyze security --offline=yes unavailable (%v); exposure not rated", err)
		return
	}
	m := regexp.MustCompile(`Overall exposure level for \S+: ([0-9.]+)`).FindSubmatch(out)
	if m == nil {
		t.Fatalf("no exposure level in systemd-analyze security's output:\n%s", out)
	}
	if level, _ := strconv.ParseFloat(string(m[1]), 64); level > 2.0 {
		t.Errorf("exposure level %.1f, want at most 2.0 (OK):\n%s", level, out)
	}
}
