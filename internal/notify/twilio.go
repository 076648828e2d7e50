package notify

import (
	"context"
	"net/http"
)

// Twilio is [notify.twilio]: each number in to is a target of its own.
type Twilio struct {
	To         []string `toml:"to" check:"list"`
	ServiceSID string   `toml:"service_sid" check:"required"`
	AccountSID string   `toml:"account_sid" check:"required"`
	AuthToken  string   `toml:"auth_token" check:"secret"`
	APIURL     string   `toml:"api_url" check:"optional-url" default:"https://api.twilio.com/"`
	Common
}

func (t *Twilio) targets(o Options) ([]Target, []string, error) {
	return perKey(t.To, func(to string) (Notifier, error) { return newTwilio(t, to, o) })
}

// twilio sends an SMS to one number through Twilio's Messages API.
type twilio struct {
	p          poster
	url        string
	auth       http.Header
	serviceSID string
	to         string
	secrets    []string
}

func newTwilio(c *Twilio, to string, o Options) (*twilio, error) {
	base := c.APIURL
	if base == "" {
		base = "https://api.twilio.com/"
	}
	u, err := joinURL(base, "2010-04-01", "Accounts", c.AccountSID, "Messages.json")
	if err != nil {
		return nil, err
	}
	auth := basicAuth(c.AccountSID, c.AuthToken)
	return &twilio{
		p:          o.poster(),
		url:        u.String(),
		auth:       auth,
		serviceSID: c.ServiceSID,
		to:         to,
		secrets:    []string{c.AuthToken, auth.Get("Authorization")},
	}, nil
}

// Notify posts the form MessagingServiceSid, To, Body with HTTP Basic
// account_sid:auth_token.
func (t *twilio) Notify(ctx context.Context, m Message) error {
	body := form{}.
		add("MessagingServiceSid", t.serviceSID).
		add("To", t.to).
		add("Body", twilioText(m))
	return t.p.post(ctx, request{url: t.url, contentType: contentForm, header: t.auth, body: body.encode(), secrets: t.secrets})
}
