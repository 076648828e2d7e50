package notify

import (
	"context"
	"net/http"
	"strconv"
)

// Opsgenie is [notify.opsgenie]: alerts through the Alert API of an API
// integration.
type Opsgenie struct {
	APIKey string `toml:"api_key" check:"secret"`
	// APIURL is the API's base: https://api.opsgenie.com (default) or, for
	// accounts in the EU, https://api.eu.opsgenie.com.
	APIURL   string `toml:"api_url" check:"optional-url" default:"https://api.opsgenie.com"`
	Priority string `toml:"priority" default:"P3"` // P1 to P5; escalated reminders one higher
	Common
}

// Check checks the priority.
func (g *Opsgenie) Check(c Checker) {
	if opsgeniePriority(g.Priority) == 0 {
		c.Errorf("priority", "unknown priority %q (want P1, P2, P3, P4 or P5)", g.Priority)
	}
}

func (g *Opsgenie) targets(o Options) ([]Target, []string, error) {
	create, err := joinURL(g.APIURL, "v2", "alerts")
	if err != nil {
		return nil, nil, err
	}
	level := opsgeniePriority(g.Priority)
	if level == 0 {
		level = 3
	}
	return single(&opsgenie{
		p:        o.poster(),
		create:   create.String(),
		auth:     http.Header{"Authorization": {"GenieKey " + g.APIKey}},
		priority: level,
		key:      g.APIKey,
	}, nil)
}

// opsgeniePriority returns n for "Pn" (1 to 5), 0 for anything else.
func opsgeniePriority(p string) int {
	if len(p) == 2 && p[0] == 'P' && p[1] >= '1' && p[1] <= '5' {
		return int(p[1] - '0')
	}
	return 0
}

// opsgenie creates an alert with the outage's alias when the page goes dead
// (Opsgenie counts the reminders into it) and closes that alias on
// recovery. It takes no startup notification.
type opsgenie struct {
	p        poster
	create   string // <api_url>/v2/alerts
	auth     http.Header
	priority int
	key      string
}

type opsgenieAlert struct {
	Message     string         `json:"message"`
	Alias       string         `json:"alias"`
	Description string         `json:"description"`
	Source      string         `json:"source"`
	Priority    string         `json:"priority"`
	Tags        []string       `json:"tags"`
	Details     map[string]any `json:"details"`
}

type opsgenieClose struct {
	Source string `json:"source"`
	Note   string `json:"note"`
}

// Opsgenie's limits on an alert's message and description, in characters.
const (
	opsgenieMessageMax     = 130
	opsgenieDescriptionMax = 15000
)

// Notify creates the alert while the page is dead, escalated reminders one
// priority higher, and closes it by alias otherwise.
func (g *opsgenie) Notify(ctx context.Context, m Message) error {
	if m.Kind == Startup {
		return nil
	}
	alias := OutageKey(m)
	if !opens(m) {
		u, err := joinURL(g.create, alias, "close")
		if err != nil {
			return &Error{Err: err}
		}
		u.RawQuery = "identifierType=alias"
		return postJSON(ctx, g.p, u.String(), g.auth, opsgenieClose{Source: m.PageURL, Note: recoveryNote(m)}, g.key)
	}
	level := g.priority
	if m.Escalated && level > 1 {
		level--
	}
	return postJSON(ctx, g.p, g.create, g.auth, opsgenieAlert{
		Message:     truncateRunes(incidentSummary(m), opsgenieMessageMax),
		Alias:       alias,
		Description: truncateRunes(plainText(m), opsgenieDescriptionMax),
		Source:      m.PageURL,
		Priority:    "P" + strconv.Itoa(level),
		Tags:        []string{"vigil", m.Status.String()},
		Details:     opsgenieDetails(m),
	}, g.key)
}

// opsgenieDetails flattens incidentDetails: Opsgenie's details are
// string to string.
func opsgenieDetails(m Message) map[string]any {
	d := map[string]any{"status": m.Status.String(), "dead": joinList(m.Dead), "time": m.Time, "page": m.PageURL}
	for r, why := range m.Reasons {
		d["reason "+r] = why
	}
	return d
}
