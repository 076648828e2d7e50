package notify

import (
	"context"

	"github.com/vigil-go/vigil/internal/status"
)

// Webhook is [notify.webhook]. Vigil's webhook has no reminders_only: it
// receives everything.
type Webhook struct {
	HookURL string `toml:"hook_url" check:"secret-url"`
}

func (w *Webhook) targets(o Options) ([]Target, []string, error) { return single(newWebhook(w, o)) }

func (w *Webhook) remindersOnly() bool { return false }

// webhook posts Vigil's JSON payload to any URL.
type webhook struct {
	p       poster
	url     string
	secrets []string
}

func newWebhook(c *Webhook, o Options) (*webhook, error) {
	if _, err := joinURL(c.HookURL); err != nil {
		return nil, err
	}
	return &webhook{p: o.poster(), url: c.HookURL, secrets: urlSecrets(c.HookURL)}, nil
}

// webhookPayload is Vigil's payload, field for field and in Vigil's order.
// Recovered is new: it comes last and only when replicas came back, so that
// the payload is otherwise exactly Vigil's.
type webhookPayload struct {
	Type      Kind          `json:"type"`
	Status    status.Health `json:"status"`
	Time      string        `json:"time"`
	Replicas  []string      `json:"replicas"`
	Page      webhookPage   `json:"page"`
	Recovered []string      `json:"recovered,omitempty"`
}

type webhookPage struct {
	Title string `json:"title"`
	URL   string `json:"url"`
}

// Notify posts {"type", "status", "time", "replicas", "page": {"title",
// "url"}} and, when replicas came back, "recovered".
func (w *webhook) Notify(ctx context.Context, m Message) error {
	replicas := m.Dead
	if replicas == nil {
		replicas = []string{} // Vigil sends [], never null
	}
	body, err := marshalJSON(webhookPayload{
		Type:      m.Kind,
		Status:    m.Status,
		Time:      m.Time,
		Replicas:  replicas,
		Page:      webhookPage{Title: m.PageTitle, URL: m.PageURL},
		Recovered: m.Recovered,
	})
	if err != nil {
		return &Error{Err: err}
	}
	return w.p.post(ctx, request{url: w.url, contentType: contentJSON, body: body, secrets: w.secrets})
}
