package config

import (
	"errors"
	"fmt"
	"net/http"
	"net/netip"
	"net/url"
	"path"
	"regexp"
	"slices"
	"strings"
	"time"
	_ "time/tzdata" // time_zone works on hosts without a zone database

	"github.com/vigil-go/vigil/internal/contrast"
	"github.com/vigil-go/vigil/internal/notify"
	"github.com/vigil-go/vigil/internal/status"
)

// checker collects the problems of one config file. Keys are paths such as
// probe.service[1].node[0].mode; a problem is placed at its key when the key
// is written in the file, else at the closest enclosing table.
type checker struct {
	src   *source
	ix    *keyIndex
	errs  Errors
	warns []Warning
}

// errorf records an error with key. Like every problem with a written
// value, it points at the value (see keyIndex.find).
func (c *checker) errorf(key, format string, args ...any) {
	c.errs = append(c.errs, &Error{Problem: c.src.problem(c.ix.find(key), key, fmt.Sprintf(format, args...))})
}

// keyErrorf is errorf for a problem with the key's own name rather than
// its value: it points at the key.
func (c *checker) keyErrorf(key, format string, args ...any) {
	off, ok := c.ix.pos[key]
	if !ok {
		off = c.ix.find(key)
	}
	c.errs = append(c.errs, &Error{Problem: c.src.problem(off, key, fmt.Sprintf(format, args...))})
}

func (c *checker) fail(key string, err error) {
	c.errs = append(c.errs, &Error{Problem: c.src.problem(c.ix.find(key), key, err.Error()), Err: err})
}

func (c *checker) warnf(key, format string, args ...any) {
	c.warns = append(c.warns, Warning{c.src.problem(c.ix.find(key), key, fmt.Sprintf(format, args...))})
}

// has reports whether key is written in the file (as opposed to defaulted).
func (c *checker) has(key string) bool { return c.ix.has(key) }

// line is the line key is on, for messages that point at a second place.
func (c *checker) line(key string) int { return c.src.problem(c.ix.find(key), "", "").Line }

// required checks that a required string key is present and not empty.
func (c *checker) required(key, val string) bool {
	switch {
	case val != "":
		return true
	case c.has(key):
		c.errorf(key, "must not be empty")
	default:
		c.errorf(key, "missing required key")
	}
	return false
}

// secret checks a key that holds a credential (a token, a password, a URL
// with a key in it) and reports whether it is usable. A reference to an unset
// variable would leave "${NAME}" itself as the credential, a string anyone
// can read in the README; an empty or blank one guards nothing. So both are
// errors, where other keys keep the reference as written. An optional
// credential may be left out, but not written empty: an empty variable
// would otherwise turn the guard off without a word.
func (c *checker) secret(key, val string, required bool) bool {
	if name := c.src.unsetIn(val); name != "" {
		c.errorf(key, "environment variable %s is not set: a credential must not be the literal ${%s}", name, name)
		return false
	}
	switch {
	case val == "" && required:
		return c.required(key, val)
	case val == "" && c.has(key):
		c.errorf(key, "must not be empty (leave the key out to go without)")
		return false
	case val != "" && strings.TrimSpace(val) == "":
		c.errorf(key, "must not be blank: it is a credential")
		return false
	}
	return val != ""
}

// requiredList checks that a required array of strings has non-empty elements.
func (c *checker) requiredList(key string, vals []string) {
	switch {
	case len(vals) > 0:
	case c.has(key):
		c.errorf(key, "must not be empty")
	default:
		c.errorf(key, "missing required key")
	}
	for i, v := range vals {
		if v == "" {
			c.errorf(keyIndexed(key, i), "must not be empty")
		}
	}
}

// url checks an URL-typed key: absolute, and with a host for http(s). An
// empty value is left to required. Messages show it without its password.
func (c *checker) url(key, raw string) *url.URL {
	if raw == "" {
		return nil
	}
	val := status.Redacted(raw)
	u, err := url.Parse(raw)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		c.errorf(key, "invalid url %q: %v", val, err)
		return nil
	}
	if u.Scheme == "" {
		c.errorf(key, "url %q is not absolute (want a scheme and a host, such as https://status.example.com/)", val)
		return nil
	}
	if (u.Scheme == "http" || u.Scheme == "https") && u.Hostname() == "" {
		c.errorf(key, "url %q has no host", val)
		return nil
	}
	return u
}

// nonNegative checks a count or duration that Vigil stores unsigned.
func (c *checker) nonNegative(key string, v int64) {
	if v < 0 {
		c.errorf(key, "must not be negative, got %d", v)
	}
}

// atLeastOne checks a bound that 0 would turn into "refuse everything".
func (c *checker) atLeastOne(key string, v int64) {
	if v < 1 {
		c.errorf(key, "must be at least 1, got %d", v)
	}
}

func (c *checker) validate(cfg *Config) {
	c.validateServer(&cfg.Server)
	if c.has("assets.path") && cfg.Assets.Path == "" {
		c.errorf("assets.path", "must not be empty")
	}
	c.validateBranding(&cfg.Branding)
	c.validateMetrics(&cfg.Metrics)
	c.validateRabbitMQ(cfg.Plugins.RabbitMQ)
	c.validateNotify(cfg.Notify, cfg.Branding.PageTitle)
	c.validateProbe(cfg)
	c.validateStorage(&cfg.Storage)
	c.validateCluster(cfg)
	c.validateSubscriptions(cfg)
}

func (c *checker) validateStorage(s *Storage) {
	const k = "storage."
	switch s.Driver {
	case "sqlite":
		if s.Path == "" {
			c.errorf(k+"path", "must not be empty: it is the SQLite database file")
		}
		if s.URL != "" {
			c.warnf(k+"url", "ignored with driver = \"sqlite\" (set driver = \"postgres\" to use it)")
		}
	case "postgres":
		if c.secret(k+"url", s.URL, true) && strings.Contains(s.URL, "://") {
			if u := c.url(k+"url", s.URL); u != nil && u.Scheme != "postgres" && u.Scheme != "postgresql" {
				c.errorf(k+"url", "scheme %q is not PostgreSQL's (want postgres://user@host:5432/database)", u.Scheme)
			}
		}
	default:
		c.errorf(k+"driver", "unknown driver %q (want sqlite or postgres)", s.Driver)
	}
	for _, f := range []struct {
		key string
		v   Seconds
	}{
		{"retention_minute_samples", s.RetentionMinuteSamples},
		{"retention_hour_samples", s.RetentionHourSamples},
		{"retention_changes", s.RetentionChanges},
		{"retention_incidents", s.RetentionIncidents},
		{"retention_outbox", s.RetentionOutbox},
	} {
		if f.v < 1 {
			c.errorf(k+f.key, "must be at least 1 (seconds), got %d", f.v)
		}
	}
}

func (c *checker) validateCluster(cfg *Config) {
	const k = "cluster."
	cl := &cfg.Cluster
	c.nonNegative(k+"confirmations", int64(cl.Confirmations))
	if cl.HeartbeatInterval < 1 {
		c.errorf(k+"heartbeat_interval", "must be at least 1 (seconds), got %d", cl.HeartbeatInterval)
	}
	if cl.MemberTimeout <= cl.HeartbeatInterval {
		c.errorf(k+"member_timeout", "must be longer than heartbeat_interval (%d s), got %d", cl.HeartbeatInterval, cl.MemberTimeout)
	}
	if !cl.Enabled {
		return
	}
	if cfg.Storage.Driver != "postgres" {
		c.errorf(k+"enabled", "cluster mode needs the PostgreSQL backend: set [storage] driver = \"postgres\" and url, the database every member shares")
	}
}

func (c *checker) validateServer(s *Server) {
	if !c.has("server") {
		c.errorf("server", "missing required section [server]")
		return
	}
	s.LogLevel = strings.ToLower(s.LogLevel)
	switch s.LogLevel {
	case "off", "error", "warn", "info", "debug", "trace":
	default:
		c.errorf("server.log_level", "unknown log level %q (want off, error, warn, info, debug or trace)", s.LogLevel)
	}
	if _, err := netip.ParseAddrPort(s.Inet); err != nil {
		c.errorf("server.inet", "invalid address %q: want a literal IP and port such as [::1]:8080 or 0.0.0.0:8080 (host names are not accepted)", s.Inet)
	}
	c.nonNegative("server.workers", int64(s.Workers))
	c.secret("server.manager_token", s.ManagerToken, true)
	c.secret("server.reporter_token", s.ReporterToken, true)
	c.secret("server.metrics_token", s.MetricsToken, false)
	if s.ProbeSourceAddress != "" {
		if _, err := netip.ParseAddr(s.ProbeSourceAddress); err != nil {
			c.errorf("server.probe_source_address", "invalid address %q: want a literal local IP such as 192.0.2.10", s.ProbeSourceAddress)
		}
	}
	if s.PathPrefix != "" {
		p := strings.TrimRight(s.PathPrefix, "/")
		clean := path.Clean("/" + p)
		switch {
		case !strings.HasPrefix(s.PathPrefix, "/"):
			c.errorf("server.path_prefix", "%q must start with / (such as \"/status\")", s.PathPrefix)
		case clean != p && p != "":
			c.errorf("server.path_prefix", "%q is not a clean path: write %q", s.PathPrefix, clean)
		case strings.ContainsAny(p, "?#%\\ "):
			c.errorf("server.path_prefix", "%q must be a plain path, without ?, #, %%, \\ or spaces", s.PathPrefix)
		}
		s.PathPrefix = p
	}
	c.validateFrameAncestors(s.FrameAncestors)
	if s.ReporterReplicaIDMaxBytes < 1 || s.ReporterReplicaIDMaxBytes > MaxReplicaIDBytes {
		c.errorf("server.reporter_replica_id_max_bytes", "must be between 1 and %d, got %d (PostgreSQL cannot index longer ids)",
			MaxReplicaIDBytes, s.ReporterReplicaIDMaxBytes)
	}
	c.atLeastOne("server.reporter_replicas_per_node_max", int64(s.ReporterReplicasPerNodeMax))
	c.nonNegative("server.max_connections", int64(s.MaxConnections))
	c.atLeastOne("server.mcp_sessions_max", int64(s.MCPSessionsMax))
	if s.RequestBodyTimeout < 1 {
		c.errorf("server.request_body_timeout", "must be at least 1 (seconds), got %d", s.RequestBodyTimeout)
	}
	if s.MetricsToken != "" && !s.MetricsEnabled {
		c.warnf("server.metrics_token", "ignored: /metrics is served only with metrics_enabled = true")
	}
}

// validateFrameAncestors checks that each entry is one CSP source
// expression, since it is pasted into the Content-Security-Policy header: a
// space, ";" or "," would add sources or directives of its own.
func (c *checker) validateFrameAncestors(sources []string) {
	for i, src := range sources {
		key := keyIndexed("server.frame_ancestors", i)
		switch {
		case src == "'self'":
		case src == "'none'":
			if len(sources) > 1 {
				c.errorf(key, "'none' cannot be combined with other sources")
			}
		case src == "self" || src == "none":
			c.errorf(key, "invalid source %q: write \"'%s'\", with the single quotes", src, src)
		case src == "" || strings.ContainsAny(src, " \t\r\n;,'\""):
			c.errorf(key, "invalid source %q: want 'self', a scheme such as https: or an origin such as https://intranet.example.com, one per element", src)
		}
	}
}

func (c *checker) validateBranding(b *Branding) {
	if !c.has("branding") {
		c.errorf("branding", "missing required section [branding]")
		return
	}
	for _, k := range []struct {
		key string
		val string
		url bool
	}{
		{"page_url", b.PageURL, true},
		{"company_name", b.CompanyName, false},
		{"icon_color", b.IconColor, false},
		{"icon_url", b.IconURL, true},
		{"logo_color", b.LogoColor, false},
		{"logo_url", b.LogoURL, true},
		{"website_url", b.WebsiteURL, true},
		{"support_url", b.SupportURL, true}, // mailto: is fine: any absolute URL is
	} {
		key := "branding." + k.key
		if c.required(key, k.val) && k.url {
			if u := c.url(key, k.val); u != nil && k.key == "page_url" {
				b.PageURL = normalizePageURL(u)
			}
		}
	}
	b.Location = time.UTC
	if b.TimeZone != "" {
		// "Local" would follow the server's TZ, which a config must not depend on.
		loc, err := time.LoadLocation(b.TimeZone)
		if err != nil || b.TimeZone == "Local" {
			c.errorf("branding.time_zone", "unknown time zone %q (want an IANA name such as \"Europe/Paris\" or \"Asia/Shanghai\")", b.TimeZone)
		} else {
			b.Location = loc
		}
	}
	if !slices.Contains(ColorSchemes, b.ColorScheme) {
		c.errorf("branding.color_scheme", "unknown colour scheme %q (want %s)", b.ColorScheme, strings.Join(ColorSchemes[:len(ColorSchemes)-1], ", ")+" or "+ColorSchemes[len(ColorSchemes)-1])
	}
	// The support button shows logo_color under text the page picks for
	// contrast; it can only do so for a colour it can read.
	if b.LogoColor != "" {
		if _, err := contrast.ParseHex(b.LogoColor); err != nil {
			c.warnf("branding.logo_color", "%v: the support button keeps white text, whose contrast cannot be checked", err)
		}
	}
}

// normalizePageURL serialises page_url the way Vigil's WHATWG URL library
// does for the cases that show: lower-case host, no default port, and a "/"
// path when the path is empty (https://status.example.com → …com/).
func normalizePageURL(u *url.URL) string {
	v := *u
	if v.Scheme == "http" || v.Scheme == "https" {
		v.Host = strings.ToLower(v.Host)
		if p := v.Port(); v.Scheme == "http" && p == "80" || v.Scheme == "https" && p == "443" {
			v.Host = strings.TrimSuffix(v.Host, ":"+p)
		}
	}
	if v.Opaque == "" && v.Host != "" && v.Path == "" {
		v.Path, v.RawPath = "/", ""
	}
	return v.String()
}

func (c *checker) validateMetrics(m *Metrics) {
	const k = "metrics."
	for _, f := range []struct {
		key string
		v   int64
	}{
		{"poll_interval", int64(m.PollInterval)},
		{"poll_retry", int64(m.PollRetry)},
		{"poll_retry_wait", int64(m.PollRetryWait)},
		{"poll_http_status_healthy_above", int64(m.PollHTTPStatusHealthyAbove)},
		{"poll_http_status_healthy_below", int64(m.PollHTTPStatusHealthyBelow)},
		{"poll_delay_sick", int64(m.PollDelaySick)},
		{"push_delay_dead", int64(m.PushDelayDead)},
		{"push_replica_expire", int64(m.PushReplicaExpire)},
		{"poll_tls_expiry_sick_days", m.PollTLSExpirySickDays},
		{"script_interval", int64(m.ScriptInterval)},
		{"local_delay_dead", int64(m.LocalDelayDead)},
	} {
		c.nonNegative(k+f.key, f.v)
	}
	c.validateThresholds(m)
	if m.PollDelayDead < 1 {
		c.errorf(k+"poll_delay_dead", "must be at least 1 (it is the timeout of poll probes, in seconds), got %d", m.PollDelayDead)
	}
	if m.PollDelaySick == 0 && c.has(k+"poll_delay_sick") {
		c.warnf(k+"poll_delay_sick", "0 makes every successful poll probe sick")
	}
	c.statusRange("metrics", c.has(k+"poll_http_status_healthy_above"), m.PollHTTPStatusHealthyAbove, m.PollHTTPStatusHealthyBelow, "")
	if m.PollParallelism < 1 {
		c.errorf(k+"poll_parallelism", "must be at least 1, got %d (with 0 no poll probe would ever run)", m.PollParallelism)
	}
	if m.ScriptParallelism < 1 {
		c.errorf(k+"script_parallelism", "must be at least 1, got %d (with 0 no script would ever run)", m.ScriptParallelism)
	}
	if m.PushSystemCPUSickAbove < 0 {
		c.errorf(k+"push_system_cpu_sick_above", "must not be negative, got %g", m.PushSystemCPUSickAbove)
	}
	if m.PushSystemRAMSickAbove < 0 {
		c.errorf(k+"push_system_ram_sick_above", "must not be negative, got %g", m.PushSystemRAMSickAbove)
	}
	switch {
	case m.ScriptTimeout < 1:
		c.errorf(k+"script_timeout", "must be at least 1 (seconds), got %d", m.ScriptTimeout)
	case m.ScriptInterval > 0 && m.ScriptTimeout > m.ScriptInterval:
		// A script may not outlive its round; the default silently follows a
		// short interval, an explicit value is worth a word.
		if c.has(k + "script_timeout") {
			c.warnf(k+"script_timeout", "%d is longer than script_interval; capped to %d", m.ScriptTimeout, m.ScriptInterval)
		}
		m.ScriptTimeout = m.ScriptInterval
	}
}

func (c *checker) validateRabbitMQ(r *RabbitMQ) {
	if r == nil {
		return
	}
	const k = "plugins.rabbitmq."
	if c.required(k+"api_url", r.APIURL) {
		c.url(k+"api_url", r.APIURL)
	}
	c.required(k+"auth_username", r.AuthUsername)
	c.secret(k+"auth_password", r.AuthPassword, true)
	c.required(k+"virtualhost", r.VirtualHost)
	for _, key := range []string{"queue_ready_healthy_below", "queue_nack_healthy_below", "queue_ready_dead_above", "queue_nack_dead_above"} {
		if !c.has(k + key) {
			c.errorf(k+key, "missing required key")
		}
	}
	if r.QueueLoadedRetryDelay != nil {
		c.nonNegative(k+"queue_loaded_retry_delay", int64(*r.QueueLoadedRetryDelay))
	}
}

func (c *checker) validateNotify(n *Notify, pageTitle string) {
	if n == nil {
		return
	}
	const k = "notify."
	switch n.ReminderBackoffFunction {
	case "none", "linear", "square", "cubic":
	default:
		c.errorf(k+"reminder_backoff_function", "unknown backoff function %q (want none, linear, square or cubic)", n.ReminderBackoffFunction)
	}
	c.nonNegative(k+"reminder_backoff_limit", int64(n.ReminderBackoffLimit))
	if n.ReminderInterval != nil {
		c.nonNegative(k+"reminder_interval", int64(*n.ReminderInterval))
	}
	if n.OutboxMaxAge == 0 && !c.has(k+"outbox_max_age") {
		n.OutboxMaxAge = 86400
	}
	if n.HeartbeatURL != "" {
		c.url(k+"heartbeat_url", n.HeartbeatURL)
	} else if c.has(k + "heartbeat_interval") {
		c.warnf(k+"heartbeat_interval", "ignored without heartbeat_url")
	}
	if n.HeartbeatInterval == 0 && !c.has(k+"heartbeat_interval") {
		n.HeartbeatInterval = 60
	}
	if n.HeartbeatInterval < 1 {
		c.errorf(k+"heartbeat_interval", "must be at least 1 (seconds), got %d", n.HeartbeatInterval)
	}
	if n.OutboxMaxAge < 1 {
		c.errorf(k+"outbox_max_age", "must be at least 1 (seconds), got %d", n.OutboxMaxAge)
	}

	for _, sec := range n.Channels {
		notify.CheckSection(sec, sectionChecker{c: c, prefix: k + notify.NameOf(sec) + ".", pageTitle: pageTitle})
	}
	if len(n.Channels) == 0 {
		c.warnf("notify", "no notifier configured ([notify.email], [notify.slack], …): nothing will be sent")
	}
}

func (c *checker) validateProbe(cfg *Config) {
	if !c.has("probe") {
		c.errorf("probe", "missing required section [probe]")
		return
	}
	if len(cfg.Probe.Services) == 0 {
		c.warnf("probe", "no [[probe.service]]: the status page will be empty")
	}
	services := map[string]string{} // id → key of its first definition
	for i := range cfg.Probe.Services {
		s := &cfg.Probe.Services[i]
		key := keyIndexed("probe.service", i)
		if c.required(key+".id", s.ID) {
			if first, ok := services[s.ID]; ok {
				c.errorf(key+".id", "duplicate service id %q (first used on line %d)", s.ID, c.line(first))
			} else {
				services[s.ID] = key + ".id"
			}
		}
		c.required(key+".label", s.Label)
		if len(s.Nodes) == 0 {
			c.warnf(key, "service has no [[probe.service.node]]")
		}
		nodes := map[string]string{}
		for j := range s.Nodes {
			n := &s.Nodes[j]
			nkey := keyIndexed(key+".node", j)
			if c.required(nkey+".id", n.ID) {
				if first, ok := nodes[n.ID]; ok {
					c.errorf(nkey+".id", "duplicate node id %q in service %q (first used on line %d)", n.ID, s.ID, c.line(first))
				} else {
					nodes[n.ID] = nkey + ".id"
				}
			}
			c.required(nkey+".label", n.Label)
			c.validateNode(cfg, nkey, n)
		}
	}
}

func (c *checker) validateNode(cfg *Config, key string, n *Node) {
	modeOK := false
	if c.required(key+".mode", n.Mode) {
		switch n.Mode {
		case "poll", "push", "script", "local":
			modeOK = true
		default:
			c.errorf(key+".mode", "unknown mode %q (want poll, push, script or local)", n.Mode)
		}
	}

	if c.has(key+".replicas") && modeOK && n.Mode != "poll" {
		c.errorf(key+".replicas", "replicas are only for mode = \"poll\", this node has mode = %q", n.Mode)
	}
	if c.has(key+".scripts") && modeOK && n.Mode != "script" {
		c.errorf(key+".scripts", "scripts are only for mode = \"script\", this node has mode = %q", n.Mode)
	}
	switch {
	case n.Mode == "poll" && len(n.Replicas) == 0:
		// Vigil accepts it; the node then shows healthy with nothing behind it.
		c.warnf(key, "poll node without replicas: nothing to probe")
	case n.Mode == "script" && len(n.Scripts) == 0:
		c.warnf(key, "script node without scripts: nothing to run")
	}
	if n.Mode == "poll" {
		c.validateReplicas(key, n)
	}

	c.validateHTTP(key, n, modeOK)
	c.validateStatusRange(key, n, cfg.Metrics)
	c.validateExchanges(key, n, modeOK)
	c.validateRoute(key, n, cfg.Notify)
	c.validateChecks(key, n, cfg.Metrics, modeOK)

	if n.LinkURL != "" {
		c.url(key+".link_url", n.LinkURL)
	}

	switch {
	case n.RabbitMQQueue != "" && modeOK && n.Mode != "push":
		c.warnf(key+".rabbitmq_queue", "only push nodes have their queue checked; ignored on a %s node", n.Mode)
	case n.RabbitMQQueue != "" && cfg.Plugins.RabbitMQ == nil:
		c.warnf(key+".rabbitmq_queue", "ignored: there is no [plugins.rabbitmq] section")
	case n.RabbitMQQueue == "":
		for _, k := range []string{"rabbitmq_queue_nack_healthy_below", "rabbitmq_queue_nack_dead_above"} {
			if c.has(key + "." + k) {
				c.warnf(key+"."+k, "ignored without rabbitmq_queue")
			}
		}
	}
}

func (c *checker) validateReplicas(key string, n *Node) {
	seen := map[string]int{}
	for i, raw := range n.Replicas {
		rkey := keyIndexed(key+".replicas", i)
		if first, ok := seen[raw]; ok {
			c.warnf(rkey, "duplicate replica %q (also replicas[%d]): probed once", status.Redacted(raw), first)
			continue
		}
		seen[raw] = i
		t, ignored, err := parseTarget(raw)
		if err != nil {
			c.fail(rkey, err)
			continue
		}
		if ignored != "" {
			c.warnf(rkey, "%s", ignored)
		}
		n.Targets = append(n.Targets, t)
	}
}

// validateHTTP checks the keys of HTTP polls and fills Headers and BodyMatch.
func (c *checker) validateHTTP(key string, n *Node, modeOK bool) {
	if modeOK && n.Mode != "poll" {
		for _, k := range []string{"http_headers", "http_method", "http_body", "http_body_healthy_match", "http_no_cache_buster",
			"poll_http_status_healthy_above", "poll_http_status_healthy_below"} {
			if c.has(key + "." + k) {
				c.warnf(key+"."+k, "only used by poll nodes; ignored on a %s node", n.Mode)
			}
		}
	}

	if len(n.HTTPHeaders) > 0 {
		n.Headers = http.Header{}
	}
	for _, name := range sortedKeys(n.HTTPHeaders) {
		hkey := keyJoin(key+".http_headers", name)
		if !validHeaderName(name) {
			c.keyErrorf(hkey, "invalid header name %q (want letters, digits and !#$%%&'*+-.^_`|~ only)", name)
			continue
		}
		var values []string
		switch v := n.HTTPHeaders[name].(type) {
		case string:
			values = []string{v}
		case []any:
			for i, el := range v {
				s, ok := el.(string)
				if !ok {
					c.errorf(keyIndexed(hkey, i), "wrong type: got %s, want a string", tomlValueType(el))
					continue
				}
				values = append(values, s)
			}
			if len(v) == 0 {
				c.errorf(hkey, "must not be an empty array")
			}
		default:
			c.errorf(hkey, "wrong type: got %s, want a string or an array of strings", tomlValueType(v))
		}
		for _, val := range values {
			if !validHeaderValue(val) {
				c.errorf(hkey, "invalid header value %q: control characters such as newlines are not allowed", val)
				continue
			}
			n.Headers.Add(name, val)
		}
	}

	method := n.HTTPMethod
	switch method {
	case "":
		method = "HEAD"
		if n.HTTPBodyHealthyMatch != "" {
			method = "GET"
		}
	case "HEAD", "GET", "POST", "PUT", "PATCH":
	default:
		hint := ""
		if up := strings.ToUpper(method); up != method && slices.Contains([]string{"HEAD", "GET", "POST", "PUT", "PATCH"}, up) {
			hint = fmt.Sprintf("; write %q", up)
		}
		c.errorf(key+".http_method", "unsupported http_method %q (want HEAD, GET, POST, PUT or PATCH, in upper case)%s", method, hint)
	}
	if n.HTTPBody != "" && (method == "HEAD" || method == "GET") {
		c.warnf(key+".http_body", "only sent with POST, PUT or PATCH; this node uses %s", method)
	}

	if c.has(key + ".http_body_healthy_match") {
		re, err := compileBodyMatch(n.HTTPBodyHealthyMatch)
		if err != nil {
			c.fail(key+".http_body_healthy_match", err)
		} else {
			n.BodyMatch = re
			if method == "HEAD" {
				c.warnf(key+".http_body_healthy_match", "HEAD responses have no body: the expression is matched against an empty body")
			}
		}
	}
}

// validateStatusRange checks a node's own healthy HTTP status range against
// the one it inherits from [metrics].
func (c *checker) validateStatusRange(key string, n *Node, m Metrics) {
	for _, k := range []struct {
		name string
		v    *int
	}{{"poll_http_status_healthy_above", n.PollHTTPStatusHealthyAbove}, {"poll_http_status_healthy_below", n.PollHTTPStatusHealthyBelow}} {
		if k.v != nil {
			c.nonNegative(key+"."+k.name, int64(*k.v))
		}
	}
	if n.PollHTTPStatusHealthyAbove == nil && n.PollHTTPStatusHealthyBelow == nil {
		return
	}
	above, below := n.HealthyStatus(m)
	c.statusRange(key, n.PollHTTPStatusHealthyAbove != nil, above, below, " on this node")
}

// statusRange reports an empty healthy status range under table, on its
// _above key when that one is set there, else on its _below key.
func (c *checker) statusRange(table string, aboveSet bool, above, below int, where string) {
	if above < 0 || below < 0 || above < below {
		return
	}
	key := table + ".poll_http_status_healthy_above"
	if !aboveSet {
		key = table + ".poll_http_status_healthy_below"
	}
	c.errorf(key, "poll_http_status_healthy_above (%d, inclusive) must be lower than poll_http_status_healthy_below (%d, exclusive)%s", above, below, where)
}

// validateRoute checks that notify_channels names configured channels.
func (c *checker) validateRoute(key string, n *Node, section *Notify) {
	if n.NotifyChannels == nil {
		return
	}
	k := key + ".notify_channels"
	configured := section.Configured()
	names := notify.Names()
	for i, name := range n.NotifyChannels {
		switch {
		case !slices.Contains(names, name):
			c.errorf(keyIndexed(k, i), "unknown channel %q (want %s)", name, strings.Join(names, ", "))
		case !slices.Contains(configured, name):
			c.warnf(keyIndexed(k, i), "[notify.%s] is not configured: nothing goes out through it", name)
		}
	}
	if len(n.NotifyChannels) == 0 {
		c.warnf(k, "empty: this node's alerts go to no channel")
	}
}

// validateExchanges checks tcp_send, tcp_expect and dns_expect, which only
// tcp:// and dns:// replicas use, and compiles the expressions.
func (c *checker) validateExchanges(key string, n *Node, modeOK bool) {
	present := map[Kind]bool{}
	for _, t := range n.Targets {
		present[t.Kind] = true
	}
	for _, k := range []struct {
		name string
		kind Kind
	}{{"tcp_send", KindTCP}, {"tcp_expect", KindTCP}, {"dns_expect", KindDNS}} {
		switch {
		case !c.has(key + "." + k.name):
		case modeOK && n.Mode != "poll":
			c.warnf(key+"."+k.name, "only used by poll nodes; ignored on a %s node", n.Mode)
		case !present[k.kind]:
			c.warnf(key+"."+k.name, "ignored: this node has no %s:// replica", k.kind)
		}
	}
	compile := func(name, expr string) *regexp.Regexp {
		if !c.has(key + "." + name) {
			return nil
		}
		re, err := compileRegex(expr)
		if err != nil {
			c.fail(key+"."+name, err)
			return nil
		}
		return re
	}
	n.TCPExpectMatch = compile("tcp_expect", n.TCPExpect)
	n.DNSExpectMatch = compile("dns_expect", n.DNSExpect)
}

// tomlValueType names the TOML type of a value decoded into an any.
func tomlValueType(v any) string {
	switch v.(type) {
	case string:
		return "a string"
	case int64:
		return "an integer"
	case float64:
		return "a float"
	case bool:
		return "a boolean"
	case []any:
		return "an array"
	case map[string]any:
		return "a table"
	}
	return "a date or time"
}

// validHeaderName reports whether name is an HTTP token (RFC 9110 §5.1).
func validHeaderName(name string) bool {
	if name == "" {
		return false
	}
	for i := 0; i < len(name); i++ {
		if c := name[i]; !isNameChar(c) && strings.IndexByte("!#$%&'*+-.^`|~", c) < 0 {
			return false
		}
	}
	return true
}

// validHeaderValue reports whether v holds no control character other than
// tab (RFC 9110 §5.5); net/http would refuse to send it.
func validHeaderValue(v string) bool {
	for i := 0; i < len(v); i++ {
		if c := v[i]; c < ' ' && c != '\t' || c == 0x7f {
			return false
		}
	}
	return true
}
