package config

import (
	"reflect"
	"slices"
	"strings"

	"github.com/vigil-go/vigil/internal/notify"
)

// Apply says when a changed key takes effect in a running vigil.
type Apply int

const (
	// Live keys are applied by a reload (SIGHUP, or watch_config).
	Live Apply = iota + 1
	// Restart keys are read once at start: a reload logs them as needing a
	// restart and applies the rest.
	Restart
)

func (a Apply) String() string {
	switch a {
	case Live:
		return "live"
	case Restart:
		return "restart"
	}
	return "unclassified"
}

// applies classifies every key of the config by its path in the file,
// without array indexes ("server.inet"). Keys of a table listed in tables
// take its class. A test walks every key the config accepts and fails on
// one classified neither way, so a new key must be placed here.
//
// What the web server, the monitor and the alerting read is applied by
// rebuilding them from the new config; what the listener, the logger, the
// metrics registry, the database or the cluster membership was built with
// at start needs a new process.
var applies = map[string]Apply{
	"server.log_level":                      Live,
	"server.inet":                           Restart, // the listener
	"server.max_connections":                Restart, // the listener's limit
	"server.metrics_enabled":                Restart, // the metrics registry and its hooks
	"server.workers":                        Live,    // accepted, unused
	"server.mcp_server":                     Live,
	"server.manager_token":                  Live,
	"server.reporter_token":                 Live,
	"server.probe_source_address":           Live,
	"server.metrics_token":                  Live,
	"server.path_prefix":                    Live,
	"server.frame_ancestors":                Live,
	"server.reporter_replica_id_max_bytes":  Live,
	"server.reporter_replicas_per_node_max": Live,
	"server.mcp_sessions_max":               Live,
	"server.request_body_timeout":           Live,
	"server.watch_config":                   Live,

	"assets.path": Live,

	"branding.page_title":   Live,
	"branding.color_scheme": Live,
	"branding.page_url":     Live,
	"branding.company_name": Live,
	"branding.icon_color":   Live,
	"branding.icon_url":     Live,
	"branding.logo_color":   Live,
	"branding.logo_url":     Live,
	"branding.website_url":  Live,
	"branding.support_url":  Live,
	"branding.custom_html":  Live,
	"branding.time_zone":    Live,

	"metrics.poll_interval":                  Live,
	"metrics.poll_retry":                     Live,
	"metrics.poll_retry_wait":                Live,
	"metrics.poll_http_status_healthy_above": Live,
	"metrics.poll_http_status_healthy_below": Live,
	"metrics.poll_delay_dead":                Live,
	"metrics.poll_delay_sick":                Live,
	"metrics.poll_parallelism":               Restart, // the scheduler's slots
	"metrics.push_delay_dead":                Live,
	"metrics.push_system_cpu_sick_above":     Live,
	"metrics.push_system_ram_sick_above":     Live,
	"metrics.push_replica_expire":            Live,
	"metrics.poll_tls_expiry_sick_days":      Live,
	"metrics.script_interval":                Live,
	"metrics.script_parallelism":             Restart,
	"metrics.script_timeout":                 Live,
	"metrics.local_delay_dead":               Live,
	"metrics.failure_threshold":              Live,
	"metrics.success_threshold":              Live,

	// [notify] as a whole: the alerting is built at start, or not at all.
	"notify":                           Restart,
	"notify.startup_notification":      Live, // read at each start only
	"notify.reminder_interval":         Live,
	"notify.reminder_backoff_function": Live,
	"notify.reminder_backoff_limit":    Live,
	"notify.reminder_escalate":         Live,
	"notify.outbox_max_age":            Restart, // the outbox's expiry loop
	"notify.heartbeat_url":             Restart, // the heartbeat loop
	"notify.heartbeat_interval":        Restart,

	"plugins.rabbitmq": Live, // the table itself: queue checks start or stop
}

// tables classifies whole tables: every key in them, however many, and
// the table itself. Each [notify.<channel>] is rebuilt as a whole, and so
// is each node with its probes.
var tables = func() map[string]Apply {
	t := map[string]Apply{
		"storage":          Restart, // the open database
		"cluster":          Restart, // the membership
		"subscriptions":    Restart, // the dispatcher, its outbox and mailer; mails follow [branding] and the labels live (subscribe.Service.Apply)
		"plugins.rabbitmq": Live,
		"probe":            Live,
	}
	for _, name := range notify.Names() {
		t["notify."+name] = Live
	}
	return t
}()

// ApplyOf returns the class of the key or table at path
// ("server.inet", "notify.slack.hook_url"); 0 when it is not classified.
func ApplyOf(path string) Apply {
	if a, ok := applies[path]; ok {
		return a
	}
	for p := path; p != ""; p = keyParentPath(p) {
		if a, ok := tables[p]; ok {
			return a
		}
	}
	return 0
}

// keyParentPath is path without its last dotted segment ("" at the top).
func keyParentPath(path string) string {
	i := strings.LastIndexByte(path, '.')
	if i < 0 {
		return ""
	}
	return path[:i]
}

// Changes is what a reload finds between the running config and the new
// one. Keys are paths without indexes, sorted; nodes are "service:node".
type Changes struct {
	Keys    []string // every changed key or table outside [probe], live or not
	Restart []string // those of Keys that need a restart, in Keys' order

	Added   []string // nodes only in the new config
	Removed []string // nodes only in the old one
	Changed []string // nodes in both whose keys (or service's label) differ
}

// Empty reports whether nothing changed.
func (c Changes) Empty() bool {
	return len(c.Keys) == 0 && len(c.Added) == 0 && len(c.Removed) == 0 && len(c.Changed) == 0
}

// Diff compares two validated configs key by key. It is the one place that
// decides what a reload changes: the daemon applies what it lists and logs
// the Restart keys.
func Diff(old, cur *Config) Changes {
	var c Changes
	ov, cv := reflect.ValueOf(old).Elem(), reflect.ValueOf(cur).Elem()
	for i := range configType.NumField() {
		f := configType.Field(i)
		name := tomlName(f)
		switch {
		case name == "" || name == "probe":
		case i == notifyField:
			diffNotify(&c, old.Notify, cur.Notify)
		default:
			diffValue(&c, name, ov.Field(i), cv.Field(i))
		}
	}
	diffProbe(&c, old.Probe, cur.Probe)
	slices.Sort(c.Keys)
	c.Keys = slices.Compact(c.Keys)
	for _, k := range c.Keys {
		if ApplyOf(k) == Restart {
			c.Restart = append(c.Restart, k)
		}
	}
	return c
}

// tomlName is a field's key, "" for fields not read from the file.
func tomlName(f reflect.StructField) string {
	name, _, _ := strings.Cut(f.Tag.Get("toml"), ",")
	if name == "-" {
		return ""
	}
	return name
}

// diffValue adds path, or its changed keys when it is a table, to c.Keys.
// Fields filled in by validation (toml:"-") follow from the keys.
func diffValue(c *Changes, path string, a, b reflect.Value) {
	if a.Kind() == reflect.Pointer && a.Type().Elem().Kind() == reflect.Struct {
		if a.IsNil() != b.IsNil() {
			c.Keys = append(c.Keys, path) // a table added or removed
			return
		}
		if a.IsNil() {
			return
		}
		a, b = a.Elem(), b.Elem()
	}
	if a.Kind() != reflect.Struct {
		if !reflect.DeepEqual(a.Interface(), b.Interface()) {
			c.Keys = append(c.Keys, path)
		}
		return
	}
	for i := range a.NumField() {
		f := a.Type().Field(i)
		if name := tomlName(f); name != "" && f.IsExported() {
			diffValue(c, path+"."+name, a.Field(i), b.Field(i))
		} else if f.Anonymous {
			diffValue(c, path, a.Field(i), b.Field(i)) // embedded: its keys are the table's
		}
	}
}

// diffNotify compares [notify]: its own keys, and each channel as a table.
func diffNotify(c *Changes, a, b *Notify) {
	if (a == nil) != (b == nil) {
		c.Keys = append(c.Keys, "notify")
		return
	}
	if a == nil {
		return
	}
	av, bv := reflect.ValueOf(a).Elem(), reflect.ValueOf(b).Elem()
	for i := range notifyType.NumField() {
		if i != channelsOf {
			if name := tomlName(notifyType.Field(i)); name != "" {
				diffValue(c, "notify."+name, av.Field(i), bv.Field(i))
			}
		}
	}
	byName := func(n *Notify) map[string]notify.Section {
		out := map[string]notify.Section{}
		for _, s := range n.Channels {
			out[notify.NameOf(s)] = s
		}
		return out
	}
	as, bs := byName(a), byName(b)
	for _, name := range notify.Names() {
		sa, ina := as[name]
		sb, inb := bs[name]
		switch {
		case ina != inb:
			c.Keys = append(c.Keys, "notify."+name)
		case ina:
			diffValue(c, "notify."+name, reflect.ValueOf(sa), reflect.ValueOf(sb))
		}
	}
}

// diffProbe sorts the nodes into added, removed and changed, by their
// service and node ids.
func diffProbe(c *Changes, a, b Probe) {
	type entry struct {
		svc  *Service
		node *Node
	}
	index := func(p Probe) (map[string]entry, []string) {
		m := map[string]entry{}
		var order []string
		for si := range p.Services {
			s := &p.Services[si]
			for ni := range s.Nodes {
				id := s.ID + ":" + s.Nodes[ni].ID
				m[id] = entry{s, &s.Nodes[ni]}
				order = append(order, id)
			}
		}
		return m, order
	}
	am, aOrder := index(a)
	bm, bOrder := index(b)
	for _, id := range aOrder {
		if _, ok := bm[id]; !ok {
			c.Removed = append(c.Removed, id)
		}
	}
	for _, id := range bOrder {
		old, ok := am[id]
		if !ok {
			c.Added = append(c.Added, id)
			continue
		}
		cur := bm[id]
		var keys Changes
		diffValue(&keys, "node", reflect.ValueOf(old.node).Elem(), reflect.ValueOf(cur.node).Elem())
		if len(keys.Keys) > 0 || old.svc.Label != cur.svc.Label {
			c.Changed = append(c.Changed, id)
		}
	}
}

// Effective returns the config a reload runs with: cur, with every key of
// c.Restart set back to its value in old, since what reads it was built at
// start and keeps it until a restart. old and cur are not modified.
func (c Changes) Effective(old, cur *Config) *Config {
	out := *cur
	for _, key := range c.Restart {
		if dst, src, ok := fieldAt(reflect.ValueOf(&out).Elem(), reflect.ValueOf(old).Elem(), key); ok {
			dst.Set(src)
		}
	}
	return &out
}

// fieldAt finds the field at key in dst and in src, the same struct type.
// A table dst reaches through a pointer is copied first, so that setting
// the field leaves the config it was copied from unchanged.
func fieldAt(dst, src reflect.Value, key string) (reflect.Value, reflect.Value, bool) {
	for seg := range strings.SplitSeq(key, ".") {
		if dst.Kind() == reflect.Pointer {
			if dst.IsNil() || src.IsNil() {
				return dst, src, false
			}
			cp := reflect.New(dst.Type().Elem())
			cp.Elem().Set(dst.Elem())
			dst.Set(cp)
			dst, src = dst.Elem(), src.Elem()
		}
		i := fieldByKey(dst.Type(), seg)
		if i < 0 {
			return dst, src, false
		}
		dst, src = dst.Field(i), src.Field(i)
	}
	return dst, src, dst.CanSet()
}

// fieldByKey returns the index of the field of struct t whose toml key is
// key, or -1.
func fieldByKey(t reflect.Type, key string) int {
	if t.Kind() != reflect.Struct {
		return -1
	}
	for i := range t.NumField() {
		if tomlName(t.Field(i)) == key {
			return i
		}
	}
	return -1
}
