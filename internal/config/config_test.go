package config

import (
	"errors"
	"fmt"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/vigil-go/vigil/internal/notify"
)

// noEnv is a lookupEnv with no variable set.
func noEnv(string) (string, bool) { return "", false }

// envMap is a lookupEnv backed by a map.
func envMap(m map[string]string) func(string) (string, bool) {
	return func(name string) (string, bool) {
		v, ok := m[name]
		return v, ok
	}
}

// mustParse parses text and fails the test on any error or warning.
func mustParse(t *testing.T, text string, lookupEnv func(string) (string, bool)) *Config {
	t.Helper()
	cfg, warns, err := Parse("test.cfg", []byte(text), lookupEnv)
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	for _, w := range warns {
		t.Errorf("unexpected warning: %s", w)
	}
	return cfg
}

func readTestdata(t *testing.T, name string) string {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return string(data)
}

func TestFullConfig(t *testing.T) {
	cfg, warns, err := Load(filepath.Join("testdata", "full.cfg"), noEnv)
	if err != nil {
		t.Fatalf("Load(full.cfg): %v", err)
	}
	for _, w := range warns {
		t.Errorf("Load(full.cfg) warning: %s", w)
	}

	checks := []struct {
		name      string
		got, want any
	}{
		{"File", cfg.File, filepath.Join("testdata", "full.cfg")},
		{"Server.LogLevel (lower-cased)", cfg.Server.LogLevel, "debug"},
		{"Server.Inet", cfg.Server.Inet, "0.0.0.0:8080"},
		{"Server.Workers", cfg.Server.Workers, 8},
		{"Server.MCPServer", cfg.Server.MCPServer, true},
		{"Server.ReporterToken", cfg.Server.ReporterToken, "REPLACE_THIS_WITH_A_SECRET_KEY"},
		{"Server.MetricsEnabled", cfg.Server.MetricsEnabled, true},
		{"Server.MetricsToken", cfg.Server.MetricsToken, "REPLACE_THIS_WITH_A_METRICS_SCRAPE_KEY"},
		{"Server.FrameAncestors", cfg.Server.FrameAncestors, []string{"'self'", "https://intranet.example.com"}},
		{"Server.ReporterReplicaIDMaxBytes", cfg.Server.ReporterReplicaIDMaxBytes, 512},
		{"Server.ReporterReplicasPerNodeMax", cfg.Server.ReporterReplicasPerNodeMax, 20000},
		{"Server.MaxConnections", cfg.Server.MaxConnections, 4096},
		{"Server.MCPSessionsMax", cfg.Server.MCPSessionsMax, 100},
		{"Server.RequestBodyTimeout", cfg.Server.RequestBodyTimeout, Seconds(10)},
		{"Server.WatchConfig", cfg.Server.WatchConfig, true},
		{"Branding.PageURL (trailing slash added)", cfg.Branding.PageURL, "https://status.example.com/"},
		{"Branding.SupportURL", cfg.Branding.SupportURL, "mailto:support@example.com"},
		{"Branding.ColorScheme", cfg.Branding.ColorScheme, "dark"},
		{"Branding.CustomHTML", cfg.Branding.CustomHTML, `<script>console.log("hi")</script>`},
		{"Metrics.PollRetryWait", cfg.Metrics.PollRetryWait, Millis(250)},
		{"Metrics.PollHTTPStatusHealthyBelow", cfg.Metrics.PollHTTPStatusHealthyBelow, 300},
		{"Metrics.PushSystemCPUSickAbove", cfg.Metrics.PushSystemCPUSickAbove, 0.90},
		{"Metrics.PushReplicaExpire", cfg.Metrics.PushReplicaExpire, Seconds(3600)},
		{"Metrics.ScriptTimeout", cfg.Metrics.ScriptTimeout, Seconds(90)},
		{"Metrics.LocalDelayDead", cfg.Metrics.LocalDelayDead, Seconds(60)},
		{"RabbitMQ.VirtualHost", cfg.Plugins.RabbitMQ.VirtualHost, "%2F"},
		{"RabbitMQ.QueueNackDeadAbove", cfg.Plugins.RabbitMQ.QueueNackDeadAbove, uint32(5000)},
		{"RabbitMQ.QueueLoadedRetryDelay", *cfg.Plugins.RabbitMQ.QueueLoadedRetryDelay, Millis(500)},
		{"Notify.SendsStartup", cfg.Notify.SendsStartup(), false},
		{"Notify.ReminderInterval", *cfg.Notify.ReminderInterval, Seconds(300)},
		{"Notify.ReminderBackoffFunction", cfg.Notify.ReminderBackoffFunction, "linear"},
		{"Notify.ReminderBackoffLimit", cfg.Notify.ReminderBackoffLimit, 5},
		{"Notify.ReminderEscalate", cfg.Notify.ReminderEscalate, true},
		{"Email.SMTPPort", sectionOf[notify.Email](t, cfg).SMTPPort, 465},
		{"Email.SMTPEncrypt", *sectionOf[notify.Email](t, cfg).SMTPEncrypt, false},
		{"Twilio.To", sectionOf[notify.Twilio](t, cfg).To, []string{"+336xxxxxxx", "+337xxxxxxx"}},
		{"Twilio.APIURL", sectionOf[notify.Twilio](t, cfg).APIURL, "https://twilio.example.com/"},
		{"Slack.MentionChannel", sectionOf[notify.Slack](t, cfg).MentionChannel, true},
		{"Telegram.MessageThreadID", *sectionOf[notify.Telegram](t, cfg).MessageThreadID, int64(42)},
		{"Pushover.UserKeys", sectionOf[notify.Pushover](t, cfg).UserKeys, []string{"xxxx", "yyyy"}},
		{"Matrix.RoomID", sectionOf[notify.Matrix](t, cfg).RoomID, "!abc123:matrix.org"},
		{"Webhook.HookURL", sectionOf[notify.Webhook](t, cfg).HookURL, "https://example.com/webhook/vigil"},
		{"services", len(cfg.Probe.Services), 2},
	}
	for _, c := range checks {
		if !reflect.DeepEqual(c.got, c.want) {
			t.Errorf("%s = %#v, want %#v", c.name, c.got, c.want)
		}
	}

	router := cfg.Probe.Services[0].Nodes[0]
	wantTargets := []struct{ id, kind, host, port string }{
		{"icmp://edge-1.example.com", "icmp", "edge-1.example.com", ""},
		{"tcp://[2001:db8::1]:80", "tcp", "2001:db8::1", "80"},
		{"ssh://edge-3.example.com:22", "ssh", "edge-3.example.com", "22"},
		{"https://example.com/health?full=1", "http", "example.com", ""},
		{"tls://example.com:443", "tls", "example.com", "443"},
		{"tcp://cache.example.com:6379", "tcp", "cache.example.com", "6379"},
		{"dns://10.0.0.53/example.com?type=AAAA", "dns", "10.0.0.53", "53"},
	}
	if len(router.Targets) != len(wantTargets) {
		t.Fatalf("router has %d targets, want %d", len(router.Targets), len(wantTargets))
	}
	for i, w := range wantTargets {
		got := router.Targets[i]
		if got.ID != w.id || string(got.Kind) != w.kind || got.Host != w.host || got.Port != w.port || got.URL == nil {
			t.Errorf("Targets[%d] = {%q %q %q %q}, want {%q %q %q %q}", i, got.ID, got.Kind, got.Host, got.Port, w.id, w.kind, w.host, w.port)
		}
	}
	wantHeaders := http.Header{
		"Authorization": {"Bearer xxxx"},
		"X-Accept":      {"text/plain", "application/json"},
	}
	if !reflect.DeepEqual(router.Headers, wantHeaders) {
		t.Errorf("router Headers = %v, want %v", router.Headers, wantHeaders)
	}
	if router.BodyMatch == nil || !router.BodyMatch.MatchString("OK 12") || router.BodyMatch.MatchString("KO") {
		t.Errorf("router BodyMatch = %v, want an expression matching %q and not %q", router.BodyMatch, "OK 12", "KO")
	}
	if dns := router.Targets[6]; dns.DNSName != "example.com" || dns.DNSType != "AAAA" {
		t.Errorf("dns target asks %q %q, want example.com AAAA", dns.DNSName, dns.DNSType)
	}
	if router.TCPSend != "PING\r\n" || router.TCPExpectMatch == nil || !router.TCPExpectMatch.MatchString("+PONG\r\n") ||
		router.DNSExpectMatch == nil || !router.DNSExpectMatch.MatchString("2001:db8::5") {
		t.Errorf("router exchanges: send %q, expect %v, dns %v", router.TCPSend, router.TCPExpectMatch, router.DNSExpectMatch)
	}
	if above, below := router.HealthyStatus(cfg.Metrics); above != 200 || below != 402 {
		t.Errorf("router healthy status = [%d, %d), want [200, 402): the node's own range", above, below)
	}
	if above, below := cfg.Probe.Services[0].Nodes[1].HealthyStatus(cfg.Metrics); above != cfg.Metrics.PollHTTPStatusHealthyAbove || below != cfg.Metrics.PollHTTPStatusHealthyBelow {
		t.Errorf("second node healthy status = [%d, %d), want [metrics]'s", above, below)
	}
	if !slices.Equal(router.NotifyChannels, []string{"slack", "email"}) || cfg.Probe.Services[0].Nodes[1].NotifyChannels != nil {
		t.Errorf("notify_channels = %q and %q, want [slack email] on the router only", router.NotifyChannels, cfg.Probe.Services[0].Nodes[1].NotifyChannels)
	}
	if cfg.Metrics.PollTLSExpirySickDays != 21 {
		t.Errorf("poll_tls_expiry_sick_days = %d, want 21", cfg.Metrics.PollTLSExpirySickDays)
	}
	if router.HTTPMethod != "POST" || router.HTTPBody != `{"ping": true}` || !router.HTTPNoCacheBuster || !router.RevealReplicaName {
		t.Errorf("router HTTP settings = %q %q %v %v", router.HTTPMethod, router.HTTPBody, router.HTTPNoCacheBuster, router.RevealReplicaName)
	}

	// The '''-string starts on the line after its quotes: TOML drops that
	// first newline, and neither $status nor ${LB_URL:-…} is touched.
	wantScript := `  status=$(curl -s -o /dev/null -w '%{http_code}' "${LB_URL:-http://localhost}")` + "\n" +
		`  [ "$status" = 200 ] || exit 2` + "\n  "
	lb := cfg.Probe.Services[0].Nodes[1]
	if len(lb.Scripts) != 2 || lb.Scripts[0] != wantScript || lb.Scripts[1] != "true" {
		t.Errorf("load-balancer Scripts = %q, want [%q \"true\"]", lb.Scripts, wantScript)
	}

	client := cfg.Probe.Services[1].Nodes[0]
	if client.RabbitMQQueue != "client" || *client.RabbitMQQueueNackHealthyBelow != 100 || *client.RabbitMQQueueNackDeadAbove != 1000 {
		t.Errorf("socket-client RabbitMQ settings = %q %v %v", client.RabbitMQQueue, *client.RabbitMQQueueNackHealthyBelow, *client.RabbitMQQueueNackDeadAbove)
	}
}

// TestFullConfigHasEveryKey keeps full.cfg complete: every key of Config
// must be written in it at least once.
func TestFullConfigHasEveryKey(t *testing.T) {
	ix := indexKeys([]byte(readTestdata(t, "full.cfg")))
	written := map[string]bool{}
	for path := range ix.pos {
		written[strings.Join(genericKey(path), ".")] = true
	}
	sch := newSchema()
	for _, table := range sortedKeys(sch.keys) {
		for _, key := range sch.keys[table] {
			full := strings.TrimPrefix(table+"."+key, ".")
			if !written[full] {
				t.Errorf("full.cfg lacks %s", full)
			}
		}
	}
}

func TestDefaults(t *testing.T) {
	cfg := mustParse(t, readTestdata(t, "minimal.cfg"), noEnv)
	want := Metrics{
		PollInterval:               120,
		PollRetry:                  2,
		PollRetryWait:              500,
		PollHTTPStatusHealthyAbove: 200,
		PollHTTPStatusHealthyBelow: 400,
		PollDelayDead:              10,
		PollDelaySick:              5,
		PollParallelism:            4,
		PushDelayDead:              20,
		PushSystemCPUSickAbove:     0.99,
		PushSystemRAMSickAbove:     0.99,
		PushReplicaExpire:          0,
		PollTLSExpirySickDays:      14,
		ScriptInterval:             300,
		ScriptParallelism:          2,
		ScriptTimeout:              60,
		LocalDelayDead:             40,
		FailureThreshold:           1,
		SuccessThreshold:           1,
	}
	if cfg.Metrics != want {
		t.Errorf("default Metrics = %+v, want %+v", cfg.Metrics, want)
	}
	wantServer := Server{LogLevel: "error", Inet: "[::1]:8080", Workers: 4, ManagerToken: "manager", ReporterToken: "reporter",
		ReporterReplicaIDMaxBytes: 1024, ReporterReplicasPerNodeMax: 5000, MCPSessionsMax: 1000, RequestBodyTimeout: 30}
	if !reflect.DeepEqual(cfg.Server, wantServer) {
		t.Errorf("default Server = %+v, want %+v", cfg.Server, wantServer)
	}
	if cfg.Assets.Path != "./res/assets/" || cfg.Branding.PageTitle != "Status Page" {
		t.Errorf("default assets.path, page_title = %q, %q; want %q, %q", cfg.Assets.Path, cfg.Branding.PageTitle, "./res/assets/", "Status Page")
	}
	if cfg.Notify != nil || cfg.Plugins.RabbitMQ != nil {
		t.Errorf("Notify, RabbitMQ = %v, %v; want nil when their sections are absent", cfg.Notify, cfg.Plugins.RabbitMQ)
	}
	n := cfg.Probe.Services[0].Nodes[0]
	if n.HTTPMethod != "" || n.Headers != nil || n.BodyMatch != nil || len(n.Targets) != 1 {
		t.Errorf("minimal node = method %q, headers %v, match %v, %d targets; want none and 1 target", n.HTTPMethod, n.Headers, n.BodyMatch, len(n.Targets))
	}

	cfg = mustParse(t, readTestdata(t, "minimal.cfg")+`
[notify.email]
to = "ops@example.com"
from = "vigil@example.com"

[notify.twilio]
to = ["+336xxxxxxx"]
service_sid = "s"
account_sid = "a"
auth_token = "t"

[notify.telegram]
bot_token = "b"
chat_id = "c"

[notify.pushover]
app_token = "a"
user_keys = ["u"]
`, noEnv)
	nf := cfg.Notify
	got := []any{nf.ReminderBackoffFunction, nf.ReminderBackoffLimit, nf.ReminderInterval == nil, nf.SendsStartup(),
		sectionOf[notify.Email](t, cfg).SMTPHost, sectionOf[notify.Email](t, cfg).SMTPPort, *sectionOf[notify.Email](t, cfg).SMTPEncrypt,
		sectionOf[notify.Twilio](t, cfg).APIURL, sectionOf[notify.Telegram](t, cfg).APIURL, sectionOf[notify.Telegram](t, cfg).MessageThreadID == nil, sectionOf[notify.Pushover](t, cfg).APIURL}
	wantNotify := []any{"none", 3, true, true,
		"localhost", 587, true,
		"https://api.twilio.com/", "https://api.telegram.org/", true, "https://api.pushover.net/"}
	if !reflect.DeepEqual(got, wantNotify) {
		t.Errorf("notify defaults = %v, want %v", got, wantNotify)
	}
}

// TestExplicitValuesKept checks that a key set to its zero value is not
// mistaken for an absent key.
func TestExplicitValuesKept(t *testing.T) {
	cfg := mustParse(t, readTestdata(t, "minimal.cfg")+`
[metrics]
poll_retry = 0
poll_retry_wait = 0
push_system_cpu_sick_above = 0.0
script_interval = 30

[notify]
reminder_backoff_limit = 0

[notify.email]
to = "ops@example.com"
from = "vigil@example.com"
smtp_port = 25
smtp_encrypt = false

[notify.slack]
hook_url = "https://hooks.slack.com/services/xxxx"
`, noEnv)
	got := []any{cfg.Metrics.PollRetry, cfg.Metrics.PollRetryWait, cfg.Metrics.PushSystemCPUSickAbove,
		cfg.Metrics.ScriptTimeout, cfg.Notify.ReminderBackoffLimit, sectionOf[notify.Email](t, cfg).SMTPPort, *sectionOf[notify.Email](t, cfg).SMTPEncrypt}
	// The default script_timeout of 60 follows the shorter interval silently.
	want := []any{0, Millis(0), 0.0, Seconds(30), 0, 25, false}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("explicit values = %v, want %v", got, want)
	}
}

func TestUnknownKeys(t *testing.T) {
	cfg, warns, err := Parse("unknown-keys.cfg", []byte(readTestdata(t, "unknown-keys.cfg")), noEnv)
	if err != nil {
		t.Fatalf("Parse(unknown-keys.cfg): %v", err)
	}
	want := []string{
		`unknown-keys.cfg:6:1: server.listen: unknown key, ignored`,
		`unknown-keys.cfg:19:1: metrics.max_num_poll_retry: unknown key, ignored`,
		`unknown-keys.cfg:21:1: notify.mattermost: unknown table, ignored`,
		`unknown-keys.cfg:21:1: notify: no notifier configured ([notify.email], [notify.slack], …): nothing will be sent`,
		`unknown-keys.cfg:41:1: probe.service[0].node[1].poll_parallelism: unknown key, ignored (poll_parallelism belongs in [metrics])`,
		`unknown-keys.cfg:42:1: probe.service[0].node[1].push_delay_dead: unknown key, ignored (push_delay_dead belongs in [metrics])`,
		`unknown-keys.cfg:43:1: probe.service[0].node[1].replica: unknown key, ignored (did you mean replicas?)`,
	}
	checkWarnings(t, warns, want)
	// The ignored keys change nothing.
	if got := cfg.Metrics.PollInterval; got != 120 {
		t.Errorf("PollInterval = %d, want the default 120", got)
	}
	if got := len(cfg.Probe.Services[0].Nodes[1].Targets); got != 1 {
		t.Errorf("admin node has %d targets, want 1", got)
	}
}

func TestWarnings(t *testing.T) {
	cfg, warns, err := Parse("warnings.cfg", []byte(readTestdata(t, "warnings.cfg")), noEnv)
	if err != nil {
		t.Fatalf("Parse(warnings.cfg): %v", err)
	}
	want := []string{
		`warnings.cfg:18:19: metrics.poll_delay_sick: 0 makes every successful poll probe sick`,
		`warnings.cfg:20:18: metrics.script_timeout: 45 is longer than script_interval; capped to 30`,
		`warnings.cfg:28:11: notify.zulip.api_url: should end with "/" (such as https://example.zulipchat.com/api/v1/): paths are appended to it`,
		`warnings.cfg:36:1: probe.service[0].node[0]: poll node without replicas: nothing to probe`,
		`warnings.cfg:47:3: probe.service[0].node[1].replicas[1]: the query of tcp replica url "tcp://db.example.com:5432?timeout=5" is ignored`,
		`warnings.cfg:48:3: probe.service[0].node[1].replicas[2]: duplicate replica "https://example.com/" (also replicas[0]): probed once`,
		`warnings.cfg:50:13: probe.service[0].node[1].http_body: only sent with POST, PUT or PATCH; this node uses HEAD`,
		`warnings.cfg:51:27: probe.service[0].node[1].http_body_healthy_match: HEAD responses have no body: the expression is matched against an empty body`,
		`warnings.cfg:53:18: probe.service[0].node[1].rabbitmq_queue: only push nodes have their queue checked; ignored on a poll node`,
		`warnings.cfg:54:14: probe.service[0].node[1].dns_expect: ignored: this node has no dns:// replica`,
		`warnings.cfg:55:14: probe.service[0].node[1].icmp_count: only used by icmp replicas; this node has none`,
		`warnings.cfg:56:19: probe.service[0].node[1].script_interval: only used by script nodes; ignored on a poll node`,
		`warnings.cfg:62:15: probe.service[0].node[2].http_method: only used by poll nodes; ignored on a push node`,
		`warnings.cfg:63:18: probe.service[0].node[2].rabbitmq_queue: ignored: there is no [plugins.rabbitmq] section`,
		`warnings.cfg:64:14: probe.service[0].node[2].tcp_expect: only used by poll nodes; ignored on a push node`,
		`warnings.cfg:65:21: probe.service[0].node[2].failure_threshold: only used by poll and script nodes; ignored on a push node, whose replicas go dead when they stop reporting`,
		`warnings.cfg:66:17: probe.service[0].node[2].poll_interval: only used by poll nodes; ignored on a push node`,
		`warnings.cfg:68:1: probe.service[0].node[3]: script node without scripts: nothing to run`,
		`warnings.cfg:72:34: probe.service[0].node[3].rabbitmq_queue_nack_dead_above: ignored without rabbitmq_queue`,
		`warnings.cfg:74:1: probe.service[1]: service has no [[probe.service.node]]`,
	}
	checkWarnings(t, warns, want)
	if got := cfg.Metrics.ScriptTimeout; got != 30 {
		t.Errorf("ScriptTimeout = %d, want it capped to script_interval 30", got)
	}
	if got := len(cfg.Probe.Services[0].Nodes[1].Targets); got != 2 {
		t.Errorf("api node has %d targets, want 2 (the duplicate dropped)", got)
	}
}

// TestWarningsWithErrors checks that warnings come back along with errors,
// so that check-config can print both.
func TestWarningsWithErrors(t *testing.T) {
	text := strings.Replace(readTestdata(t, "minimal.cfg"), `mode = "poll"`, "mode = \"poll\"\npoll_parallelism = 10\nhttp_method = \"OPTIONS\"", 1)
	cfg, warns, err := Parse("test.cfg", []byte(text), noEnv)
	if cfg != nil || err == nil {
		t.Fatalf("Parse = %v, %v; want an error", cfg, err)
	}
	if want := `test.cfg:26:15: probe.service[0].node[0].http_method: unsupported http_method "OPTIONS" (want HEAD, GET, POST, PUT or PATCH, in upper case)`; err.Error() != want {
		t.Errorf("error = %s, want %s", err, want)
	}
	checkWarnings(t, warns, []string{
		`test.cfg:25:1: probe.service[0].node[0].poll_parallelism: unknown key, ignored (poll_parallelism belongs in [metrics])`,
	})
}

func checkWarnings(t *testing.T, warns []Warning, want []string) {
	t.Helper()
	got := make([]string, len(warns))
	for i, w := range warns {
		got[i] = w.String()
	}
	if !slices.Equal(got, want) {
		t.Errorf("warnings =\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

func TestInterpolation(t *testing.T) {
	base := readTestdata(t, "minimal.cfg")
	text := strings.Replace(base, `manager_token = "manager"`, `manager_token = "${VIGIL_MANAGER_TOKEN}"`, 1)
	text += `
[metrics]
poll_interval = ${POLL_INTERVAL}

[[probe.service.node]]
id = "cron"
label = "${NODE_LABEL}"
mode = "script"
scripts = [
  '''
code=$(curl -s -o /dev/null -w '%{http_code}' "${TARGET_URL:-http://localhost}")
[ "$code" = 200 ] || exit 2
echo "${HOME}" $status $(date) ${NOT_SET} $${A}
''',
]
`
	env := map[string]string{
		"VIGIL_MANAGER_TOKEN": `tok$en}{`,
		"POLL_INTERVAL":       "30",
		"NODE_LABEL":          "${VIGIL_MANAGER_TOKEN}", // pasted verbatim, never expanded again
		"HOME":                "/home/vigil",
		"A":                   "a",
		"TARGET_URL":          "must not be used",
		// Variables that made Vigil refuse to start (its bug #144).
		"BASH_FUNC_which%%": "() {  ( alias; eval ${which_declare} ) | /usr/bin/which --read-functions $@\n}",
		"WEIRD{NAME}":       "$",
		"${}":               "}",
	}
	cfg := mustParse(t, text, envMap(env))
	if got, want := cfg.Server.ManagerToken, `tok$en}{`; got != want {
		t.Errorf("manager_token = %q, want %q", got, want)
	}
	if got := cfg.Metrics.PollInterval; got != 30 {
		t.Errorf("poll_interval = %d, want 30 (from an unquoted reference)", got)
	}
	cron := cfg.Probe.Services[0].Nodes[1]
	if got, want := cron.Label, "${VIGIL_MANAGER_TOKEN}"; got != want {
		t.Errorf("label = %q, want %q", got, want)
	}
	wantScript := `code=$(curl -s -o /dev/null -w '%{http_code}' "${TARGET_URL:-http://localhost}")` + "\n" +
		`[ "$code" = 200 ] || exit 2` + "\n" +
		`echo "/home/vigil" $status $(date) ${NOT_SET} $a` + "\n"
	if len(cron.Scripts) != 1 || cron.Scripts[0] != wantScript {
		t.Errorf("script =\n%q\nwant\n%q", cron.Scripts, wantScript)
	}
}

// TestSecretFromUnsetVariable checks that a credential naming an unset
// variable, or empty or blank, stops the config, where other keys keep an
// unset reference as written: before, manager_token = "${VIGIL_MANAGER_TOKEN}"
// with the variable unset started with the README's literal as the token.
func TestSecretFromUnsetVariable(t *testing.T) {
	base := readTestdata(t, "minimal.cfg")
	tests := []struct {
		name, from, to string
		env            map[string]string
		want           string
	}{
		{"manager unset", `manager_token = "manager"`, `manager_token = "${VIGIL_MANAGER_TOKEN}"`, nil,
			`test.cfg:2:17: server.manager_token: environment variable VIGIL_MANAGER_TOKEN is not set: a credential must not be the literal ${VIGIL_MANAGER_TOKEN}`},
		{"reporter part unset", `reporter_token = "reporter"`, `reporter_token = "pre-${TOKEN_PART}"`, nil,
			`test.cfg:3:18: server.reporter_token: environment variable TOKEN_PART is not set: a credential must not be the literal ${TOKEN_PART}`},
		{"manager empty variable", `manager_token = "manager"`, `manager_token = "${VIGIL_MANAGER_TOKEN}"`, map[string]string{"VIGIL_MANAGER_TOKEN": ""},
			`test.cfg:2:17: server.manager_token: must not be empty`},
		{"manager blank", `manager_token = "manager"`, `manager_token = "  \t "`, nil,
			`test.cfg:2:17: server.manager_token: must not be blank: it is a credential`},
		{"metrics token unset", `reporter_token = "reporter"`, "reporter_token = \"reporter\"\nmetrics_enabled = true\nmetrics_token = \"${VIGIL_METRICS_TOKEN}\"", nil,
			`test.cfg:5:17: server.metrics_token: environment variable VIGIL_METRICS_TOKEN is not set: a credential must not be the literal ${VIGIL_METRICS_TOKEN}`},
		{"metrics token empty", `reporter_token = "reporter"`, "reporter_token = \"reporter\"\nmetrics_enabled = true\nmetrics_token = \"${VIGIL_METRICS_TOKEN}\"", map[string]string{"VIGIL_METRICS_TOKEN": ""},
			`test.cfg:5:17: server.metrics_token: must not be empty (leave the key out to go without)`},
		{"notifier secret unset", `[probe]`, "[notify.slack]\nhook_url = \"https://hooks.slack.com/services/${SLACK_HOOK}\"\n\n[probe]", nil,
			`test.cfg:16:12: notify.slack.hook_url: environment variable SLACK_HOOK is not set: a credential must not be the literal ${SLACK_HOOK}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			text := strings.Replace(base, tt.from, tt.to, 1)
			if text == base {
				t.Fatalf("%q not in minimal.cfg", tt.from)
			}
			_, _, err := Parse("test.cfg", []byte(text), envMap(tt.env))
			if err == nil || err.Error() != tt.want {
				t.Errorf("Parse error =\n%v\nwant\n%s", err, tt.want)
			}
		})
	}
	// A set variable is the credential, and an unset one elsewhere stays as written.
	text := strings.Replace(base, `manager_token = "manager"`, `manager_token = "${VIGIL_MANAGER_TOKEN}"`, 1)
	text = strings.Replace(text, `company_name = "Example"`, `company_name = "${UNSET_NAME}"`, 1)
	cfg := mustParse(t, text, envMap(map[string]string{"VIGIL_MANAGER_TOKEN": "s3cret"}))
	if cfg.Server.ManagerToken != "s3cret" {
		t.Errorf("manager_token = %q, want s3cret", cfg.Server.ManagerToken)
	}
}

// TestInterpolationNilLookup checks that a nil lookupEnv leaves every
// reference as written.
func TestInterpolationNilLookup(t *testing.T) {
	text := strings.Replace(readTestdata(t, "minimal.cfg"), `"manager"`, `"${VIGIL_MANAGER_TOKEN}"`, 1)
	cfg := mustParse(t, text, nil)
	if got, want := cfg.Server.ManagerToken, "${VIGIL_MANAGER_TOKEN}"; got != want {
		t.Errorf("manager_token = %q, want %q", got, want)
	}
}

// TestInterpolationPositions checks that errors point into the file as
// written, not into the text after substitution.
func TestInterpolationPositions(t *testing.T) {
	text := strings.Replace(readTestdata(t, "minimal.cfg"), `manager_token = "manager"`, `manager_token = "${LONG}" extra`, 1)
	text = strings.Replace(text, `reporter_token = "reporter"`, "reporter_token = \"${MULTI}\"", 1)
	env := envMap(map[string]string{"LONG": strings.Repeat("x", 100)})
	_, _, err := Parse("test.cfg", []byte(text), env)
	want := `test.cfg:2:27: expected newline but got U+0065 'e'`
	if err == nil || err.Error() != want {
		t.Errorf("error = %v, want %s", err, want)
	}

	// A value spanning lines shifts the lines below it in the decoded text.
	text = strings.Replace(readTestdata(t, "minimal.cfg"), `reporter_token = "reporter"`, "reporter_token = '''${MULTI}'''", 1)
	text = strings.Replace(text, `mode = "poll"`, `mode = "pull"`, 1)
	env = envMap(map[string]string{"MULTI": "a\nb\nc\nd"})
	_, _, err = Parse("test.cfg", []byte(text), env)
	want = `test.cfg:24:8: probe.service[0].node[0].mode: unknown mode "pull" (want poll, push, script or local)`
	if err == nil || err.Error() != want {
		t.Errorf("error = %v, want %s", err, want)
	}
}

func TestInterpolationRealEnv(t *testing.T) {
	t.Setenv("VIGIL_TEST_REPORTER_TOKEN", "from-env")
	dir := t.TempDir()
	path := filepath.Join(dir, "config.cfg")
	text := strings.Replace(readTestdata(t, "minimal.cfg"), `"reporter"`, `"${VIGIL_TEST_REPORTER_TOKEN}"`, 1)
	if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, _, err := Load(path, os.LookupEnv)
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	if got := cfg.Server.ReporterToken; got != "from-env" {
		t.Errorf("reporter_token = %q, want %q", got, "from-env")
	}
}

func TestLoadMissingFile(t *testing.T) {
	_, _, err := Load(filepath.Join(t.TempDir(), "nope.cfg"), noEnv)
	if !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("Load(missing file) error = %v, want one wrapping fs.ErrNotExist", err)
	}
}

func TestScriptLeadingNewline(t *testing.T) {
	text := strings.Replace(readTestdata(t, "minimal.cfg"), `mode = "poll"
replicas = ["https://example.com/"]`, `mode = "script"
scripts = [
  '''
#!/bin/sh
test "$(id -u)" -ne 0 || exit 1
exit 0
''',
  '''exit 2''',
  """
printf 'a\tb'
""",
]`, 1)
	cfg := mustParse(t, text, noEnv)
	want := []string{
		"#!/bin/sh\ntest \"$(id -u)\" -ne 0 || exit 1\nexit 0\n",
		"exit 2",
		"printf 'a\tb'\n", // a basic string: \t is a tab
	}
	if got := cfg.Probe.Services[0].Nodes[0].Scripts; !slices.Equal(got, want) {
		t.Errorf("scripts = %q, want %q", got, want)
	}
}

func TestPageURLNormalized(t *testing.T) {
	tests := []struct{ in, want string }{
		{"https://status.example.com", "https://status.example.com/"},
		{"https://status.example.com/", "https://status.example.com/"},
		{"https://Status.Example.COM:443", "https://status.example.com/"},
		{"http://status.example.com:80?x=1", "http://status.example.com/?x=1"},
		{"http://status.example.com:8080", "http://status.example.com:8080/"},
		{"https://example.com/status", "https://example.com/status"},
	}
	for _, tt := range tests {
		text := strings.Replace(readTestdata(t, "minimal.cfg"), `page_url = "https://status.example.com"`, `page_url = "`+tt.in+`"`, 1)
		cfg := mustParse(t, text, noEnv)
		if got := cfg.Branding.PageURL; got != tt.want {
			t.Errorf("page_url %q = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestParseTarget(t *testing.T) {
	tests := []struct {
		raw                    string
		kind, host, port, want string // want: error text, "" for none
	}{
		{raw: "icmp://10.0.0.1", kind: "icmp", host: "10.0.0.1"},
		{raw: "icmp://[::1]", kind: "icmp", host: "::1"},
		{raw: "tcp://db.example.com:5432", kind: "tcp", host: "db.example.com", port: "5432"},
		{raw: "tcp://[::1]:80", kind: "tcp", host: "::1", port: "80"},
		{raw: "ssh://git.example.com:2222", kind: "ssh", host: "git.example.com", port: "2222"},
		{raw: "http://example.com", kind: "http", host: "example.com"},
		{raw: "HTTPS://user:pw@example.com:8443/a?b#c", kind: "http", host: "example.com", port: "8443"},
		{raw: "tls://example.com:443", kind: "tls", host: "example.com", port: "443"},
		{raw: "dns://10.0.0.53/example.com", kind: "dns", host: "10.0.0.53", port: "53"},
		{raw: "dns://[::1]:5353/example.com?type=mx", kind: "dns", host: "::1", port: "5353"},
		{raw: "tls://example.com", want: `invalid replica url "tls://example.com": missing port (want tls://host:port)`},
		{raw: "dns://10.0.0.53", want: `invalid replica url "dns://10.0.0.53": missing the name to query (want dns://resolver/name?type=A)`},
		{raw: "dns://10.0.0.53/example.com?type=ANY", want: `invalid replica url "dns://10.0.0.53/example.com?type=ANY": unsupported record type "ANY" (want A, AAAA, CNAME, MX, NS, PTR, SOA, SRV, TXT, CAA)`},
		{raw: "dns://10.0.0.53/example.com?class=IN", want: `invalid replica url "dns://10.0.0.53/example.com?class=IN": unknown query parameter "class" (want only type=, once)`},
		{raw: "ssh://git.example.com", want: `invalid replica url "ssh://git.example.com": missing port (want ssh://host:port)`},
		{raw: "tcp://db.example.com:5432/", want: `invalid replica url "tcp://db.example.com:5432/": tcp takes no path, not even a trailing slash (want tcp://host:port)`},
		{raw: "tcp://:80", want: `invalid replica url "tcp://:80": missing host (want tcp://host:port)`},
		{raw: "tcp://db:0", want: `invalid replica url "tcp://db:0": port 0 out of range 1-65535`},
		{raw: "tcp://db:", want: `invalid replica url "tcp://db:": empty port`},
		{raw: "tcp:db:80", want: `invalid replica url "tcp:db:80": want tcp://host:port`},
		{raw: "https:///path", want: `invalid replica url "https:///path": missing host (want https://host/path)`},
		{raw: "tcp://[::1:80", want: `invalid replica url "tcp://[::1:80": missing ']' in host`},
		{raw: "localhost:80", want: `invalid replica url "localhost:80": missing scheme (want http, https, tcp, ssh, icmp, tls or dns)`},
		{raw: "/health", want: `invalid replica url "/health": missing scheme (want http, https, tcp, ssh, icmp, tls or dns)`},
		{raw: "ftp://example.com/", want: `unsupported scheme "ftp" (want http, https, tcp, ssh, icmp, tls or dns)`},
	}
	for _, tt := range tests {
		got, _, err := parseTarget(tt.raw)
		if tt.want != "" {
			if err == nil || err.Error() != tt.want {
				t.Errorf("parseTarget(%q) error = %v, want %s", tt.raw, err, tt.want)
			}
			continue
		}
		if err != nil {
			t.Errorf("parseTarget(%q) error = %v", tt.raw, err)
			continue
		}
		if got.ID != tt.raw || string(got.Kind) != tt.kind || got.Host != tt.host || got.Port != tt.port {
			t.Errorf("parseTarget(%q) = {%q %q %q %q}, want {%q %q %q %q}", tt.raw, got.ID, got.Kind, got.Host, got.Port, tt.raw, tt.kind, tt.host, tt.port)
		}
	}
}

func TestBodyMatch(t *testing.T) {
	accepted := []struct{ expr, match string }{
		{`User-agent:.*`, "User-agent: *"},
		{`(?i)^status: ok$`, "STATUS: OK"},
		{`(?P<n>\d+) up`, "3 up"},
		{`(?<n>\d+) up`, "3 up"},
		{`[[:alpha:]]+`, "ok"},
		{`[]a]`, "]"},
		{`[^]a]`, "b"},
		{`[a-]`, "-"},
		{`[\[\]]`, "["},
		{`caf\x{e9}`, "café"},
		{`\p{L}{2}`, "ok"},
		{`\\u0041`, `\u0041`}, // an escaped backslash, then a plain u
		{`a{1000}`, strings.Repeat("a", 1000)},
		{`x{2,5}`, "xx"},
		{`a{b`, "a{b"},
		{`\bok\b`, "is ok."},
	}
	for _, tt := range accepted {
		re, err := compileBodyMatch(tt.expr)
		if err != nil {
			t.Errorf("compileBodyMatch(%q) error = %v", tt.expr, err)
			continue
		}
		if !re.MatchString(tt.match) {
			t.Errorf("compileBodyMatch(%q) does not match %q", tt.expr, tt.match)
		}
	}

	rejected := []struct{ expr, want string }{
		{`(?x) ok`, "verbose flag x"},
		{`(?ix:ok)`, "verbose flag x"},
		{`(?R)^ok$`, "CRLF flag R"},
		{`(?-u:\w)`, "Unicode flag u"},
		{`\u00e9`, `write \x{00e9}`},
		{`\u{e9}`, `write \x{e9}`},
		{`\U0001F600`, `write \x{0001F600}`},
		{`[\u00e9]`, `write \x{00e9}`},
		{`a{1001}`, "repeat count 1001"},
		{`a{2,5000}`, "repeat count 5000"},
		{`[a-z&&[^aeiou]]`, `"&&"`},
		{`[a-z--b]`, `"--"`},
		{`[a-c~~b]`, `"~~"`},
		{`[a[bc]]`, "nested character class"},
		{`\b{start}ok`, `\b{start}`},
		{`ok\b{end}`, `\b{end}`},
		{`\b{start-half}ok`, `\b{start-half}`},
		{`\<ok\>`, `\<`},
		{`\Q1+1\E`, `\Q...\E`},
		{`(ok`, "invalid regular expression: missing closing )"},
		{`(?=ok)`, "invalid regular expression"},
	}
	for _, tt := range rejected {
		_, err := compileBodyMatch(tt.expr)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("compileBodyMatch(%q) error = %v, want one mentioning %s", tt.expr, err, tt.want)
		}
	}
}

func TestErrorsFormat(t *testing.T) {
	errs := Errors{
		{Problem: Problem{File: "a.cfg", Line: 3, Column: 5, Key: "server.inet", Msg: "bad"}},
		{Problem: Problem{File: "a.cfg", Key: "branding", Msg: "missing"}},
		{Problem: Problem{File: "a.cfg", Line: 7, Msg: "no key"}},
	}
	want := "a.cfg:3:5: server.inet: bad\na.cfg: branding: missing\na.cfg:7: no key"
	if got := errs.Error(); got != want {
		t.Errorf("Errors.Error() = %q, want %q", got, want)
	}
	var target *Error
	if !errors.As(error(errs), &target) || target.Key != "server.inet" {
		t.Errorf("errors.As(Errors, *Error) = %v", target)
	}
}

func TestKeyPaths(t *testing.T) {
	tests := []struct{ path, parent string }{
		{"probe.service[1].node[0].replicas[2]", "probe.service[1].node[0].replicas"},
		{"probe.service[1].node[0].replicas", "probe.service[1].node[0]"},
		{`probe.service[0].node[0].http_headers."X.Y Z"`, "probe.service[0].node[0].http_headers"},
		{`a."b.c".d`, `a."b.c"`},
		{"server", ""},
	}
	for _, tt := range tests {
		if got := keyParent(tt.path); got != tt.parent {
			t.Errorf("keyParent(%q) = %q, want %q", tt.path, got, tt.parent)
		}
	}
	if got, want := genericKey(`probe.service[1].node[0]."a b"`), []string{"probe", "service", "node", "a b"}; !slices.Equal(got, want) {
		t.Errorf("genericKey = %q, want %q", got, want)
	}
}

func TestPathPrefix(t *testing.T) {
	for _, tt := range []struct {
		prefix, want, err string
	}{
		{prefix: "/status", want: "/status"},
		{prefix: "/status/", want: "/status"},
		{prefix: "/", want: ""},
		{prefix: "status", err: `"status" must start with / (such as "/status")`},
		{prefix: "/a/../b", err: `"/a/../b" is not a clean path: write "/b"`},
		{prefix: "/st atus", err: `"/st atus" must be a plain path, without ?, #, %, \ or spaces`},
	} {
		text := strings.Replace(readTestdata(t, "minimal.cfg"), "[server]\n", fmt.Sprintf("[server]\npath_prefix = %q\n", tt.prefix), 1)
		cfg, _, err := Parse("test.cfg", []byte(text), noEnv)
		switch {
		case tt.err != "":
			if err == nil || !strings.Contains(err.Error(), "server.path_prefix: "+tt.err) {
				t.Errorf("path_prefix %q: error %v, want %s", tt.prefix, err, tt.err)
			}
		case err != nil:
			t.Errorf("path_prefix %q: %v", tt.prefix, err)
		case cfg.Server.PathPrefix != tt.want:
			t.Errorf("path_prefix %q = %q, want %q", tt.prefix, cfg.Server.PathPrefix, tt.want)
		}
	}
}

func TestNotifyChannels(t *testing.T) {
	base := readTestdata(t, "minimal.cfg") + "\n[notify.slack]\nhook_url = \"https://hooks.slack.com/services/x\"\n"
	route := func(v string) string {
		return strings.Replace(base, `mode = "poll"`, "mode = \"poll\"\nnotify_channels = "+v, 1)
	}
	_, warns, err := Parse("test.cfg", []byte(route(`["slack", "email"]`)), noEnv)
	if err != nil {
		t.Fatal(err)
	}
	checkWarnings(t, warns, []string{
		`test.cfg:25:29: probe.service[0].node[0].notify_channels[1]: [notify.email] is not configured: nothing goes out through it`,
	})
	_, warns, err = Parse("test.cfg", []byte(route(`[]`)), noEnv)
	if err != nil {
		t.Fatal(err)
	}
	checkWarnings(t, warns, []string{`test.cfg:25:19: probe.service[0].node[0].notify_channels: empty: this node's alerts go to no channel`})
	_, _, err = Parse("test.cfg", []byte(route(`["mattermost"]`)), noEnv)
	if want := `test.cfg:25:20: probe.service[0].node[0].notify_channels[0]: unknown channel "mattermost" (want email, twilio, slack, zulip, telegram, pushover, gotify, xmpp, matrix, webex, webhook, pagerduty, opsgenie, discord, teams, ntfy)`; err == nil || err.Error() != want {
		t.Errorf("unknown channel: error %v, want %s", err, want)
	}
}

func TestTimeZone(t *testing.T) {
	for _, tt := range []struct {
		zone, want, err string
	}{
		{zone: "", want: "UTC"},
		{zone: "Asia/Shanghai", want: "Asia/Shanghai"},
		{zone: "Mars/Olympus", err: `unknown time zone "Mars/Olympus"`},
		{zone: "Local", err: `unknown time zone "Local"`},
	} {
		text := strings.Replace(readTestdata(t, "minimal.cfg"), "[branding]\n", fmt.Sprintf("[branding]\ntime_zone = %q\n", tt.zone), 1)
		cfg, _, err := Parse("test.cfg", []byte(text), noEnv)
		switch {
		case tt.err != "":
			if err == nil || !strings.Contains(err.Error(), "branding.time_zone: "+tt.err) {
				t.Errorf("time_zone %q: error %v, want %s", tt.zone, err, tt.err)
			}
		case err != nil:
			t.Errorf("time_zone %q: %v", tt.zone, err)
		case cfg.Branding.Location.String() != tt.want:
			t.Errorf("time_zone %q: location %v, want %s", tt.zone, cfg.Branding.Location, tt.want)
		}
	}
}

// TestColorScheme: every scheme of the list is accepted, "auto" is the
// default, and anything else is an error at its line naming the choices.
func TestColorScheme(t *testing.T) {
	minimal := readTestdata(t, "minimal.cfg")
	cfg := mustParse(t, minimal, noEnv)
	if cfg.Branding.ColorScheme != "auto" {
		t.Errorf("default color_scheme = %q, want auto", cfg.Branding.ColorScheme)
	}
	for _, scheme := range ColorSchemes {
		text := strings.Replace(minimal, "[branding]\n", fmt.Sprintf("[branding]\ncolor_scheme = %q\n", scheme), 1)
		if cfg := mustParse(t, text, noEnv); cfg.Branding.ColorScheme != scheme {
			t.Errorf("color_scheme %q read as %q", scheme, cfg.Branding.ColorScheme)
		}
	}
	for _, bad := range []string{"Dark", "night", ""} {
		text := strings.Replace(minimal, "[branding]\n", fmt.Sprintf("[branding]\ncolor_scheme = %q\n", bad), 1)
		_, _, err := Parse("test.cfg", []byte(text), noEnv)
		want := fmt.Sprintf(`test.cfg:6:16: branding.color_scheme: unknown colour scheme %q (want auto, light or dark)`, bad)
		if err == nil || err.Error() != want {
			t.Errorf("color_scheme %q: error %v, want %s", bad, err, want)
		}
	}
}

// TestLogoColorWarning: a logo_color the page cannot read (a CSS name)
// still starts, with a warning at its line; hex colours do not warn.
func TestLogoColorWarning(t *testing.T) {
	minimal := readTestdata(t, "minimal.cfg")
	text := strings.Replace(minimal, `logo_color = "#1972F5"`, `logo_color = "rebeccapurple"`, 1)
	_, warns, err := Parse("test.cfg", []byte(text), noEnv)
	if err != nil {
		t.Fatal(err)
	}
	checkWarnings(t, warns, []string{`test.cfg:10:14: branding.logo_color: colour "rebeccapurple": want #rrggbb or #rgb: the support button keeps white text, whose contrast cannot be checked`})
	for _, ok := range []string{"#639", "#663399"} {
		text := strings.Replace(minimal, `logo_color = "#1972F5"`, fmt.Sprintf("logo_color = %q", ok), 1)
		if _, warns, err := Parse("test.cfg", []byte(text), noEnv); err != nil || len(warns) != 0 {
			t.Errorf("logo_color %q: %v, warnings %v; want neither", ok, err, warns)
		}
	}
}

// sectionOf returns the configured channel section of type *T.
func sectionOf[T any](t *testing.T, cfg *Config) *T {
	t.Helper()
	for _, s := range cfg.Notify.Channels {
		if v, ok := any(s).(*T); ok {
			return v
		}
	}
	t.Fatalf("no %T section configured", new(T))
	return nil
}

// TestReplicaPasswordNotInMessages checks that check-config's messages
// about a replica URL do not print its password.
func TestReplicaPasswordNotInMessages(t *testing.T) {
	text := strings.Replace(readTestdata(t, "minimal.cfg"), `replicas = ["https://example.com/"]`,
		`replicas = ["https://ops:hunter2@example.com/", "https://ops:hunter2@example.com/", "tcp://ops:hunter2@db:5432", "http://ops:hunter2@ho st/"]`, 1)
	text = strings.Replace(text, "[probe]", "[storage]\ndriver = \"postgres\"\nurl = \"postgres://vigil:hunter2@db host/vigil\"\n\n[probe]", 1)
	_, warns, err := Parse("test.cfg", []byte(text), noEnv)
	var all []string
	for _, w := range warns {
		all = append(all, w.String())
	}
	if err != nil {
		all = append(all, err.Error())
	}
	out := strings.Join(all, "\n")
	if strings.Count(out, "xxxxx") != 4 || strings.Contains(out, "hunter2") || !strings.Contains(out, "ops:xxxxx@") {
		t.Errorf("messages should name the replicas and storage url with their password redacted:\n%s", out)
	}
}

func TestFrameAncestors(t *testing.T) {
	for _, tt := range []struct{ value, err string }{
		{`["'self'", "https://a.example.com", "https:"]`, ""},
		{`["'none'"]`, ""},
		{`["self"]`, `server.frame_ancestors[0]: invalid source "self": write "'self'", with the single quotes`},
		{`["https://a.example.com; script-src *"]`, `server.frame_ancestors[0]: invalid source "https://a.example.com; script-src *"`},
		{`["'none'", "https://a.example.com"]`, `server.frame_ancestors[0]: 'none' cannot be combined with other sources`},
	} {
		text := strings.Replace(readTestdata(t, "minimal.cfg"), "[server]\n", "[server]\nframe_ancestors = "+tt.value+"\n", 1)
		_, _, err := Parse("test.cfg", []byte(text), noEnv)
		switch {
		case tt.err == "" && err != nil:
			t.Errorf("frame_ancestors = %s: %v", tt.value, err)
		case tt.err != "" && (err == nil || !strings.Contains(err.Error(), tt.err)):
			t.Errorf("frame_ancestors = %s: error %v, want %s", tt.value, err, tt.err)
		}
	}
}

// TestEmailNeverSends checks that check-config refuses an email channel
// that could never send, and accepts any page title in the From header.
func TestEmailNeverSends(t *testing.T) {
	email := func(to, title string) string {
		text := strings.Replace(readTestdata(t, "minimal.cfg"), "[probe]", fmt.Sprintf("[notify.email]\nto = %q\nfrom = \"alerts@example.com\"\n\n[probe]", to), 1)
		return strings.Replace(text, "[branding]\n", fmt.Sprintf("[branding]\npage_title = %q\n", title), 1)
	}
	_, _, err := Parse("test.cfg", []byte(email("undisclosed-recipients:;", "Status")), noEnv)
	if want := `notify.email.to: invalid address list "undisclosed-recipients:;": no recipient in it`; err == nil || !strings.Contains(err.Error(), want) {
		t.Errorf("to naming nobody: error %v, want %s", err, want)
	}
	mustParse(t, email("ops@example.com", `Crisp "Status`), noEnv)
}

// TestEmailToArray accepts [notify.email] to as an array of addresses, and
// names a bad element with its line.
func TestEmailToArray(t *testing.T) {
	with := func(to string) string {
		return strings.Replace(readTestdata(t, "minimal.cfg"), "[probe]", "[notify.email]\nto = "+to+"\nfrom = \"alerts@example.com\"\n\n[probe]", 1)
	}
	cfg := mustParse(t, with(`["ops@example.com", "On Call <oncall@example.com>"]`), noEnv)
	chs, err := notify.Build(cfg.Notify.Channels, notify.Options{})
	if err != nil || len(chs) != 1 || len(chs[0].Targets) != 2 {
		t.Fatalf("Build = %+v, %v; want the email channel with two targets", chs, err)
	}
	_, _, err = Parse("test.cfg", []byte(with(`["ops@example.com", 3]`)), noEnv)
	if want := "notify.email.to: to[1]: want a string, got int64"; err == nil || !strings.Contains(err.Error(), want) {
		t.Errorf("to with a number: %v, want an error containing %q", err, want)
	}
}

// TestNodeChecks checks that each per-node check key overrides its
// [metrics] value on its node only, and that a node without them takes
// [metrics]'s.
func TestNodeChecks(t *testing.T) {
	cfg, _, err := Load(filepath.Join("testdata", "full.cfg"), noEnv)
	if err != nil {
		t.Fatal(err)
	}
	var router, lb *Node
	for si := range cfg.Probe.Services {
		for ni := range cfg.Probe.Services[si].Nodes {
			switch n := &cfg.Probe.Services[si].Nodes[ni]; n.ID {
			case "router":
				router = n
			case "load-balancer":
				lb = n
			}
		}
	}
	if router == nil || lb == nil {
		t.Fatal("full.cfg lacks the router or load-balancer node")
	}
	m := cfg.Metrics
	got := router.Checks(m)
	want := Checks{
		PollInterval: 30 * time.Second, ScriptInterval: m.ScriptInterval.Duration(), PollRetry: 1,
		PollRetryWait: 200 * time.Millisecond, PollDelayDead: 5 * time.Second, PollDelaySick: 2 * time.Second,
		TLSExpirySick: 21 * 24 * time.Hour, FailureThreshold: 3, SuccessThreshold: 2, FollowRedirects: true,
		ICMPCount: 5, ICMPLossDeadAbove: 0.2, ICMPLossSickAbove: 0.1,
	}
	if got != want {
		t.Errorf("router checks = %+v\nwant %+v", got, want)
	}
	def := lb.Checks(m)
	wantDef := Checks{
		PollInterval: m.PollInterval.Duration(), ScriptInterval: 600 * time.Second, PollRetry: m.PollRetry,
		PollRetryWait: m.PollRetryWait.Duration(), PollDelayDead: m.PollDelayDead.Duration(), PollDelaySick: m.PollDelaySick.Duration(),
		TLSExpirySick: time.Duration(m.PollTLSExpirySickDays) * 24 * time.Hour, FailureThreshold: m.FailureThreshold,
		SuccessThreshold: m.SuccessThreshold, ICMPCount: 1, ICMPLossDeadAbove: DefaultICMPLossDeadAbove, ICMPLossSickAbove: DefaultICMPLossSickAbove,
	}
	if def != wantDef {
		t.Errorf("load-balancer checks = %+v\nwant %+v ([metrics]'s but its own script_interval)", def, wantDef)
	}
	if !router.Notifies(EventSick) || lb.Notifies(EventSick) || !lb.Notifies(EventRecovered) {
		t.Errorf("notify_on: router sick %v, load-balancer sick %v recovered %v; want true, false, true",
			router.Notifies(EventSick), lb.Notifies(EventSick), lb.Notifies(EventRecovered))
	}
}

// TestEveryKindParses parses a replica URL of every scheme of the table of
// check kinds, and checks that the message listing the schemes names them
// all.
func TestEveryKindParses(t *testing.T) {
	for _, k := range kinds {
		for _, scheme := range k.schemes {
			id := scheme + "://" + strings.ReplaceAll(k.example, "port", "443") // an example, made concrete
			target, _, err := parseTarget(id)
			if err != nil || target.Kind != k.kind {
				t.Errorf("parseTarget(%q) = %v, %v; want kind %s", id, target.Kind, err, k.kind)
			}
			if !strings.Contains(schemeList(), scheme) {
				t.Errorf("the scheme list %q lacks %s", schemeList(), scheme)
			}
		}
	}
}
