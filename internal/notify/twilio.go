package notify

import (
	"context"
	"net/http"
)

// Twilio is [notify.twilio]: each number in to is a target of its own.
type Twilio struct {
	To         []string `toml:"to"`
	ServiceSID string   `toml:"service_sid"`
	AccountSID string   `toml:"account_sid"`
	AuthToken  string   `toml:"auth_token"`
	APIURL     string   `toml:"api_url"` // default https://api.twilio.com/
	Common
}

// Check fills the default api_url and checks the required keys.
func (t *Twilio) Check(c Checker) {
	defaultTo(c, "api_url", &t.APIURL, "https://api.twilio.com/")
	c.RequiredList("to", t.To)
	c.Required("service_sid", t.ServiceSID)
	c.Required("account_sid", t.AccountSID)
	c.Secret("auth_token", t.AuthToken, true)
	c.URL("api_url", t.APIURL)
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
