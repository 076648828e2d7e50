package notify

import (
	"context"
)

// Slack is [notify.slack].
type Slack struct {
	HookURL        string `toml:"hook_url" check:"secret-url"`
	MentionChannel bool   `toml:"mention_channel"`
	Common
}

func (s *Slack) targets(o Options) ([]Target, []string, error) { return single(newSlack(s, o)) }

// slack posts to a Slack incoming webhook (or Discord's Slack-compatible
// one). The webhook URL is itself the credential.
type slack struct {
	p       poster
	url     string
	mention bool
	secrets []string
}

func newSlack(c *Slack, o Options) (*slack, error) {
	if _, err := joinURL(c.HookURL); err != nil {
		return nil, err
	}
	return &slack{p: o.poster(), url: c.HookURL, mention: c.MentionChannel, secrets: urlSecrets(c.HookURL)}, nil
}

type slackPayload struct {
	Text        string            `json:"text"`
	Attachments []slackAttachment `json:"attachments"`
}

type slackAttachment struct {
	Fallback string       `json:"fallback"`
	Color    string       `json:"color"`
	Fields   []slackField `json:"fields"`
}

// Notify posts {"text", "attachments": [{"fallback", "color", "fields"}]}.
func (s *slack) Notify(ctx context.Context, m Message) error {
	text, fallback, color, fields := slackTexts(m, s.mention)
	body, err := marshalJSON(slackPayload{
		Text:        text,
		Attachments: []slackAttachment{{Fallback: fallback, Color: color, Fields: fields}},
	})
	if err != nil {
		return &Error{Err: err}
	}
	return s.p.post(ctx, request{url: s.url, contentType: contentJSON, body: body, secrets: s.secrets})
}
