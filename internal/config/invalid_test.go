package config

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// lines joins the expected problems of one file, one per line, as
// Errors.Error prints them.
func lines(ls ...string) string { return strings.Join(ls, "\n") }

// TestInvalidConfigs pairs each file of testdata/invalid with the exact
// text of the error it must produce.
func TestInvalidConfigs(t *testing.T) {
	tests := []struct {
		file string
		want string
	}{
		{"bad-backoff.cfg", `bad-backoff.cfg:28:29: notify.reminder_backoff_function: unknown backoff function "exponential" (want none, linear, square or cubic)`},
		{"bad-header-name.cfg", "bad-header-name.cfg:26:18: probe.service[0].node[0].http_headers.\"X Custom\": invalid header name \"X Custom\" (want letters, digits and !#$%&'*+-.^_`|~ only)"},
		{"bad-header-value.cfg", lines(
			`bad-header-value.cfg:28:11: probe.service[0].node[0].http_headers.X-Count: wrong type: got an integer, want a string or an array of strings`,
			`bad-header-value.cfg:29:16: probe.service[0].node[0].http_headers.X-List[1]: wrong type: got an integer, want a string`,
		)},
		{"bad-http-method.cfg", `bad-http-method.cfg:26:15: probe.service[0].node[0].http_method: unsupported http_method "get" (want HEAD, GET, POST, PUT or PATCH, in upper case); write "GET"`},
		{"bad-inet.cfg", `bad-inet.cfg:2:8: server.inet: invalid address "localhost:8080": want a literal IP and port such as [::1]:8080 or 0.0.0.0:8080 (host names are not accepted)`},
		{"bad-log-level.cfg", `bad-log-level.cfg:2:13: server.log_level: unknown log level "verbose" (want off, error, warn, info, debug or trace)`},
		{"bad-mode.cfg", `bad-mode.cfg:24:8: probe.service[0].node[0].mode: unknown mode "pull" (want poll, push, script or local)`},
		{"bad-regex.cfg", "bad-regex.cfg:26:27: probe.service[0].node[0].http_body_healthy_match: invalid regular expression: missing closing ): `(ok`"},
		{"bad-tcp-expect.cfg", "bad-tcp-expect.cfg:27:14: probe.service[0].node[0].tcp_expect: invalid regular expression: missing closing ]: `[+PONG`"},
		{"bad-storage.cfg", lines(
			`bad-storage.cfg:28:10: storage.driver: unknown driver "mysql" (want sqlite or postgres)`,
			`bad-storage.cfg:29:20: storage.retention_outbox: must be at least 1 (seconds), got 0`,
		)},
		{"cluster-without-postgres.cfg", `cluster-without-postgres.cfg:28:11: cluster.enabled: cluster mode needs the PostgreSQL backend: set [storage] driver = "postgres" and url, the database every member shares`},
		{"bad-scheme.cfg", `bad-scheme.cfg:28:3: probe.service[0].node[0].replicas[2]: unsupported scheme "udp" (want http, https, tcp, ssh, icmp, tls or dns)`},
		{"duplicate-key.cfg", `duplicate-key.cfg:8:1: branding.company_name: key company_name is already defined`},
		{"duplicate-node-id.cfg", `duplicate-node-id.cfg:28:6: probe.service[0].node[1].id: duplicate node id "api" in service "web" (first used on line 22)`},
		{"duplicate-service-id.cfg", `duplicate-service-id.cfg:28:6: probe.service[1].id: duplicate service id "web" (first used on line 18)`},
		{"edge-bounds.cfg", lines(
			`edge-bounds.cfg:2:33: server.reporter_replica_id_max_bytes: must be between 1 and 2048, got 4096 (PostgreSQL cannot index longer ids)`,
			`edge-bounds.cfg:3:34: server.reporter_replicas_per_node_max: must be at least 1, got 0`,
			`edge-bounds.cfg:4:19: server.max_connections: must not be negative, got -1`,
			`edge-bounds.cfg:5:20: server.mcp_sessions_max: must be at least 1, got 0`,
			`edge-bounds.cfg:6:24: server.request_body_timeout: must be at least 1 (seconds), got 0`,
		)},
		{"empty-token.cfg", `empty-token.cfg:2:17: server.manager_token: must not be empty`},
		{"icmp-trailing-slash.cfg", `icmp-trailing-slash.cfg:25:13: probe.service[0].node[0].replicas[0]: invalid replica url "icmp://gateway.example.com/": icmp takes no path, not even a trailing slash (want icmp://host)`},
		{"icmp-with-port.cfg", `icmp-with-port.cfg:25:13: probe.service[0].node[0].replicas[0]: invalid replica url "icmp://gateway.example.com:7": icmp takes no port (want icmp://host)`},
		{"missing-branding-key.cfg", `missing-branding-key.cfg:5:1: branding.logo_url: missing required key`},
		{"missing-scheme.cfg", `missing-scheme.cfg:25:13: probe.service[0].node[0].replicas[0]: invalid replica url "example.com:80": missing scheme (want http, https, tcp, ssh, icmp, tls or dns)`},
		{"missing-ids.cfg", lines(
			`missing-ids.cfg:17:1: probe.service[0].id: missing required key`,
			`missing-ids.cfg:20:1: probe.service[0].node[0].label: missing required key`,
			`missing-ids.cfg:20:1: probe.service[0].node[0].mode: missing required key`,
		)},
		{"missing-section.cfg", `missing-section.cfg: branding: missing required section [branding]`},
		{"missing-token.cfg", `missing-token.cfg:1:1: server.reporter_token: missing required key`},
		{"node-checks.cfg", lines(
			`node-checks.cfg:27:19: probe.service[0].node[0].poll_delay_dead: the timeout (poll_delay_dead, 10s) is longer than the interval (poll_interval, 5s) of this node: a check would still run when the next is due`,
			`node-checks.cfg:28:21: probe.service[0].node[0].failure_threshold: must be at least 1 (consecutive checks), got 0`,
			`node-checks.cfg:29:14: probe.service[0].node[0].icmp_count: must be between 1 and 100 (echoes per check), got 101`,
			`node-checks.cfg:30:24: probe.service[0].node[0].icmp_loss_dead_above: must be a fraction between 0 and 1, got 1.5`,
			`node-checks.cfg:31:22: probe.service[0].node[0].notify_on[1]: unknown event "down" (want "dead", "recovered" or "sick")`,
		)},
		{"metrics-threshold.cfg", `metrics-threshold.cfg:16:21: metrics.success_threshold: must be at least 1 (consecutive checks), got 0`},
		{"negative-duration.cfg", `negative-duration.cfg:28:17: metrics.poll_interval: must not be negative, got -1`},
		{"notifier-missing-keys.cfg", lines(
			`notifier-missing-keys.cfg:27:1: notify.zulip.bot_api_key: missing required key`,
			`notifier-missing-keys.cfg:27:1: notify.zulip.channel: missing required key`,
			`notifier-missing-keys.cfg:29:11: notify.zulip.api_url: url "example.zulipchat.com/api/v1/" is not absolute (want a scheme and a host, such as https://status.example.com/)`,
			`notifier-missing-keys.cfg:31:1: notify.webhook.hook_url: missing required key`,
		)},
		{"poll-parallelism-zero.cfg", `poll-parallelism-zero.cfg:28:20: metrics.poll_parallelism: must be at least 1, got 0 (with 0 no poll probe would ever run)`},
		{"rabbitmq-missing-key.cfg", lines(
			`rabbitmq-missing-key.cfg:27:1: plugins.rabbitmq.auth_password: missing required key`,
			`rabbitmq-missing-key.cfg:27:1: plugins.rabbitmq.queue_nack_dead_above: missing required key`,
		)},
		{"regex-class-difference.cfg", `regex-class-difference.cfg:26:27: probe.service[0].node[0].http_body_healthy_match: class difference "--" inside [...] is Rust-only (Go reads it as a range); list the wanted characters explicitly, or write \- for a literal hyphen`},
		{"regex-class-intersection.cfg", `regex-class-intersection.cfg:26:27: probe.service[0].node[0].http_body_healthy_match: class intersection "&&" inside [...] is Rust-only (Go reads it as literal "&" characters); list the wanted characters explicitly`},
		{"regex-crlf.cfg", `regex-crlf.cfg:26:27: probe.service[0].node[0].http_body_healthy_match: Rust-only CRLF flag R (as in (?R)) is not supported; remove it and match line ends with \r?$ under (?m)`},
		{"regex-quote.cfg", `regex-quote.cfg:26:27: probe.service[0].node[0].http_body_healthy_match: \Q...\E quoting is not supported by Rust's regex; escape each special character with \ instead`},
		{"regex-repeat.cfg", `regex-repeat.cfg:26:27: probe.service[0].node[0].http_body_healthy_match: repeat count 1001 in {1001} is above Go's limit of 1000 (Rust allows more); use at most {1000} or an open-ended {1000,}`},
		{"regex-unicode-escape.cfg", `regex-unicode-escape.cfg:26:27: probe.service[0].node[0].http_body_healthy_match: Rust-only escape \u is not supported; write \x{00e9} instead`},
		{"regex-verbose.cfg", `regex-verbose.cfg:26:27: probe.service[0].node[0].http_body_healthy_match: Rust-only verbose flag x (as in (?x)) is not supported; remove it, along with the spaces and # comments it allowed`},
		{"regex-word-start.cfg", `regex-word-start.cfg:26:27: probe.service[0].node[0].http_body_healthy_match: Rust-only word boundary \b{start} is not supported; write \b instead`},
		{"relative-page-url.cfg", `relative-page-url.cfg:6:12: branding.page_url: url "status.example.com" is not absolute (want a scheme and a host, such as https://status.example.com/)`},
		{"replicas-on-push.cfg", `replicas-on-push.cfg:25:12: probe.service[0].node[0].replicas: replicas are only for mode = "poll", this node has mode = "push"`},
		{"scripts-on-poll.cfg", `scripts-on-poll.cfg:26:11: probe.service[0].node[0].scripts: scripts are only for mode = "script", this node has mode = "poll"`},
		{"several-errors.cfg", lines(
			`several-errors.cfg:1:1: server.reporter_token: missing required key`,
			`several-errors.cfg:2:13: server.log_level: unknown log level "loud" (want off, error, warn, info, debug or trace)`,
			`several-errors.cfg:3:8: server.inet: invalid address "*:8080": want a literal IP and port such as [::1]:8080 or 0.0.0.0:8080 (host names are not accepted)`,
			`several-errors.cfg:4:17: server.manager_token: must not be empty`,
			`several-errors.cfg:7:12: branding.page_url: url "/status" is not absolute (want a scheme and a host, such as https://status.example.com/)`,
			`several-errors.cfg:17:20: metrics.poll_parallelism: must be at least 1, got 0 (with 0 no poll probe would ever run)`,
			`several-errors.cfg:18:22: metrics.script_parallelism: must be at least 1, got 0 (with 0 no script would ever run)`,
			`several-errors.cfg:30:13: probe.service[0].node[0].replicas[0]: invalid replica url "icmp://gateway.example.com/": icmp takes no path, not even a trailing slash (want icmp://host)`,
			`several-errors.cfg:30:44: probe.service[0].node[0].replicas[1]: invalid replica url "tcp://db.example.com": missing port (want tcp://host:port)`,
			`several-errors.cfg:30:68: probe.service[0].node[0].replicas[2]: unsupported scheme "udp" (want http, https, tcp, ssh, icmp, tls or dns)`,
			`several-errors.cfg:31:15: probe.service[0].node[0].http_method: unsupported http_method "OPTIONS" (want HEAD, GET, POST, PUT or PATCH, in upper case)`,
			`several-errors.cfg:32:27: probe.service[0].node[0].http_body_healthy_match: Rust-only verbose flag x (as in (?x)) is not supported; remove it, along with the spaces and # comments it allowed`,
			`several-errors.cfg:35:6: probe.service[0].node[1].id: duplicate node id "api" in service "web" (first used on line 27)`,
			`several-errors.cfg:38:11: probe.service[0].node[1].scripts: scripts are only for mode = "script", this node has mode = "push"`,
			`several-errors.cfg:41:6: probe.service[1].id: duplicate service id "web" (first used on line 23)`,
		)},
		{"ssh-with-path.cfg", `ssh-with-path.cfg:25:13: probe.service[0].node[0].replicas[0]: invalid replica url "ssh://git.example.com:22/repo": ssh takes no path, not even a trailing slash (want ssh://host:port)`},
		{"node-status-range.cfg", `node-status-range.cfg:27:34: probe.service[0].node[0].poll_http_status_healthy_above: poll_http_status_healthy_above (450, inclusive) must be lower than poll_http_status_healthy_below (400, exclusive) on this node`},
		{"status-range.cfg", `status-range.cfg:28:34: metrics.poll_http_status_healthy_above: poll_http_status_healthy_above (400, inclusive) must be lower than poll_http_status_healthy_below (400, exclusive)`},
		{"syntax-error.cfg", `syntax-error.cfg:3:27: basic strings cannot have new lines`},
		{"tcp-port-range.cfg", `tcp-port-range.cfg:25:13: probe.service[0].node[0].replicas[0]: invalid replica url "tcp://db.example.com:70000": port 70000 out of range 1-65535`},
		{"tcp-without-port.cfg", `tcp-without-port.cfg:25:13: probe.service[0].node[0].replicas[0]: invalid replica url "tcp://db.example.com": missing port (want tcp://host:port)`},
		{"telegram-thread-id-string.cfg", `telegram-thread-id-string.cfg:30:21: notify.telegram.message_thread_id: wrong type: got a string, want an integer`},
		{"wrong-type.cfg", `wrong-type.cfg:28:17: metrics.poll_interval: wrong type: got a string, want an integer`},
	}
	seen := map[string]bool{}
	for _, tt := range tests {
		seen[tt.file] = true
		t.Run(tt.file, func(t *testing.T) {
			data, err := os.ReadFile(filepath.Join("testdata", "invalid", tt.file))
			if err != nil {
				t.Fatal(err)
			}
			cfg, _, err := Parse(tt.file, data, nil)
			if err == nil {
				t.Fatalf("Parse(%s) = nil error, want\n%s", tt.file, tt.want)
			}
			if cfg != nil {
				t.Errorf("Parse(%s) returned a config along with errors", tt.file)
			}
			if got := err.Error(); got != tt.want {
				t.Errorf("Parse(%s) error =\n%s\nwant\n%s", tt.file, got, tt.want)
			}
			var errs Errors
			if !errors.As(err, &errs) {
				t.Fatalf("Parse(%s) error is %T, want Errors", tt.file, err)
			}
			if got, want := len(errs), strings.Count(tt.want, "\n")+1; got != want {
				t.Errorf("Parse(%s) gave %d problems, want %d", tt.file, got, want)
			}
		})
	}
	files, err := filepath.Glob(filepath.Join("testdata", "invalid", "*.cfg"))
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range files {
		if !seen[filepath.Base(f)] {
			t.Errorf("%s has no expected error in the table", f)
		}
	}
}
