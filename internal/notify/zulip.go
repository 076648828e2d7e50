package notify

import (
	"context"
	"net/http"

	"github.com/vigil-go/vigil/internal/config"
)

// zulip posts a stream message through Zulip's REST API.
type zulip struct {
	p       poster
	url     string
	auth    http.Header
	channel string
	secrets []string
}

func newZulip(c *config.Zulip, o Options) (*zulip, error) {
	u, err := joinURL(c.APIURL, "messages")
	if err != nil {
		return nil, err
	}
	auth := basicAuth(c.BotEmail, c.BotAPIKey)
	return &zulip{
		p:       o.poster(),
		url:     u.String(),
		auth:    auth,
		channel: c.Channel,
		secrets: []string{c.BotAPIKey, auth.Get("Authorization")},
	}, nil
}

// Notify posts the form type=stream, to, topic, content with HTTP Basic
// bot_email:bot_api_key to <api_url>/messages.
func (z *zulip) Notify(ctx context.Context, m Message) error {
	body := form{}.
		add("type", "stream").
		add("to", z.channel).
		add("topic", zulipTopic).
		add("content", zulipText(m))
	return z.p.post(ctx, request{url: z.url, contentType: contentForm, header: z.auth, body: body.encode(), secrets: z.secrets})
}
