package notify

// Every human-readable text of every channel lives in this file, so that the
// wording can be reviewed (and kept byte-compatible with Vigil) in one place.
//
// Notation in the comments below, after Vigil's: S is the status in lower
// case ("dead"), SU in upper case ("DEAD"), SD capitalised ("Dead"); L is the
// dead list joined with ", "; T the time; P the page title; U the page URL.
//
// Replicas that recovered are a fact Vigil never sent. They are added after
// everything Vigil sends (a last line, a last field), never inside an
// existing field, so that whatever parses Vigil's messages keeps working.

import (
	"fmt"
	"html"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/vigil-go/vigil/internal/status"
)

// statusIcon is the icon Telegram and Matrix put before the headline.
func statusIcon(h status.Health) string {
	switch h {
	case status.Dead:
		return "\u274c" // ❌
	case status.Sick:
		return "\u26a0" // ⚠
	}
	return "\u2705" // ✅
}

// phrase starts the one-line headline of Slack, Zulip, Telegram and Matrix.
func phrase(k Kind) string {
	switch k {
	case Startup:
		return "Status started up, as"
	case Reminder:
		return "Status is still"
	}
	return "Status changed to"
}

// reportHeader is the first line of email and Webex messages.
func reportHeader(k Kind, title string) string {
	switch k {
	case Startup:
		return "Status startup alert from: " + title
	case Reminder:
		return "Status unchanged reminder from: " + title
	}
	return "Status change report from: " + title
}

func upper(h status.Health) string { return strings.ToUpper(h.String()) }

func joinList(items []string) string { return strings.Join(items, ", ") }

// smsMax is the longest SMS text Vigil sends, in bytes; longer texts are cut
// to smsKeep bytes followed by smsCut.
const (
	smsMax  = 1000
	smsKeep = 996
	smsCut  = "[..]"
)

// smsBase is the text Twilio and XMPP share, without anything new:
//
//	[Startup alert for: |Reminder for: ]P
//
//	Status: SD
//	Nodes: L
//	Time: T
func smsBase(m Message) string {
	var b strings.Builder
	switch m.Kind {
	case Startup:
		b.WriteString("Startup alert for: ")
	case Reminder:
		b.WriteString("Reminder for: ")
	}
	b.WriteString(m.PageTitle)
	b.WriteString("\n\nStatus: ")
	b.WriteString(m.Status.Title())
	b.WriteString("\nNodes: ")
	b.WriteString(joinList(m.Dead))
	b.WriteString("\nTime: ")
	b.WriteString(m.Time)
	b.WriteString("\n")
	return b.String()
}

// twilioText is the SMS body: smsBase, then "Recovered: …" when replicas
// came back, cut to 1000 bytes. Unlike Vigil, the cut never splits a UTF-8
// character.
func twilioText(m Message) string {
	s := smsBase(m)
	if len(m.Recovered) > 0 {
		s += "Recovered: " + joinList(m.Recovered) + "\n"
	}
	return truncateBytes(s, smsMax, smsKeep, smsCut)
}

// truncateBytes returns s when it fits in max bytes, else its longest prefix
// of at most keep bytes that ends on a character boundary, followed by mark.
func truncateBytes(s string, max, keep int, mark string) string {
	if len(s) <= max {
		return s
	}
	cut := keep
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + mark
}

// xmppText is smsBase followed by "URL: U" (and "Recovered: …").
func xmppText(m Message) string {
	s := smsBase(m) + "URL: " + m.PageURL
	if len(m.Recovered) > 0 {
		s += "\nRecovered: " + joinList(m.Recovered)
	}
	return s
}

// emailSubject is "SU", or "SU | L" when replicas are dead.
func emailSubject(m Message) string {
	if len(m.Dead) == 0 {
		return upper(m.Status)
	}
	return upper(m.Status) + " | " + joinList(m.Dead)
}

// emailBody is the plain-text mail body.
func emailBody(m Message) string {
	var b strings.Builder
	b.WriteString(reportHeader(m.Kind, m.PageTitle))
	b.WriteString("\n\n--\nStatus: ")
	b.WriteString(m.Status.Title())
	b.WriteString("\nNodes: ")
	b.WriteString(joinList(m.Dead))
	b.WriteString("\nTime: ")
	b.WriteString(m.Time)
	b.WriteString("\nURL: ")
	b.WriteString(m.PageURL)
	if len(m.Recovered) > 0 {
		b.WriteString("\nRecovered: ")
		b.WriteString(joinList(m.Recovered))
	}
	b.WriteString("\n--\n\nTo unsubscribe, please edit your status page configuration.")
	return b.String()
}

// webexText is the Webex message text.
func webexText(m Message) string {
	s := reportHeader(m.Kind, m.PageTitle) +
		"\nStatus: " + m.Status.Title() +
		"\nNodes: " + joinList(m.Dead) +
		"\nTime: " + m.Time +
		"\nURL: " + m.PageURL
	if len(m.Recovered) > 0 {
		s += "\nRecovered: " + joinList(m.Recovered)
	}
	return s
}

// slackField is one attachment field of a Slack message.
type slackField struct {
	Title string `json:"title"`
	Value string `json:"value"`
	Short bool   `json:"short"`
}

// slackTexts returns the Slack text (with the @channel mention when asked),
// the attachment fallback, its colour and its fields.
func slackTexts(m Message, mention bool) (text, fallback, color string, fields []slackField) {
	headline := phrase(m.Kind) + ": *" + m.Status.String() + "*."
	fallback = headline
	if len(m.Dead) > 0 {
		fallback += " Nodes: *" + joinList(m.Dead) + "*."
		fields = append(fields, slackField{Title: "Nodes", Value: joinList(m.Dead)})
	}
	text = fallback
	if mention {
		text = "<!channel> " + fallback
	}
	switch m.Status {
	case status.Dead:
		color = "danger"
	case status.Sick:
		color = "warning"
	default:
		color = "good"
	}
	fields = append(fields,
		slackField{Title: "Status", Value: m.Status.Title(), Short: true},
		slackField{Title: "Time", Value: m.Time, Short: true},
		slackField{Title: "Monitor Page", Value: m.PageURL},
	)
	if len(m.Recovered) > 0 {
		fields = append(fields, slackField{Title: "Recovered", Value: joinList(m.Recovered)})
	}
	return text, fallback, color, fields
}

// zulipText is the Zulip message content. Vigil writes the status after
// "to: " with a leading space of its own, hence the double space, kept so
// that existing filters still match.
func zulipText(m Message) string {
	var emoji string
	switch m.Status {
	case status.Dead:
		emoji = " *dead* :boom:"
	case status.Sick:
		emoji = " *sick* :sick:"
	default:
		emoji = " *healthy* :check_mark:"
	}
	var b strings.Builder
	b.WriteString(phrase(m.Kind))
	b.WriteString(": ")
	b.WriteString(emoji)
	b.WriteString(".")
	if len(m.Dead) > 0 {
		b.WriteString("\n **Nodes**: *")
		b.WriteString(joinList(m.Dead))
		b.WriteString("*.")
	}
	b.WriteString("\n **Status**: ")
	b.WriteString(m.Status.Title())
	b.WriteString("\n **Time**: ")
	b.WriteString(m.Time)
	b.WriteString("\n **Page**: ")
	b.WriteString(m.PageURL)
	if len(m.Recovered) > 0 {
		b.WriteString("\n **Recovered**: *")
		b.WriteString(joinList(m.Recovered))
		b.WriteString("*.")
	}
	return b.String()
}

// zulipTopic is the topic every Vigil message goes to.
const zulipTopic = "Vigil status"

// telegramText is the Telegram message, in Telegram's legacy Markdown.
func telegramText(m Message) string {
	var b strings.Builder
	b.WriteString(statusIcon(m.Status))
	b.WriteString(" ")
	b.WriteString(phrase(m.Kind))
	b.WriteString(": *")
	b.WriteString(upper(m.Status))
	b.WriteString("*.\n")
	for i, r := range m.Dead {
		if i > 0 {
			b.WriteString("\n")
		}
		b.WriteString("- `")
		b.WriteString(r)
		b.WriteString("`: ")
		b.WriteString(m.Status.String())
	}
	b.WriteString("\nLink: ")
	b.WriteString(m.PageURL)
	if len(m.Recovered) > 0 {
		b.WriteString("\nRecovered: ")
		for i, r := range m.Recovered {
			if i > 0 {
				b.WriteString(", ")
			}
			b.WriteString("`" + r + "`")
		}
	}
	return b.String()
}

// pushoverHTML is the Pushover message, with Pushover's HTML subset.
func pushoverHTML(m Message) string {
	color := fmt.Sprintf("#%06X", statusColor(m.Status))
	var b strings.Builder
	switch m.Kind {
	case Startup:
		b.WriteString("<b><i>This is a startup alert.</i></b>\n\n")
	case Reminder:
		b.WriteString("<b><i>This is a reminder.</i></b>\n\n")
	}
	b.WriteString(`<u>Status:</u> <b><font color="` + color + `">` + upper(m.Status) + "</font></b>\n")
	b.WriteString("<u>Nodes:</u> " + joinList(m.Dead) + "\n")
	b.WriteString("<u>Time:</u> " + m.Time)
	if len(m.Recovered) > 0 {
		b.WriteString("\n<u>Recovered:</u> " + html.EscapeString(joinList(m.Recovered)))
	}
	return b.String()
}

// pushoverURLTitle is the label of the link to the status page.
func pushoverURLTitle(title string) string { return "Details on " + title }

// gotifyText is the Gotify message: one dead replica per line.
func gotifyText(m Message) string {
	var b strings.Builder
	switch m.Kind {
	case Startup:
		b.WriteString("This is a startup alert.\n\n")
	case Reminder:
		b.WriteString("This is a reminder.\n\n")
	}
	b.WriteString("Status: " + upper(m.Status) + "\n")
	b.WriteString("Nodes:\n" + strings.Join(m.Dead, "\n") + "\n")
	b.WriteString("Time: " + m.Time)
	if len(m.Recovered) > 0 {
		b.WriteString("\nRecovered:\n" + strings.Join(m.Recovered, "\n"))
	}
	return b.String()
}

// matrixBody is the plain body of every Matrix message; clients show the
// formatted body instead.
const matrixBody = "You received a Vigil alert."

// matrixHTML is the Matrix formatted_body: dead replicas are counted per
// "service:node", in the order the nodes first appear in the dead list.
func matrixHTML(m Message) string {
	var b strings.Builder
	b.WriteString("<p>" + statusIcon(m.Status) + " " + phrase(m.Kind) + ": <em>" + upper(m.Status) + "</em>.</p>")
	if len(m.Dead) > 0 {
		var order []string
		counts := map[string]int{}
		for _, r := range m.Dead {
			node := serviceNode(r)
			if counts[node] == 0 {
				order = append(order, node)
			}
			counts[node]++
		}
		b.WriteString("<ul>")
		for _, node := range order {
			b.WriteString("<li><code>" + node + "</code>: " + strconv.Itoa(counts[node]) + " " + m.Status.String() + "</li>")
		}
		b.WriteString("</ul>")
	}
	b.WriteString("<p>Status page: " + m.PageURL + "</p>")
	b.WriteString("<p>Time: " + m.Time + "</p>")
	if len(m.Recovered) > 0 {
		b.WriteString("<p>Recovered: ")
		for i, r := range m.Recovered {
			if i > 0 {
				b.WriteString(", ")
			}
			b.WriteString("<code>" + html.EscapeString(r) + "</code>")
		}
		b.WriteString("</p>")
	}
	return b.String()
}

// serviceNode returns the "service:node" prefix of a "service:node:replica"
// id (replica ids are URLs and contain colons themselves).
func serviceNode(id string) string {
	if i := strings.IndexByte(id, ':'); i >= 0 {
		if j := strings.IndexByte(id[i+1:], ':'); j >= 0 {
			return id[:i+1+j]
		}
	}
	return id
}

// The wording below is new (Vigil has none of these channels); it follows
// the Slack text: the same headline, then each dead replica with its reason.

// headline is the first line of Discord, Teams and ntfy messages:
// "Status changed to: dead.", as Slack's without its Markdown.
func headline(m Message) string { return phrase(m.Kind) + ": " + m.Status.String() + "." }

// deadLines lists one dead replica per line, with the reason when known:
// "- web:api:https://x/: timed out".
func deadLines(m Message) string {
	var b strings.Builder
	for i, r := range m.Dead {
		if i > 0 {
			b.WriteString("\n")
		}
		b.WriteString("- " + r)
		if why := m.Reasons[r]; why != "" {
			b.WriteString(": " + why)
		}
	}
	return b.String()
}

// incidentSummary is the one line PagerDuty and Opsgenie show for an
// outage: "Crisp Status is dead: web:api:a, web:api:b".
func incidentSummary(m Message) string {
	s := m.PageTitle + " is " + m.Status.String()
	if len(m.Dead) > 0 {
		s += ": " + joinList(m.Dead)
	}
	return s
}

// recoveryNote is what closes an incident: "Crisp Status is no longer
// dead, now healthy (recovered: web:api:a)".
func recoveryNote(m Message) string {
	s := m.PageTitle + " is no longer dead, now " + m.Status.String()
	if len(m.Recovered) > 0 {
		s += " (recovered: " + joinList(m.Recovered) + ")"
	}
	return s
}

// plainText is the body of ntfy messages and of the Adaptive Card: the
// headline, the dead replicas with their reasons, the recovered ones, the
// time and the page.
func plainText(m Message) string {
	s := headline(m)
	if len(m.Dead) > 0 {
		s += "\n" + deadLines(m)
	}
	if len(m.Recovered) > 0 {
		s += "\nRecovered: " + joinList(m.Recovered)
	}
	return s + "\nTime: " + m.Time + "\nPage: " + m.PageURL
}

// statusColor is the colour of a status as Pushover, Discord and Teams
// show it, as 0xRRGGBB.
func statusColor(h status.Health) int {
	switch h {
	case status.Dead:
		return 0xC4291C
	case status.Sick:
		return 0xD5A048
	}
	return 0x54A158
}

// truncateRunes cuts s to max characters, the last being "…" when cut.
func truncateRunes(s string, max int) string {
	if utf8.RuneCountInString(s) <= max {
		return s
	}
	r := []rune(s)
	return string(r[:max-1]) + "…"
}

// byStatus picks the word a channel uses for a status.
func byStatus(h status.Health, dead, sick, healthy string) string {
	switch h {
	case status.Dead:
		return dead
	case status.Sick:
		return sick
	}
	return healthy
}
