package config

import (
	netmail "net/mail"

	"github.com/vigil-go/vigil/internal/notify"
)

// Subscriptions is the [subscriptions] section: visitors who ask, on the
// page, to be told by e-mail about incidents, maintenance windows and
// announcements, and partners' webhooks added through the manager API.
type Subscriptions struct {
	Enabled bool `toml:"enabled"` // false: no form, no routes, nothing sent
	// From is the sender of subscriber mail, required when enabled. It is
	// its own key, apart from [notify.email] from, so that alerts for the
	// team and bulletins for the public can come from different addresses.
	From string `toml:"from"`
	// SMTP is the mail server for subscriber mail; nil uses
	// [notify.email]'s smtp_* keys.
	SMTP *SubscriptionSMTP `toml:"smtp"`
	// MaxPending bounds the addresses waiting for their confirmation at
	// once (1000): past it the form answers "try again later" to everyone,
	// so that a flood of sign-ups cannot grow the database or make Vigil
	// mail thousands of strangers.
	MaxPending int `toml:"max_pending"`
	// ClientRate is how many sign-ups one client address may send per hour
	// (10); AddressRate is how many confirmation mails one e-mail address
	// may be sent per day (3), whoever asks.
	ClientRate  int `toml:"client_rate"`
	AddressRate int `toml:"address_rate"`
}

// SubscriptionSMTP is [subscriptions.smtp]: the keys of [notify.email]
// that say how to reach the mail server, with the same defaults.
type SubscriptionSMTP struct {
	SMTPHost     string `toml:"smtp_host"` // "localhost"
	SMTPPort     int    `toml:"smtp_port"` // 587
	SMTPUsername string `toml:"smtp_username"`
	SMTPPassword string `toml:"smtp_password"`
	SMTPEncrypt  *bool  `toml:"smtp_encrypt"` // true: STARTTLS required
}

// Default limits of [subscriptions].
const (
	DefaultSubscriptionsMaxPending  = 1000
	DefaultSubscriptionsClientRate  = 10
	DefaultSubscriptionsAddressRate = 3
)

// MailServer returns the SMTP server subscriber mail goes through:
// [subscriptions.smtp] when written, else [notify.email]'s. ok is false
// when neither is configured (validation refuses that when enabled).
func (c *Config) MailServer() (srv notify.SMTPServer, ok bool) {
	if s := c.Subscriptions.SMTP; s != nil {
		return notify.SMTPServer{Host: s.SMTPHost, Port: s.SMTPPort, Username: s.SMTPUsername,
			Password: s.SMTPPassword, Encrypt: s.SMTPEncrypt == nil || *s.SMTPEncrypt}, true
	}
	if c.Notify != nil {
		for _, sec := range c.Notify.Channels {
			if e, isEmail := sec.(*notify.Email); isEmail {
				return e.Server(), true
			}
		}
	}
	return notify.SMTPServer{}, false
}

func (c *checker) validateSubscriptions(cfg *Config) {
	const k = "subscriptions."
	s := &cfg.Subscriptions
	for _, f := range []struct {
		key string
		v   int
	}{{"max_pending", s.MaxPending}, {"client_rate", s.ClientRate}, {"address_rate", s.AddressRate}} {
		c.atLeastOne(k+f.key, int64(f.v))
	}
	if m := s.SMTP; m != nil {
		if !c.has(k + "smtp.smtp_host") {
			m.SMTPHost = "localhost"
		}
		if !c.has(k + "smtp.smtp_port") {
			m.SMTPPort = 587
		}
		c.required(k+"smtp.smtp_host", m.SMTPHost)
		c.secret(k+"smtp.smtp_password", m.SMTPPassword, false)
		if m.SMTPPort < 1 || m.SMTPPort > 65535 {
			c.errorf(k+"smtp.smtp_port", "port %d out of range 1-65535", m.SMTPPort)
		}
	}
	if !s.Enabled {
		return
	}
	if c.required(k+"from", s.From) {
		if _, err := netmail.ParseAddress(s.From); err != nil {
			c.errorf(k+"from", "invalid address %q: %v", s.From, err)
		}
	}
	if _, ok := cfg.MailServer(); !ok {
		c.errorf(k+"enabled", "subscriptions need a mail server: add [subscriptions.smtp] (smtp_host, smtp_port, …) or [notify.email]")
	}
	if cfg.Branding.PageURL == "" {
		c.errorf(k+"enabled", "subscriptions need [branding] page_url: the links in their mail point there")
	}
}
