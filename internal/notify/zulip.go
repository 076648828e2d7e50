package notify

import (
	"context"
	"net/http"
	"strings"
)

// Zulip is [notify.zulip].
type Zulip struct {
	BotEmail  string `toml:"bot_email" check:"required"`
	BotAPIKey string `toml:"bot_api_key" check:"secret"`
	Channel   string `toml:"channel" check:"required"`
	APIURL    string `toml:"api_url"`
	Common
}

// Check checks api_url, and warns when it lacks the trailing slash that
// Vigil appends paths after.
func (z *Zulip) Check(c Checker) {
	if c.Required("api_url", z.APIURL) && c.URL("api_url", z.APIURL) && !strings.HasSuffix(z.APIURL, "/") {
		c.Warnf("api_url", "should end with \"/\" (such as https://example.zulipchat.com/api/v1/): paths are appended to it")
	}
}

func (z *Zulip) targets(o Options) ([]Target, []string, error) { return single(newZulip(z, o)) }

// zulip posts a stream message through Zulip's REST API.
type zulip struct {
	p       poster
	url     string
	auth    http.Header
	channel string
	secrets []string
}

func newZulip(c *Zulip, o Options) (*zulip, error) {
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
