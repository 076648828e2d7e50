// Package notify sends Vigil's notifications: one file per channel, holding
// its config keys, their validation and its sender, one table of channels
// (registry.go), one shared HTTP helper (post.go) and the human wording in
// one place (message.go).
//
// The package decides nothing about *when* to notify; it turns a Message into
// the exact request each channel expects and reports whether a failure is
// worth retrying. Retrying itself belongs to the caller, in one place.
package notify

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"reflect"
	"time"

	"github.com/vigil-go/vigil/internal/status"
)

// Kind is why a notification is sent.
type Kind string

const (
	// Startup is sent once when Vigil starts, if startup_notification is on.
	Startup Kind = "startup"
	// Changed is sent when the page status moves into or out of dead.
	Changed Kind = "changed"
	// Reminder is sent while the page stays dead, every reminder_interval
	// (with backoff).
	Reminder Kind = "reminder"
)

// Message is everything a channel needs to render one notification. It is
// plain data so that it can be stored (for example in an outbox) and sent
// later, after a restart.
type Message struct {
	Kind   Kind          `json:"kind"`
	Status status.Health `json:"status"`
	// Time is when the status was observed, formatted as Vigil does:
	// "HH:MM:SS UTC+00:00" (see FormatTime).
	Time string `json:"time"`
	// Dead lists every dead replica as "service:node:replica", in page order.
	Dead []string `json:"dead"`
	// Reasons says why each dead replica is dead, by replica id, where a
	// probe said why (a timeout, a status code).
	Reasons map[string]string `json:"reasons,omitempty"`
	// Recovered lists the replicas that came back since the previous
	// notification. Channels show it only where it adds to, rather than
	// changes, what Vigil sends: an extra line, field or attachment.
	Recovered []string `json:"recovered,omitempty"`
	PageTitle string   `json:"page_title"`
	PageURL   string   `json:"page_url"`
	// Escalated asks the target for a raised priority (Pushover priority=1,
	// Gotify priority=10). It is set per target, and only on reminders.
	Escalated bool `json:"escalated,omitempty"`
	// Outage identifies the outage a change or reminder is about, the same
	// from its announcement to its recovery and across restarts; "" for
	// the startup notification. Incident tools key on it (OutageKey).
	Outage string `json:"outage,omitempty"`
	// Content is what a channel that renders its own messages (the
	// subscribers' channels) needs, as that channel encoded it when the
	// message was queued; the fields above are then unused.
	Content json.RawMessage `json:"content,omitempty"`
}

// FormatTime formats t the way every Vigil notification shows time:
// "08:58:28 UTC+00:00" in UTC (loc nil), and with the zone's offset in
// another zone ([branding] time_zone): "16:58:28 UTC+08:00".
func FormatTime(t time.Time, loc *time.Location) string {
	if loc == nil {
		loc = time.UTC
	}
	return t.In(loc).Format("15:04:05 UTC-07:00")
}

// A Notifier delivers one message to one target of one channel.
//
// Notify returns nil once the target accepted the message. Otherwise the
// error says whether to retry (see ShouldRetry); it never contains a URL,
// token or password. Notify does not retry by itself.
type Notifier interface {
	Notify(ctx context.Context, m Message) error
}

// Target is one recipient of a channel: each Twilio number and each Pushover
// user key is its own target, so that a retry never re-sends to a target
// that already got the message. Other channels have a single target.
type Target struct {
	// Channel is the name of the channel the target belongs to ("twilio").
	Channel string
	// Key identifies the target within its channel: the phone number for
	// Twilio, the user key for Pushover, and "" for single-target channels,
	// so that a pending message for them follows a changed destination.
	// Keys are identifiers, not credentials, but keep them off public pages.
	Key string
	// Notifier sends to this target only.
	Notifier Notifier
}

// Channel is one configured [notify.*] section.
type Channel struct {
	Name string // "email", "twilio", "slack", …
	// RemindersOnly is the channel's reminders_only key: it then receives
	// reminders only, no startup or change notification.
	RemindersOnly bool
	// QuietStartup is set for channels that take no startup notification
	// (an incident tool, for which a start is no incident).
	QuietStartup bool
	// Targets are the channel's recipients in configuration order; a
	// target's index is what reminder escalation counts.
	Targets []Target
	// Warnings lists configuration problems that do not stop the channel,
	// such as an SMTP username without a password (mail is then sent
	// without authentication, as Vigil does).
	Warnings []string
	// Lookup, when set, finds the targets that are not listed in Targets
	// by their key: channels whose recipients live in the store
	// (subscribers) rather than in the config.
	Lookup func(key string) (Target, bool)
}

// Options carries what every channel shares.
type Options struct {
	// Client sends every HTTP request; nil means a client with a 10 s
	// timeout. The caller's context bounds each request as well.
	Client *http.Client
	// Version goes into the User-Agent header ("vigil/<Version>") of HTTP
	// requests and into email headers.
	Version string
	// Timeout bounds SMTP and XMPP connections; 0 means 10 s.
	Timeout time.Duration
	// TLS is the base TLS configuration for SMTP and XMPP, for example to
	// trust a private CA; nil means the system roots. ServerName is set per
	// connection.
	TLS *tls.Config
	// XMPPAddr is the host:port of the XMPP server. Empty means the DNS SRV
	// record of the sender's domain, then that domain on port 5222.
	XMPPAddr string
	// Now returns the current time, for Retry-After dates and XMPP message
	// ids; nil means time.Now.
	Now func() time.Time
}

// defaultTimeout is Vigil's dispatch timeout.
const defaultTimeout = 10 * time.Second

func (o Options) withDefaults() Options {
	if o.Client == nil {
		o.Client = &http.Client{Timeout: defaultTimeout}
	}
	if o.Timeout <= 0 {
		o.Timeout = defaultTimeout
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Version == "" {
		o.Version = "dev"
	}
	return o
}

func (o Options) poster() poster {
	return poster{client: o.Client, userAgent: "vigil/" + o.Version, now: o.Now}
}

// Build returns the channels of the configured sections, in registry
// order whatever the order of sections. The error lists every channel that
// could not be built (an unparsable URL or address, or a section of no
// registered channel); the others are still returned.
func Build(sections []Section, o Options) ([]Channel, error) {
	o = o.withDefaults()
	var (
		channels []Channel
		errs     []error
	)
	for _, s := range sections {
		if _, ok := defOf(s); !ok {
			errs = append(errs, fmt.Errorf("notify: %T is not a registered channel", s))
		}
	}
	for _, d := range registry {
		for _, s := range sections {
			if reflect.TypeOf(s).Elem() != d.Type {
				continue
			}
			targets, warnings, err := s.targets(o)
			if err != nil {
				errs = append(errs, fmt.Errorf("notify.%s: %w", d.Name, err))
				continue
			}
			for i := range targets {
				targets[i].Channel = d.Name
			}
			channels = append(channels, Channel{Name: d.Name, RemindersOnly: s.remindersOnly(), QuietStartup: d.quietStartup,
				Targets: targets, Warnings: warnings})
		}
	}
	return channels, errors.Join(errs...)
}

// single is the target list of a channel with one recipient.
func single(n Notifier, err error) ([]Target, []string, error) {
	if err != nil {
		return nil, nil, err
	}
	return []Target{{Notifier: n}}, nil, nil
}

// Find returns the target with the given channel name and key, for example
// to deliver a stored message after a restart. It reports false when the
// configuration no longer has that target.
func Find(channels []Channel, channel, key string) (Target, bool) {
	for _, c := range channels {
		if c.Name != channel {
			continue
		}
		for _, t := range c.Targets {
			if t.Key == key {
				return t, true
			}
		}
		if c.Lookup != nil {
			return c.Lookup(key)
		}
	}
	return Target{}, false
}
