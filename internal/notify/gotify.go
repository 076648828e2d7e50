package notify

import (
	"context"
)

// Gotify is [notify.gotify].
type Gotify struct {
	AppURL   string `toml:"app_url" check:"url"`
	AppToken string `toml:"app_token" check:"secret"`
	Common
}

func (g *Gotify) targets(o Options) ([]Target, []string, error) { return single(newGotify(g, o)) }

// gotify posts a message to a Gotify server; the application token goes in
// the query, as Vigil sends it.
type gotify struct {
	p       poster
	url     string
	secrets []string
}

func newGotify(c *Gotify, o Options) (*gotify, error) {
	u, err := joinURL(c.AppURL, "message")
	if err != nil {
		return nil, err
	}
	q := u.Query()
	q.Set("token", c.AppToken)
	u.RawQuery = q.Encode()
	return &gotify{p: o.poster(), url: u.String(), secrets: append([]string{c.AppToken}, urlSecrets(u.String())...)}, nil
}

// Notify posts the form title, message, and priority=10 when escalated
// (on every reminder).
func (g *gotify) Notify(ctx context.Context, m Message) error {
	body := form{}.
		add("title", m.PageTitle).
		add("message", gotifyText(m))
	if m.Escalated {
		body = body.add("priority", "10")
	}
	return g.p.post(ctx, request{url: g.url, contentType: contentForm, body: body.encode(), secrets: g.secrets})
}
