package notify

import (
	"context"
)

// Pushover is [notify.pushover]: each user key is a target of its own.
type Pushover struct {
	AppToken string   `toml:"app_token" check:"secret"`
	UserKeys []string `toml:"user_keys" check:"list"`
	APIURL   string   `toml:"api_url" check:"optional-url" default:"https://api.pushover.net/"`
	Common
}

func (p *Pushover) targets(o Options) ([]Target, []string, error) {
	return perKey(p.UserKeys, func(user string) (Notifier, error) { return newPushover(p, user, o) })
}

// pushover sends a push notification to one Pushover user.
type pushover struct {
	p       poster
	url     string
	token   string
	user    string
	secrets []string
}

func newPushover(c *Pushover, user string, o Options) (*pushover, error) {
	base := c.APIURL
	if base == "" {
		base = "https://api.pushover.net/"
	}
	u, err := joinURL(base, "1", "messages.json")
	if err != nil {
		return nil, err
	}
	return &pushover{p: o.poster(), url: u.String(), token: c.AppToken, user: user, secrets: []string{c.AppToken}}, nil
}

// Notify posts the form token, user, title, message, html=1, url_title, url,
// and priority=1 when the message is escalated for this user.
func (p *pushover) Notify(ctx context.Context, m Message) error {
	body := form{}.
		add("token", p.token).
		add("user", p.user).
		add("title", m.PageTitle).
		add("message", pushoverHTML(m)).
		add("html", "1").
		add("url_title", pushoverURLTitle(m.PageTitle)).
		add("url", m.PageURL)
	if m.Escalated {
		body = body.add("priority", "1")
	}
	return p.p.post(ctx, request{url: p.url, contentType: contentForm, body: body.encode(), secrets: p.secrets})
}
