package subscribe

import (
	"bytes"
	"encoding/json"
	"fmt"
	"html/template"
	"strings"
	"time"

	"github.com/vigil-go/vigil/internal/notify"
	"github.com/vigil-go/vigil/internal/outbox"
	"github.com/vigil-go/vigil/internal/store"
)

// Channels of the outbox that carry subscribers' messages. Their targets
// are subscriber ids.
const (
	ChannelEmail   = "subscribers-email"
	ChannelWebhook = "subscribers-webhook"
)

// channelOf is the outbox channel of each kind of subscriber: the one
// table fanOut sends by and Channels serves.
var channelOf = map[string]string{
	store.SubscriberEmail:   ChannelEmail,
	store.SubscriberWebhook: ChannelWebhook,
}

// Kinds of content.
const (
	kindConfirm  = "confirm"  // the confirmation mail of a pending address
	kindBulletin = "bulletin" // an event, for a confirmed subscriber
)

// content is what an outbox entry of the subscribers' channels holds, in
// notify.Message.Content. The unsubscribe link is not in it: it is made
// when the message is sent, from the subscriber then in the store.
type content struct {
	Kind  string `json:"kind"`
	Link  string `json:"link,omitempty"` // the confirmation link
	Event *Event `json:"event,omitempty"`
}

// item is the outbox entry for one message to one subscriber.
func (s *Service) item(id, channel, subscriber string, c content) (outbox.Item, error) {
	body, err := json.Marshal(c)
	if err != nil {
		return outbox.Item{}, fmt.Errorf("encode %s: %w", id, err)
	}
	kind := notify.Kind(c.Kind)
	if c.Event != nil {
		kind = notify.Kind(c.Event.Type)
	}
	l := s.look.Load()
	return outbox.Item{ID: id, Channel: channel, Target: subscriber,
		Message: notify.Message{Kind: kind, PageTitle: l.title, PageURL: l.pageURL, Content: body}}, nil
}

// mail is one rendered message.
type mail struct {
	Subject, Text, HTML string
}

// dateLayout shows when something happens, in [branding] time_zone.
const dateLayout = "Mon 2 Jan 2006, 15:04 UTC-07:00"

func (s *Service) date(t time.Time) string { return t.In(s.look.Load().loc).Format(dateLayout) }

// renderConfirm is the confirmation mail.
func (s *Service) renderConfirm(link string) mail {
	l := s.look.Load()
	title := l.title
	text := fmt.Sprintf(`Someone, hopefully you, asked to be told by e-mail about incidents and maintenance on %s (%s).

To confirm, open this link within 24 hours:

%s

If you did not ask for this, ignore this message: nothing more will be sent to you.
`, title, l.pageURL, link)
	return mail{Subject: "Confirm your subscription to " + title, Text: text,
		HTML: s.renderHTML(htmlView{Title: title, Heading: "Confirm your subscription",
			Paragraphs: []string{"Someone, hopefully you, asked to be told by e-mail about incidents and maintenance on " + title + "."},
			Button:     "Confirm my subscription", ButtonURL: link,
			Footer: "The link works for 24 hours. If you did not ask for this, ignore this message: nothing more will be sent to you."})}
}

// headline is the subject line of an event.
func (s *Service) headline(e Event) string {
	switch e.Type {
	case IncidentOpened:
		return "Incident: " + e.Title
	case IncidentUpdated:
		return "Update on the incident: " + e.Title
	case IncidentResolved:
		return "Resolved: " + e.Title
	case MaintenanceScheduled:
		return "Maintenance scheduled: " + e.Title
	case MaintenanceStarted:
		return "Maintenance started: " + e.Title
	case MaintenanceEnded:
		return "Maintenance ended: " + e.Title
	default:
		return e.Title
	}
}

// lines are the facts of an event, one per line.
func (s *Service) lines(e Event) []string {
	var out []string
	if e.Status != "" && e.Type != IncidentResolved {
		out = append(out, "Status: "+e.Status)
	}
	if e.Text != "" {
		out = append(out, e.Text)
	}
	if len(e.Affected) > 0 {
		out = append(out, "Affected: "+strings.Join(e.Affected, ", "))
	}
	switch e.Type {
	case MaintenanceScheduled, MaintenanceStarted, MaintenanceEnded:
		out = append(out, "From "+s.date(e.Start)+" to "+s.date(e.End))
	default:
		out = append(out, "At "+s.date(e.At))
	}
	return out
}

// renderBulletin is the mail about an event, with its unsubscribe link.
func (s *Service) renderBulletin(e Event, unsubscribe string) mail {
	l := s.look.Load()
	title := l.title
	subject := fmt.Sprintf("[%s] %s", title, s.headline(e))
	var b strings.Builder
	b.WriteString(s.headline(e) + "\n\n")
	for _, l := range s.lines(e) {
		b.WriteString(l + "\n")
	}
	fmt.Fprintf(&b, "\nThe status page: %s\n\n-- \nYou get this because you subscribed to %s.\nUnsubscribe: %s\n", l.pageURL, title, unsubscribe)
	return mail{Subject: subject, Text: b.String(),
		HTML: s.renderHTML(htmlView{Title: title, Heading: s.headline(e), Paragraphs: s.lines(e),
			Button: "Open the status page", ButtonURL: l.pageURL,
			Footer: "You get this because you subscribed to " + title + ".", Unsubscribe: unsubscribe})}
}

type htmlView struct {
	Title, Heading    string
	Paragraphs        []string
	Button, ButtonURL string
	Footer            string
	Unsubscribe       string
}

// mailHTML is the HTML part of every mail: plain markup with inline
// styles, which is what mail clients render.
var mailHTML = template.Must(template.New("mail").Parse(`<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>{{.Title}}</title></head>
<body style="font-family: sans-serif; color: #222; max-width: 600px; margin: 0 auto; padding: 16px;">
<p style="color: #666;">{{.Title}}</p>
<h1 style="font-size: 20px;">{{.Heading}}</h1>
{{- range .Paragraphs}}
<p style="white-space: pre-line;">{{.}}</p>
{{- end}}
<p><a href="{{.ButtonURL}}" style="display: inline-block; padding: 10px 16px; background: #1972F5; color: #fff; text-decoration: none; border-radius: 4px;">{{.Button}}</a></p>
<hr style="border: none; border-top: 1px solid #ddd;">
<p style="color: #666; font-size: 13px;">{{.Footer}}{{with .Unsubscribe}} <a href="{{.}}" style="color: #666;">Unsubscribe</a>{{end}}</p>
</body></html>
`))

func (s *Service) renderHTML(v htmlView) string {
	var b bytes.Buffer
	if err := mailHTML.Execute(&b, v); err != nil {
		// The template is fixed and its data are strings: it cannot fail
		// but on a bug, and the text part still says everything.
		s.log.Error("subscription: render the HTML part", "error", err)
		return ""
	}
	return b.String()
}
