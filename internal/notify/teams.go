package notify

import (
	"context"
	"net/url"
	"strings"
)

// Teams is [notify.teams]: an Adaptive Card through a Workflows (Power
// Automate) webhook. The Office 365 connector URLs Microsoft retired are
// refused.
type Teams struct{ Hook }

// Check refuses a retired connector URL, which would
// take the card and show nothing.
func (t *Teams) Check(c Checker) {
	if u, err := url.Parse(t.HookURL); err == nil && isOffice365Connector(u) {
		c.Errorf("hook_url", "Office 365 connector URLs are retired; create a Workflows webhook (\"Post to a channel when a webhook request is received\") and use its URL")
	}
}

// isOffice365Connector reports whether u is a legacy connector webhook
// (https://<tenant>.webhook.office.com/webhookb2/… or outlook.office.com).
func isOffice365Connector(u *url.URL) bool {
	host := strings.ToLower(u.Hostname())
	return strings.HasSuffix(host, ".webhook.office.com") || host == "outlook.office.com" || host == "outlook.office365.com"
}

func (t *Teams) targets(o Options) ([]Target, []string, error) {
	return t.single(o, func(p poster) Notifier { return &teams{p: p, url: t.HookURL} })
}

// teams posts a message with one Adaptive Card attachment, as Workflows
// webhooks take it.
type teams struct {
	p   poster
	url string
}

type teamsMessage struct {
	Type        string            `json:"type"`
	Attachments []teamsAttachment `json:"attachments"`
}

type teamsAttachment struct {
	ContentType string    `json:"contentType"`
	ContentURL  *string   `json:"contentUrl"`
	Content     teamsCard `json:"content"`
}

type teamsCard struct {
	Schema  string        `json:"$schema"`
	Type    string        `json:"type"`
	Version string        `json:"version"`
	Body    []teamsBlock  `json:"body"`
	Actions []teamsAction `json:"actions"`
}

// teamsBlock is a TextBlock or a FactSet.
type teamsBlock struct {
	Type   string      `json:"type"`
	Text   string      `json:"text,omitempty"`
	Weight string      `json:"weight,omitempty"`
	Size   string      `json:"size,omitempty"`
	Color  string      `json:"color,omitempty"`
	Wrap   bool        `json:"wrap,omitempty"`
	Facts  []teamsFact `json:"facts,omitempty"`
}

type teamsFact struct {
	Title string `json:"title"`
	Value string `json:"value"`
}

type teamsAction struct {
	Type  string `json:"type"`
	Title string `json:"title"`
	URL   string `json:"url"`
}

// Notify posts the card: the headline in the status colour, the dead
// replicas with their reasons, facts (Status, Time, Recovered) and a
// button to the page.
func (t *teams) Notify(ctx context.Context, m Message) error {
	body := []teamsBlock{{Type: "TextBlock", Text: m.PageTitle + ": " + headline(m), Weight: "Bolder", Size: "Medium", Color: byStatus(m.Status, "Attention", "Warning", "Good"), Wrap: true}}
	if len(m.Dead) > 0 {
		body = append(body, teamsBlock{Type: "TextBlock", Text: deadLines(m), Wrap: true})
	}
	facts := []teamsFact{{Title: "Status", Value: m.Status.Title()}, {Title: "Time", Value: m.Time}}
	if len(m.Recovered) > 0 {
		facts = append(facts, teamsFact{Title: "Recovered", Value: joinList(m.Recovered)})
	}
	body = append(body, teamsBlock{Type: "FactSet", Facts: facts})
	return postJSON(ctx, t.p, t.url, nil, teamsMessage{Type: "message", Attachments: []teamsAttachment{{
		ContentType: "application/vnd.microsoft.card.adaptive",
		Content: teamsCard{
			Schema:  "http://adaptivecards.io/schemas/adaptive-card.json",
			Type:    "AdaptiveCard",
			Version: "1.4",
			Body:    body,
			Actions: []teamsAction{{Type: "Action.OpenUrl", Title: "Status page", URL: m.PageURL}},
		},
	}}})
}
