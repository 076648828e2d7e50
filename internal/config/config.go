// Package config reads Vigil's config.cfg: TOML, with ${NAME} environment
// interpolation, Vigil's defaults and validation, and errors that name the
// file, line, column and key.
package config

import (
	"net/http"
	"net/url"
	"regexp"
	"time"

	"github.com/vigil-go/vigil/internal/notify"
)

// Seconds is a duration written in the config as a whole number of seconds.
type Seconds int64

// Duration converts s to a time.Duration.
func (s Seconds) Duration() time.Duration { return time.Duration(s) * time.Second }

// Millis is a duration written in the config as a whole number of milliseconds.
type Millis int64

// Duration converts m to a time.Duration.
func (m Millis) Duration() time.Duration { return time.Duration(m) * time.Millisecond }

// Config is the whole config.cfg. Field comments give Vigil's code defaults;
// Default returns a Config holding them.
type Config struct {
	Server   Server   `toml:"server"`
	Assets   Assets   `toml:"assets"`
	Branding Branding `toml:"branding"`
	Metrics  Metrics  `toml:"metrics"`
	Plugins  Plugins  `toml:"plugins"`
	Notify   *Notify  `toml:"notify"` // nil: no notifications at all
	Probe    Probe    `toml:"probe"`
	Storage  Storage  `toml:"storage"`
	Cluster  Cluster  `toml:"cluster"`

	Subscriptions Subscriptions `toml:"subscriptions"`

	// File is the path the config was read from, for messages.
	File string `toml:"-"`
}

// MaxReplicaIDBytes is the most server.reporter_replica_id_max_bytes may be:
// PostgreSQL refuses an index row over about 2.7 KB, and a replica id is
// indexed with its service and node ids.
const MaxReplicaIDBytes = 2048

// Server is the [server] section.
type Server struct {
	LogLevel      string `toml:"log_level"` // "error"; off, error, warn, info, debug, trace
	Inet          string `toml:"inet"`      // "[::1]:8080"; literal IP:port
	Workers       int    `toml:"workers"`   // 4; accepted for compatibility, Go serves with goroutines
	MCPServer     bool   `toml:"mcp_server"`
	ManagerToken  string `toml:"manager_token"`  // required
	ReporterToken string `toml:"reporter_token"` // required
	// ProbeSourceAddress, when set, is the local IP address outgoing poll
	// probes are sent from (multi-homed hosts; one vantage point per cluster
	// member on one machine).
	ProbeSourceAddress string `toml:"probe_source_address"`
	// MetricsEnabled serves Prometheus metrics on GET /metrics (off by
	// default: the metrics name every service and node).
	MetricsEnabled bool `toml:"metrics_enabled"`
	// MetricsToken, when set, guards /metrics with HTTP Basic authentication
	// (the token as password, as for the reporter API); empty leaves it public.
	MetricsToken string `toml:"metrics_token"`
	// PathPrefix is the path Vigil is served under when a reverse proxy
	// forwards it unchanged ("/status": the page at /status/); "" serves at
	// the root. Validation trims a trailing slash.
	PathPrefix string `toml:"path_prefix"`
	// FrameAncestors are the sites allowed to show the page in a frame, as
	// Content-Security-Policy frame-ancestors sources ("'self'",
	// "https://intranet.example.com"); empty: none may.
	FrameAncestors []string `toml:"frame_ancestors"`
	// ReporterReplicaIDMaxBytes bounds the id a reporter gives its replica
	// (1024): ids are host names, addresses or UUIDs, and every id is kept,
	// shown and stored, and indexed by PostgreSQL, which refuses index rows
	// much over 2 KB.
	ReporterReplicaIDMaxBytes int `toml:"reporter_replica_id_max_bytes"`
	// ReporterReplicasPerNodeMax bounds the push or local replicas one node
	// holds (5000): each is on the page, so an unbounded number lets one
	// reporter grow the page and the memory without limit.
	ReporterReplicasPerNodeMax int `toml:"reporter_replicas_per_node_max"`
	// MaxConnections bounds the HTTP connections served at once; 0 (the
	// default) means half the process's open-file limit, so that probes,
	// the store and notifications keep file descriptors for their sockets
	// when clients open many connections.
	MaxConnections int `toml:"max_connections"`
	// MCPSessionsMax bounds the MCP sessions kept at once (1000); a new
	// session beyond it closes the one idle the longest.
	MCPSessionsMax int `toml:"mcp_sessions_max"`
	// RequestBodyTimeout bounds the time a client takes to send a request
	// body (30 s), so that slow senders cannot hold connections and buffers.
	RequestBodyTimeout Seconds `toml:"request_body_timeout"`
	// WatchConfig reloads the config when its file changes, as SIGHUP
	// does (false: only SIGHUP reloads it).
	WatchConfig bool `toml:"watch_config"`
}

// Assets is the [assets] section.
type Assets struct {
	// Path is a directory holding a custom theme (templates/, stylesheets/,
	// javascripts/, images/, fonts/, public/). Default "./res/assets/". When it
	// holds no templates, the assets embedded in the binary are served.
	Path string `toml:"path"`
}

// Branding is the [branding] section.
type Branding struct {
	PageTitle   string `toml:"page_title"` // "Status Page"
	PageURL     string `toml:"page_url"`   // required, absolute URL (serialised with a trailing slash)
	CompanyName string `toml:"company_name"`
	IconColor   string `toml:"icon_color"`
	IconURL     string `toml:"icon_url"`
	LogoColor   string `toml:"logo_color"`
	LogoURL     string `toml:"logo_url"`
	WebsiteURL  string `toml:"website_url"`
	SupportURL  string `toml:"support_url"`
	CustomHTML  string `toml:"custom_html"`
	// TimeZone is the IANA name of the zone the page shows times in
	// ("Asia/Shanghai"); "" shows them in UTC, as Vigil does.
	TimeZone string `toml:"time_zone"`
	// Location is TimeZone loaded by validation (time.UTC for "").
	Location *time.Location `toml:"-"`
	// ColorScheme is the page's colour scheme: "auto" (the default) follows
	// the visitor's light or dark preference, "light" or "dark" forces one.
	// The valid values are ColorSchemes.
	ColorScheme string `toml:"color_scheme"`
}

// ColorSchemes are the values of [branding] color_scheme, the default first.
var ColorSchemes = []string{"auto", "light", "dark"}

// Metrics is the [metrics] section. Every key is optional.
type Metrics struct {
	PollInterval               Seconds `toml:"poll_interval"`                  // 120
	PollRetry                  int     `toml:"poll_retry"`                     // 2 extra attempts after a dead result
	PollRetryWait              Millis  `toml:"poll_retry_wait"`                // 500, before each attempt
	PollHTTPStatusHealthyAbove int     `toml:"poll_http_status_healthy_above"` // 200, inclusive
	PollHTTPStatusHealthyBelow int     `toml:"poll_http_status_healthy_below"` // 400, exclusive
	PollDelayDead              Seconds `toml:"poll_delay_dead"`                // 10, probe timeout
	PollDelaySick              Seconds `toml:"poll_delay_sick"`                // 5, latency ≥ this is sick
	PollParallelism            int     `toml:"poll_parallelism"`               // 4, probes in flight
	PushDelayDead              Seconds `toml:"push_delay_dead"`                // 20
	PushSystemCPUSickAbove     float64 `toml:"push_system_cpu_sick_above"`     // 0.99 (Vigil's README says 0.90)
	PushSystemRAMSickAbove     float64 `toml:"push_system_ram_sick_above"`     // 0.99 (Vigil's README says 0.90)
	PushReplicaExpire          Seconds `toml:"push_replica_expire"`            // 0 = never; silent push/local replicas are removed after this
	PollTLSExpirySickDays      int64   `toml:"poll_tls_expiry_sick_days"`      // 14; tls:// and https:// replicas are sick this close to their certificate's expiry; 0 = never
	ScriptInterval             Seconds `toml:"script_interval"`                // 300
	ScriptParallelism          int     `toml:"script_parallelism"`             // 2
	ScriptTimeout              Seconds `toml:"script_timeout"`                 // 60, capped to script_interval
	LocalDelayDead             Seconds `toml:"local_delay_dead"`               // 40
	FailureThreshold           int     `toml:"failure_threshold"`              // 1: consecutive dead (or sick) checks before a replica turns so
	SuccessThreshold           int     `toml:"success_threshold"`              // 1: consecutive healthy checks before it turns healthy again
}

// Plugins is the [plugins] section.
type Plugins struct {
	RabbitMQ *RabbitMQ `toml:"rabbitmq"` // nil: no queue checks
}

// RabbitMQ is the [plugins.rabbitmq] section.
type RabbitMQ struct {
	APIURL                 string  `toml:"api_url"`
	AuthUsername           string  `toml:"auth_username"`
	AuthPassword           string  `toml:"auth_password"`
	VirtualHost            string  `toml:"virtualhost"`
	QueueReadyHealthyBelow uint32  `toml:"queue_ready_healthy_below"`
	QueueNackHealthyBelow  uint32  `toml:"queue_nack_healthy_below"`
	QueueReadyDeadAbove    uint32  `toml:"queue_ready_dead_above"`
	QueueNackDeadAbove     uint32  `toml:"queue_nack_dead_above"`
	QueueLoadedRetryDelay  *Millis `toml:"queue_loaded_retry_delay"`
}

// Notify is the [notify] section and its channel sub-sections; a present
// sub-section enables its channel.
type Notify struct {
	StartupNotification     *bool    `toml:"startup_notification"` // true
	ReminderInterval        *Seconds `toml:"reminder_interval"`    // none: no reminders
	ReminderBackoffFunction string   `toml:"reminder_backoff_function"`
	ReminderBackoffLimit    int      `toml:"reminder_backoff_limit"` // 3
	ReminderEscalate        bool     `toml:"reminder_escalate"`
	// OutboxMaxAge is how long an undelivered notification is retried
	// before it is given up with an error log (default 86400: one day).
	OutboxMaxAge Seconds `toml:"outbox_max_age"`
	// HeartbeatURL, when set, gets a GET every HeartbeatInterval seconds
	// (default 60) while vigil runs and can deliver alerts: a dead man's
	// switch elsewhere notices when the monitor itself is gone.
	HeartbeatURL      string  `toml:"heartbeat_url"`
	HeartbeatInterval Seconds `toml:"heartbeat_interval"`

	// Channels are the configured [notify.<name>] sections, in the order
	// notifications go out. Which tables are channels, and what keys they
	// take, is notify's registry.
	Channels []notify.Section `toml:"-"`
}

// Configured returns the names of the configured channels, in the order
// notifications go out: "email", "twilio", "slack", …
func (n *Notify) Configured() []string {
	if n == nil {
		return nil
	}
	out := make([]string, len(n.Channels))
	for i, s := range n.Channels {
		out[i] = notify.NameOf(s)
	}
	return out
}

// SendsStartup reports whether the startup notification is enabled (default true).
func (n *Notify) SendsStartup() bool {
	return n != nil && (n.StartupNotification == nil || *n.StartupNotification)
}

// Storage is the [storage] section: where history and durable state live.
// Retention keys are in seconds.
type Storage struct {
	Driver string `toml:"driver"` // "sqlite" (default) or "postgres"
	Path   string `toml:"path"`   // SQLite file, "./vigil.db"; its directory must exist
	URL    string `toml:"url"`    // PostgreSQL connection URL, required with driver = "postgres"

	RetentionMinuteSamples Seconds `toml:"retention_minute_samples"` // 172800 (48 h)
	RetentionHourSamples   Seconds `toml:"retention_hour_samples"`   // 7776000 (90 days)
	RetentionChanges       Seconds `toml:"retention_changes"`        // 7776000 (90 days)
	RetentionIncidents     Seconds `toml:"retention_incidents"`      // 31536000 (365 days)
	RetentionOutbox        Seconds `toml:"retention_outbox"`         // 604800 (7 days)
}

// Cluster is the [cluster] section: several vigil processes sharing one
// PostgreSQL database, probing from several vantage points.
type Cluster struct {
	Enabled bool   `toml:"enabled"`
	NodeID  string `toml:"node_id"` // default: the host name
	Label   string `toml:"label"`   // vantage point shown to people, such as "eu-west"; default NodeID
	// Confirmations is how many members must see a replica's new status
	// before it flips; 0 (default) means a majority of the live members.
	Confirmations     int     `toml:"confirmations"`
	HeartbeatInterval Seconds `toml:"heartbeat_interval"` // 5
	MemberTimeout     Seconds `toml:"member_timeout"`     // 15
}

// Probe is the [probe] section.
type Probe struct {
	Services []Service `toml:"service"`
}

// Service is one [[probe.service]].
type Service struct {
	ID    string `toml:"id"`
	Label string `toml:"label"`
	Nodes []Node `toml:"node"`
}

// Node is one [[probe.service.node]].
type Node struct {
	ID                   string         `toml:"id"`
	Label                string         `toml:"label"`
	Mode                 string         `toml:"mode"` // poll, push, script, local
	Replicas             []string       `toml:"replicas"`
	Scripts              []string       `toml:"scripts"`
	HTTPHeaders          map[string]any `toml:"http_headers"` // value: string or array of strings
	HTTPMethod           string         `toml:"http_method"`
	HTTPBody             string         `toml:"http_body"`
	HTTPBodyHealthyMatch string         `toml:"http_body_healthy_match"`
	HTTPNoCacheBuster    bool           `toml:"http_no_cache_buster"`
	RevealReplicaName    bool           `toml:"reveal_replica_name"`
	LinkURL              string         `toml:"link_url"`
	LinkLabel            string         `toml:"link_label"`

	// The [metrics] keys of the same names, for this node's HTTP replicas
	// only: a site behind a login answers 401 and is up. nil: [metrics].
	PollHTTPStatusHealthyAbove *int `toml:"poll_http_status_healthy_above"`
	PollHTTPStatusHealthyBelow *int `toml:"poll_http_status_healthy_below"`

	// NotifyChannels routes this node's alerts to these channels only
	// ("slack", "email", …); nil: every channel; empty: none.
	NotifyChannels []string `toml:"notify_channels"`

	// The node's own check settings; nil (or false) takes [metrics]'s, or
	// the default. See Node.Checks.
	PollInterval          *Seconds `toml:"poll_interval"`
	ScriptInterval        *Seconds `toml:"script_interval"`
	PollRetry             *int     `toml:"poll_retry"`
	PollRetryWait         *Millis  `toml:"poll_retry_wait"`
	PollDelayDead         *Seconds `toml:"poll_delay_dead"`
	PollDelaySick         *Seconds `toml:"poll_delay_sick"`
	PollTLSExpirySickDays *int64   `toml:"poll_tls_expiry_sick_days"`
	FailureThreshold      *int     `toml:"failure_threshold"`
	SuccessThreshold      *int     `toml:"success_threshold"`
	HTTPFollowRedirects   bool     `toml:"http_follow_redirects"`
	ICMPCount             *int     `toml:"icmp_count"`
	ICMPLossDeadAbove     *float64 `toml:"icmp_loss_dead_above"`
	ICMPLossSickAbove     *float64 `toml:"icmp_loss_sick_above"`
	// NotifyOn lists the events of this node its channels hear about:
	// "dead", "recovered", "sick"; nil: NotifyOnDefault.
	NotifyOn []string `toml:"notify_on"`

	// Exchanges on tcp:// replicas and the answer wanted from dns:// ones.
	TCPSend   string `toml:"tcp_send"`
	TCPExpect string `toml:"tcp_expect"`
	DNSExpect string `toml:"dns_expect"`

	RabbitMQQueue                 string  `toml:"rabbitmq_queue"`
	RabbitMQQueueNackHealthyBelow *uint32 `toml:"rabbitmq_queue_nack_healthy_below"`
	RabbitMQQueueNackDeadAbove    *uint32 `toml:"rabbitmq_queue_nack_dead_above"`

	// Filled in by validation.
	Targets   []Target       `toml:"-"` // one per replica URL, poll mode
	Headers   http.Header    `toml:"-"` // HTTPHeaders, checked and canonicalised
	BodyMatch *regexp.Regexp `toml:"-"` // compiled HTTPBodyHealthyMatch, or nil
	// TCPExpectMatch and DNSExpectMatch are TCPExpect and DNSExpect compiled, or nil.
	TCPExpectMatch *regexp.Regexp `toml:"-"`
	DNSExpectMatch *regexp.Regexp `toml:"-"`
}

// HealthyStatus returns the healthy HTTP status range of the node's
// replicas: its own keys where set, else those of m.
func (n *Node) HealthyStatus(m Metrics) (above, below int) {
	above, below = m.PollHTTPStatusHealthyAbove, m.PollHTTPStatusHealthyBelow
	if n.PollHTTPStatusHealthyAbove != nil {
		above = *n.PollHTTPStatusHealthyAbove
	}
	if n.PollHTTPStatusHealthyBelow != nil {
		below = *n.PollHTTPStatusHealthyBelow
	}
	return above, below
}

// Target is a parsed poll replica URL.
type Target struct {
	ID   string   // the URL exactly as written in the config: the replica id
	Kind Kind     // from the scheme: see kinds
	URL  *url.URL // the parsed URL
	Host string   // host without IPv6 brackets; for dns, the resolver
	Port string   // "" for icmp and for http(s) without an explicit port; "53" for dns by default
	// DNSName and DNSType are what a dns replica asks its resolver.
	DNSName string
	DNSType string // one of DNSTypes
}
