package notify

import (
	"context"
	"net/http"
)

// PagerDuty is [notify.pagerduty]: events to an Events API v2 integration.
type PagerDuty struct {
	RoutingKey string `toml:"routing_key" check:"secret"`
	APIURL     string `toml:"api_url" check:"optional-url" default:"https://events.pagerduty.com/v2/enqueue"`
	Common
}

func (p *PagerDuty) targets(o Options) ([]Target, []string, error) {
	if _, err := joinURL(p.APIURL); err != nil {
		return nil, nil, err
	}
	return single(&pagerduty{p: o.poster(), url: p.APIURL, key: p.RoutingKey}, nil)
}

// pagerduty triggers an alert when the page goes dead (and again at each
// reminder, which PagerDuty folds into the same alert), and resolves it
// with the same dedup_key on recovery, so the incident closes by itself.
type pagerduty struct {
	p   poster
	url string
	key string
}

type pagerdutyEvent struct {
	RoutingKey  string            `json:"routing_key"`
	EventAction string            `json:"event_action"`
	DedupKey    string            `json:"dedup_key"`
	Payload     *pagerdutyPayload `json:"payload,omitempty"`
	Client      string            `json:"client,omitempty"`
	ClientURL   string            `json:"client_url,omitempty"`
	Links       []pagerdutyLink   `json:"links,omitempty"`
}

type pagerdutyPayload struct {
	Summary       string         `json:"summary"`
	Source        string         `json:"source"`
	Severity      string         `json:"severity"`
	CustomDetails map[string]any `json:"custom_details"`
}

type pagerdutyLink struct {
	Href string `json:"href"`
	Text string `json:"text"`
}

// pagerdutySummaryMax is the Events API's limit on payload.summary.
const pagerdutySummaryMax = 1024

// Notify posts a trigger event while the page is dead, a resolve event
// otherwise; a startup message is no incident and sends nothing.
func (pd *pagerduty) Notify(ctx context.Context, m Message) error {
	if m.Kind == Startup {
		return nil
	}
	ev := pagerdutyEvent{RoutingKey: pd.key, EventAction: "resolve", DedupKey: OutageKey(m)}
	if opens(m) {
		ev.EventAction = "trigger"
		ev.Payload = &pagerdutyPayload{
			Summary:       truncateBytes(incidentSummary(m), pagerdutySummaryMax, pagerdutySummaryMax-len(smsCut), smsCut),
			Source:        m.PageURL,
			Severity:      byStatus(m.Status, "critical", "warning", "info"),
			CustomDetails: incidentDetails(m),
		}
		ev.Client, ev.ClientURL = m.PageTitle, m.PageURL
		ev.Links = []pagerdutyLink{{Href: m.PageURL, Text: m.PageTitle}}
	}
	return postJSON(ctx, pd.p, pd.url, nil, ev, pd.key)
}

// postJSON posts v as JSON with the extra header h; secrets never appear in
// an error.
func postJSON(ctx context.Context, p poster, url string, h http.Header, v any, secrets ...string) error {
	body, err := marshalJSON(v)
	if err != nil {
		return &Error{Err: err}
	}
	return p.post(ctx, request{url: url, contentType: contentJSON, header: h, body: body, secrets: append(secrets, urlSecrets(url)...)})
}
