package daemon

import (
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/vigil-go/vigil/internal/config"
	"github.com/vigil-go/vigil/internal/config/configtest"
)

// runDaemon runs vigil on the config text src, written to dir, with its
// output to out, until the test ends or stop is called; it returns once
// the page is served. stop returns what Run returned.
func runDaemon(t *testing.T, dir, src string, out io.Writer) (addr net.Addr, stop func() error) {
	t.Helper()
	path := filepath.Join(dir, "config.cfg")
	if err := os.WriteFile(path, []byte(src), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, _, err := config.Load(path, os.LookupEnv)
	if err != nil {
		t.Fatal(err)
	}
	ready := make(chan net.Addr, 1)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- Run(ctx, Options{Config: cfg, Version: "test", Stdout: out, Ready: func(a net.Addr) { ready <- a }})
	}()
	var result error
	stopped := false
	stop = func() error {
		if !stopped {
			stopped = true
			cancel()
			result = <-done
		}
		return result
	}
	t.Cleanup(func() {
		if err := stop(); err != nil {
			t.Errorf("Run: %v", err)
		}
	})
	select {
	case addr = <-ready:
	case err := <-done:
		stopped, result = true, err
		t.Fatalf("Run ended before serving: %v", err)
	}
	return addr, stop
}

// pushNodeConfig is a config with one push node, its SQLite store in dir,
// and the [server] keys given (one a line) besides the required ones.
func pushNodeConfig(dir, server string) string {
	return fmt.Sprintf(`[server]
log_level = "off"
manager_token = "m"
reporter_token = "r"
inet = "127.0.0.1:0"
%s
`+configtest.Branding+`
[storage]
path = %q

[[probe.service]]
id = "web"
label = "Web"

[[probe.service.node]]
id = "push"
label = "Push"
mode = "push"
`, server, filepath.Join(dir, "vigil.db"))
}

// webhookConfig is a config with a node "web:up" polling replicas every
// second, a webhook at hook with the startup notification on, its SQLite
// store in dir, and the [server] keys given (one a line, inet among them)
// besides the log level and the tokens. Text in more is appended (more
// nodes of the service).
func webhookConfig(dir, server, hook string, replicas []string, more string) string {
	quoted := make([]string, len(replicas))
	for i, r := range replicas {
		quoted[i] = strconv.Quote(r)
	}
	return fmt.Sprintf(`[server]
log_level = "off"
manager_token = "m"
reporter_token = "r"
%s

`+configtest.Branding+`
[metrics]
poll_interval = 1
poll_retry = 0

[storage]
path = %q

[notify]
startup_notification = true

[notify.webhook]
hook_url = "%s/hook"

[[probe.service]]
id = "web"
label = "Web"

[[probe.service.node]]
id = "up"
label = "Up"
mode = "poll"
replicas = [%s]
%s`, server, filepath.Join(dir, "vigil.db"), hook, strings.Join(quoted, ", "), more)
}
