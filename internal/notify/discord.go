package notify

import "context"

// Discord is [notify.discord]: an embed through a Discord webhook.
type Discord struct{ Hook }

func (d *Discord) targets(o Options) ([]Target, []string, error) {
	return d.single(o, func(p poster) Notifier { return &discord{p: p, url: d.HookURL} })
}

// discord posts one embed coloured by status, with the dead replicas and
// their reasons.
type discord struct {
	p   poster
	url string
}

type discordPayload struct {
	Embeds []discordEmbed `json:"embeds"`
}

type discordEmbed struct {
	Title       string         `json:"title"`
	Description string         `json:"description,omitempty"`
	URL         string         `json:"url"`
	Color       int            `json:"color"`
	Fields      []discordField `json:"fields"`
}

type discordField struct {
	Name   string `json:"name"`
	Value  string `json:"value"`
	Inline bool   `json:"inline,omitempty"`
}

// Discord's limits on an embed's title, description and field value.
const (
	discordTitleMax       = 256
	discordDescriptionMax = 4096
	discordFieldMax       = 1024
)

// Notify posts {"embeds": [{"title", "description", "url", "color",
// "fields"}]}: the headline as title, one dead replica per line with its
// reason, then Status, Time and, when replicas came back, Recovered.
func (d *discord) Notify(ctx context.Context, m Message) error {
	fields := []discordField{
		{Name: "Status", Value: m.Status.Title(), Inline: true},
		{Name: "Time", Value: m.Time, Inline: true},
	}
	if len(m.Recovered) > 0 {
		fields = append(fields, discordField{Name: "Recovered", Value: truncateRunes(joinList(m.Recovered), discordFieldMax)})
	}
	return postJSON(ctx, d.p, d.url, nil, discordPayload{Embeds: []discordEmbed{{
		Title:       truncateRunes(m.PageTitle+": "+headline(m), discordTitleMax),
		Description: truncateRunes(deadLines(m), discordDescriptionMax),
		URL:         m.PageURL,
		Color:       statusColor(m.Status),
		Fields:      fields,
	}}})
}
