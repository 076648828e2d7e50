package notify

import (
	"bytes"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/vigil-go/vigil/internal/testkit/requires"
)

// prosody is a real XMPP server (the Debian "prosody" package) run by a test
// in the foreground, on a free loopback port, with its own configuration,
// data and certificate in a temporary directory.
type prosody struct {
	addr   string // 127.0.0.1:port of client connections
	domain string // the virtual host, "localhost"
	cert   testCert
}

// startProsody starts Prosody and registers the given users (name →
// password) on it. Without Prosody installed (scripts/test installs it),
// the test is skipped, or fails where scripts/test says it must be there.
func startProsody(t *testing.T, users map[string]string) *prosody {
	t.Helper()
	unavailable := func(format string, args ...any) {
		t.Helper()
		requires.Prosody.Missing(t, format, args...)
	}
	for _, program := range []string{"prosody", "prosodyctl"} {
		if _, err := exec.LookPath(program); err != nil {
			unavailable("%v", err)
		}
	}

	dir := t.TempDir()
	p := &prosody{domain: "localhost", cert: newTestCert(t)}
	certFile, keyFile := filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	if err := os.WriteFile(certFile, p.cert.certPEM, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, p.cert.keyPEM, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(filepath.Join(dir, "data"), 0o750); err != nil {
		t.Fatal(err)
	}
	port := freePort(t)
	p.addr = fmt.Sprintf("127.0.0.1:%d", port)
	cfgFile := filepath.Join(dir, "prosody.cfg.lua")
	cfg := fmt.Sprintf(`-- Written by a Vigil test.
run_as_root = %t
pidfile = %q
data_path = %q
certificates = %q
log = { { levels = { min = "info" }, to = "console" } }
interfaces = { "127.0.0.1" }
c2s_interfaces = { "127.0.0.1" }
c2s_ports = { %d }
c2s_direct_tls_ports = { }
legacy_ssl_ports = { }
modules_enabled = { "roster"; "saslauth"; "tls"; "disco"; "ping"; "offline" }
modules_disabled = { "s2s" }
c2s_require_encryption = true
authentication = "internal_hashed"
allow_registration = false
storage = "internal"
ssl = { key = %q; certificate = %q }
VirtualHost %q
`, os.Geteuid() == 0, filepath.Join(dir, "prosody.pid"), filepath.Join(dir, "data"), dir,
		port, keyFile, certFile, p.domain)
	if err := os.WriteFile(cfgFile, []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}

	for user, password := range users {
		out, err := exec.Command("prosodyctl", "--config", cfgFile, "register", user, p.domain, password).CombinedOutput()
		if err != nil {
			unavailable("prosodyctl register %s: %v\n%s", user, err, out)
		}
	}

	// Foreground (-F), so that the test owns the process and its end.
	var log bytes.Buffer
	cmd := exec.Command("prosody", "--config", cfgFile, "-F")
	cmd.Stdout, cmd.Stderr = &log, &log
	if err := cmd.Start(); err != nil {
		unavailable("start prosody: %v", err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-exited:
		case <-time.After(15 * time.Second):
			_ = cmd.Process.Kill()
			<-exited
		}
		if t.Failed() {
			t.Logf("prosody log:\n%s", log.String())
		}
	})

	deadline := time.Now().Add(30 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", p.addr, time.Second)
		if err == nil {
			c.Close()
			return p
		}
		select {
		case err := <-exited:
			unavailable("prosody exited at start (%v):\n%s", err, log.String())
		case <-time.After(100 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			unavailable("prosody does not listen on %s after 30 s:\n%s", p.addr, log.String())
		}
	}
}

// freePort returns a loopback TCP port that was free a moment ago.
func freePort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}
