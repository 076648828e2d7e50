package notify

import (
	"reflect"
	"slices"
)

// registry is every channel Vigil knows, in the order notifications go out.
// It is the one list of channels: the config decodes a [notify.<name>]
// table into its section type and validates it, Build builds it, the
// metrics label it and notify-test reaches it, all from here. Adding a
// channel is one file (its Section type and its Notifier) and one line here.
var registry = []Def{
	def[Email]("email"),
	def[Twilio]("twilio"),
	def[Slack]("slack"),
	def[Zulip]("zulip"),
	def[Telegram]("telegram"),
	def[Pushover]("pushover"),
	def[Gotify]("gotify"),
	def[XMPP]("xmpp"),
	def[Matrix]("matrix"),
	def[Webex]("webex"),
	def[Webhook]("webhook"),
	quiet(def[PagerDuty]("pagerduty")),
	quiet(def[Opsgenie]("opsgenie")),
	def[Discord]("discord"),
	def[Teams]("teams"),
	def[Ntfy]("ntfy"),
}

// Section is one [notify.<name>] table as decoded from the config: a
// pointer to the channel's struct, whose toml tags are its keys.
type Section interface {
	// targets builds the channel's recipients, with warnings that do not
	// stop it.
	targets(o Options) ([]Target, []string, error)
	// remindersOnly is the reminders_only key, where the channel has one.
	remindersOnly() bool
}

// Checker is what a Section needs from the config reader to report
// problems at the key they concern. Keys are relative to the section.
type Checker interface {
	// Has reports whether key is written in the file (not defaulted).
	Has(key string) bool
	// Required reports a missing or empty key, and whether val is set.
	Required(key, val string) bool
	// RequiredList reports a missing or empty list, or an empty element.
	RequiredList(key string, vals []string)
	// URL reports an unparsable or relative URL; "" is left to Required.
	// It reports whether val is a usable URL.
	URL(key, val string) bool
	// Secret checks a credential: an unset ${NAME} in it, or an empty or
	// blank value, is an error. It reports whether val is set.
	Secret(key, val string, required bool) bool
	// PageTitle is [branding] page_title, which some channels put in
	// headers.
	PageTitle() string
	Errorf(key, format string, args ...any)
	Warnf(key, format string, args ...any)
}

// Common holds the key every channel but the webhook shares.
type Common struct {
	// RemindersOnly sends the channel reminders only: no startup or
	// change notification.
	RemindersOnly bool `toml:"reminders_only"`
}

func (c Common) remindersOnly() bool { return c.RemindersOnly }

// Def describes one registered channel.
type Def struct {
	// Name is the channel's name: its [notify.<name>] table, its metrics
	// label and what notify_channels and notify-test call it.
	Name string
	// Type is the section's struct type (not the pointer).
	Type reflect.Type
	// quietStartup is set for channels that take no startup notification:
	// for them a message is an incident, and a start is none.
	quietStartup bool
}

// def registers the section type T (whose pointer is a Section) as name.
func def[T any, PT interface {
	*T
	Section
}](name string) Def {
	return Def{Name: name, Type: reflect.TypeFor[T]()}
}

// quiet marks d as taking no startup notification.
func quiet(d Def) Def {
	d.quietStartup = true
	return d
}

// New returns a new, empty section of the channel.
func (d Def) New() Section { return reflect.New(d.Type).Interface().(Section) }

// Registry returns every channel, in the order notifications go out.
func Registry() []Def { return slices.Clone(registry) }

// Names returns the names of every channel, in registry order.
func Names() []string {
	out := make([]string, len(registry))
	for i, d := range registry {
		out[i] = d.Name
	}
	return out
}

// NameOf returns the channel name of a section, "" for a type that is not
// registered.
func NameOf(s Section) string {
	if d, ok := defOf(s); ok {
		return d.Name
	}
	return ""
}

func defOf(s Section) (Def, bool) {
	t := reflect.TypeOf(s)
	if t == nil || t.Kind() != reflect.Pointer {
		return Def{}, false
	}
	i := slices.IndexFunc(registry, func(d Def) bool { return d.Type == t.Elem() })
	if i < 0 {
		return Def{}, false
	}
	return registry[i], true
}

// Hook is a channel whose only key, besides reminders_only, is a webhook
// URL that is itself the credential (Discord, Teams).
type Hook struct {
	HookURL string `toml:"hook_url" check:"secret-url"`
	Common
}

// single builds the one target of a hook channel, checking its URL first.
func (h *Hook) single(o Options, build func(poster) Notifier) ([]Target, []string, error) {
	if _, err := joinURL(h.HookURL); err != nil {
		return nil, nil, err
	}
	return single(build(o.poster()), nil)
}

// perKey builds one target per key (a phone number, a user key), so that a
// retry never re-sends to a recipient that already got the message.
func perKey(keys []string, build func(key string) (Notifier, error)) ([]Target, []string, error) {
	var targets []Target
	for _, k := range keys {
		n, err := build(k)
		if err != nil {
			return nil, nil, err
		}
		targets = append(targets, Target{Key: k, Notifier: n})
	}
	return targets, nil, nil
}
