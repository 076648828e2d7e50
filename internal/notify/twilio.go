package notify

import (
	"context"
	"net/http"

	"github.com/vigil-go/vigil/internal/config"
)

// twilio sends an SMS to one number through Twilio's Messages API.
type twilio struct {
	p          poster
	url        string
	auth       http.Header
	serviceSID string
	to         string
	secrets    []string
}

func newTwilio(c *config.Twilio, to string, o Options) (*twilio, error) {
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
