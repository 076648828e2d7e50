package config

import (
	"slices"
	"strings"
	"testing"

	"github.com/vigil-go/vigil/internal/config/configtest"
)

// diffBase is a config every case of TestDiff edits: two services, a poll
// node, a push node and a slack channel.
const diffBase = `
[server]
manager_token = "manager"
reporter_token = "reporter"
inet = "127.0.0.1:8080"

` + configtest.Branding + `
[metrics]
poll_interval = 60

[notify]
reminder_interval = 600

[notify.slack]
hook_url = "https://hooks.slack.com/services/x"

[[probe.service]]
id = "web"
label = "Web"

[[probe.service.node]]
id = "api"
label = "API"
mode = "poll"
replicas = ["https://example.com/"]

[[probe.service.node]]
id = "workers"
label = "Workers"
mode = "push"

[[probe.service]]
id = "db"
label = "Database"

[[probe.service.node]]
id = "main"
label = "Main"
mode = "poll"
replicas = ["tcp://127.0.0.1:5432"]
`

func parseDiffConfig(t *testing.T, text string) *Config {
	t.Helper()
	cfg, _, err := Parse("test.cfg", []byte(text), noEnv)
	if err != nil {
		t.Fatalf("Parse: %v\n%s", err, text)
	}
	return cfg
}

func TestDiff(t *testing.T) {
	// edit returns diffBase with old replaced by new (which must be there).
	edit := func(pairs ...string) string {
		s := diffBase
		for i := 0; i < len(pairs); i += 2 {
			if !strings.Contains(s, pairs[i]) {
				t.Fatalf("diffBase has no %q", pairs[i])
			}
			s = strings.Replace(s, pairs[i], pairs[i+1], 1)
		}
		return s
	}
	cases := []struct {
		name    string
		text    string
		want    Changes
		restart bool
	}{
		{name: "nothing", text: diffBase},
		{name: "comment and order of keys only", text: edit(`label = "API"`+"\n"+`mode = "poll"`, `mode = "poll"`+"\n# a comment\n"+`label = "API"`)},
		{name: "token", text: edit(`manager_token = "manager"`, `manager_token = "other"`),
			want: Changes{Keys: []string{"server.manager_token"}}},
		{name: "inet needs a restart", text: edit(`inet = "127.0.0.1:8080"`, `inet = "127.0.0.1:9090"`),
			want: Changes{Keys: []string{"server.inet"}, Restart: []string{"server.inet"}}, restart: true},
		{name: "storage and branding", text: edit(`[metrics]`, "[storage]\npath = \"./other.db\"\n\n[metrics]", `page_url = "https://status.example.com"`, `page_url = "https://status.example.org"`),
			want: Changes{Keys: []string{"branding.page_url", "storage.path"}, Restart: []string{"storage.path"}}, restart: true},
		{name: "global interval", text: edit(`poll_interval = 60`, `poll_interval = 30`),
			want: Changes{Keys: []string{"metrics.poll_interval"}}},
		{name: "parallelism", text: edit(`poll_interval = 60`, "poll_interval = 60\npoll_parallelism = 9"),
			want: Changes{Keys: []string{"metrics.poll_parallelism"}, Restart: []string{"metrics.poll_parallelism"}}, restart: true},
		{name: "cluster", text: edit(`[metrics]`, "[cluster]\nheartbeat_interval = 9\n\n[metrics]"),
			want: Changes{Keys: []string{"cluster.heartbeat_interval"}, Restart: []string{"cluster.heartbeat_interval"}}, restart: true},
		{name: "reminders", text: edit(`reminder_interval = 600`, `reminder_interval = 300`),
			want: Changes{Keys: []string{"notify.reminder_interval"}}},
		{name: "channel key", text: edit(`services/x"`, `services/y"`),
			want: Changes{Keys: []string{"notify.slack.hook_url"}}},
		{name: "channel added", text: edit(`[[probe.service]]`, "[notify.webhook]\nhook_url = \"https://example.com/hook\"\n\n[[probe.service]]"),
			want: Changes{Keys: []string{"notify.webhook"}}},
		{name: "channel removed", text: edit(`[notify.slack]`+"\n"+`hook_url = "https://hooks.slack.com/services/x"`, ``),
			want: Changes{Keys: []string{"notify.slack"}}},
		{name: "notify removed needs a restart",
			text: edit(`[notify]`+"\n"+`reminder_interval = 600`, ``, `[notify.slack]`+"\n"+`hook_url = "https://hooks.slack.com/services/x"`, ``),
			want: Changes{Keys: []string{"notify"}, Restart: []string{"notify"}}, restart: true},
		{name: "rabbitmq plugin added", text: edit(`[metrics]`, "[plugins.rabbitmq]\napi_url = \"http://127.0.0.1:15672\"\nauth_username = \"u\"\nauth_password = \"p\"\nvirtualhost = \"/\"\nqueue_ready_healthy_below = 1\nqueue_nack_healthy_below = 1\nqueue_ready_dead_above = 2\nqueue_nack_dead_above = 2\n\n[metrics]"),
			want: Changes{Keys: []string{"plugins.rabbitmq"}}},
		{name: "node added", text: edit(`[[probe.service]]`+"\n"+`id = "db"`, "[[probe.service.node]]\nid = \"cdn\"\nlabel = \"CDN\"\nmode = \"poll\"\nreplicas = [\"https://cdn.example.com/\"]\n\n[[probe.service]]\nid = \"db\""),
			want: Changes{Added: []string{"web:cdn"}}},
		{name: "service removed", text: edit(`[[probe.service]]`+"\n"+`id = "db"`+"\n"+`label = "Database"`, `#`, `[[probe.service.node]]`+"\n"+`id = "main"`+"\n"+`label = "Main"`+"\n"+`mode = "poll"`+"\n"+`replicas = ["tcp://127.0.0.1:5432"]`, ``),
			want: Changes{Removed: []string{"db:main"}}},
		{name: "node's interval", text: edit(`replicas = ["https://example.com/"]`, "replicas = [\"https://example.com/\"]\npoll_interval = 15"),
			want: Changes{Changed: []string{"web:api"}}},
		{name: "node's body expectation", text: edit(`replicas = ["https://example.com/"]`, "replicas = [\"https://example.com/\"]\nhttp_body_healthy_match = \"ok\""),
			want: Changes{Changed: []string{"web:api"}}},
		{name: "replica added to a node", text: edit(`replicas = ["https://example.com/"]`, `replicas = ["https://example.com/", "https://example.net/"]`),
			want: Changes{Changed: []string{"web:api"}}},
		{name: "service label changes its nodes", text: edit(`label = "Database"`, `label = "DB"`),
			want: Changes{Changed: []string{"db:main"}}},
		{name: "node renamed is removed and added", text: edit(`id = "workers"`, `id = "jobs"`),
			want: Changes{Added: []string{"web:jobs"}, Removed: []string{"web:workers"}}},
	}
	old := parseDiffConfig(t, diffBase)
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got := Diff(old, parseDiffConfig(t, tc.text))
			check := func(what string, got, want []string) {
				if !slices.Equal(got, want) {
					t.Errorf("%s = %q, want %q", what, got, want)
				}
			}
			check("Keys", got.Keys, tc.want.Keys)
			check("Restart", got.Restart, tc.want.Restart)
			check("Added", got.Added, tc.want.Added)
			check("Removed", got.Removed, tc.want.Removed)
			check("Changed", got.Changed, tc.want.Changed)
			if got.Empty() != tc.want.Empty() {
				t.Errorf("Empty() = %v", got.Empty())
			}
			for _, k := range got.Keys {
				if ApplyOf(k) == 0 {
					t.Errorf("changed key %s is not classified", k)
				}
			}
		})
	}
}

// TestEveryKeyIsClassified walks every key the config accepts (Config's
// and every registered channel's toml tags) and fails on one a reload
// would not know how to apply: place a new key in applies or tables.
func TestEveryKeyIsClassified(t *testing.T) {
	s := newSchema()
	n := 0
	for table, keys := range s.keys {
		for _, k := range keys {
			path := strings.TrimPrefix(table+"."+k, ".")
			if _, isTable := s.keys[path]; isTable && ApplyOf(path) == 0 {
				continue // a table whose keys are classified one by one
			}
			n++
			if ApplyOf(path) == 0 {
				t.Errorf("%s: not classified as live or restart in diff.go", path)
			}
		}
	}
	if n < 100 {
		t.Errorf("only %d keys walked: the schema walk is broken", n)
	}
	// And nothing is classified that the config does not accept.
	for path := range applies {
		table, key := keyParentPath(path), path[strings.LastIndexByte(path, '.')+1:]
		if !slices.Contains(s.keys[table], key) {
			t.Errorf("applies lists %s, which is no key of the config", path)
		}
	}
	for path := range tables {
		if _, ok := s.keys[path]; !ok {
			t.Errorf("tables lists %s, which is no table of the config", path)
		}
	}
}

func TestApplyOf(t *testing.T) {
	for path, want := range map[string]Apply{
		"server.inet":                   Restart,
		"server.manager_token":          Live,
		"storage.path":                  Restart,
		"cluster.node_id":               Restart,
		"notify":                        Restart,
		"notify.reminder_interval":      Live,
		"notify.slack.hook_url":         Live,
		"notify.email":                  Live,
		"probe.service.node.replicas":   Live,
		"plugins.rabbitmq.api_url":      Live,
		"server.no_such_key":            0,
		"metrics.poll_parallelism":      Restart,
		"branding.page_title":           Live,
		"probe.service.node.notify_on":  Live,
		"notify.heartbeat_url":          Restart,
		"server.request_body_timeout":   Live,
		"server.watch_config":           Live,
		"metrics.script_parallelism":    Restart,
		"storage.retention_outbox":      Restart,
		"cluster.confirmations":         Restart,
		"notify.webhook.hook_url":       Live,
		"probe.service.label":           Live,
		"server.max_connections":        Restart,
		"server.metrics_enabled":        Restart,
		"server.log_level":              Live,
		"notify.outbox_max_age":         Restart,
		"notify.startup_notification":   Live,
		"metrics.push_replica_expire":   Live,
		"branding.time_zone":            Live,
		"server.probe_source_address":   Live,
		"probe.service.node.tcp_expect": Live,
	} {
		if got := ApplyOf(path); got != want {
			t.Errorf("ApplyOf(%s) = %v, want %v", path, got, want)
		}
	}
}

func TestEffectiveKeepsRestartKeys(t *testing.T) {
	old := parseDiffConfig(t, diffBase)
	text := strings.NewReplacer(
		`inet = "127.0.0.1:8080"`, `inet = "127.0.0.1:9090"`,
		`manager_token = "manager"`, `manager_token = "other"`,
		`reminder_interval = 600`, "reminder_interval = 300\noutbox_max_age = 60",
		`poll_interval = 60`, "poll_interval = 30\npoll_parallelism = 9",
	).Replace(diffBase) + "\n[storage]\npath = \"./other.db\"\n"
	cur := parseDiffConfig(t, text)
	c := Diff(old, cur)
	want := []string{"metrics.poll_parallelism", "notify.outbox_max_age", "server.inet", "storage.path"}
	if !slices.Equal(c.Restart, want) {
		t.Fatalf("Restart = %q, want %q", c.Restart, want)
	}
	eff := c.Effective(old, cur)
	checks := []struct {
		name      string
		got, want any
	}{
		{"inet (restart: old)", eff.Server.Inet, "127.0.0.1:8080"},
		{"storage.path (restart: old)", eff.Storage.Path, old.Storage.Path},
		{"poll_parallelism (restart: old)", eff.Metrics.PollParallelism, old.Metrics.PollParallelism},
		{"outbox_max_age (restart: old)", eff.Notify.OutboxMaxAge, old.Notify.OutboxMaxAge},
		{"manager_token (live: new)", eff.Server.ManagerToken, "other"},
		{"poll_interval (live: new)", eff.Metrics.PollInterval, Seconds(30)},
		{"reminder_interval (live: new)", *eff.Notify.ReminderInterval, Seconds(300)},
		{"cur's inet untouched", cur.Server.Inet, "127.0.0.1:9090"},
		{"cur's outbox_max_age untouched", cur.Notify.OutboxMaxAge, Seconds(60)},
		{"old's token untouched", old.Server.ManagerToken, "manager"},
	}
	for _, c := range checks {
		if c.got != c.want {
			t.Errorf("%s = %v, want %v", c.name, c.got, c.want)
		}
	}
	if eff.Notify == cur.Notify || eff.Notify == old.Notify {
		t.Error("Effective shares the [notify] it changed with a config it was given")
	}
	// [notify] removed needs a restart: the alerting keeps running.
	noNotify := parseDiffConfig(t, strings.Replace(strings.Replace(diffBase, "[notify]\nreminder_interval = 600\n", "", 1),
		"[notify.slack]\nhook_url = \"https://hooks.slack.com/services/x\"\n", "", 1))
	c = Diff(old, noNotify)
	if eff := c.Effective(old, noNotify); eff.Notify != old.Notify {
		t.Errorf("[notify] removed: Effective's = %v, want the running one", eff.Notify)
	}
}
