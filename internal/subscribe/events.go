package subscribe

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/vigil-go/vigil/internal/store"
)

// Types of Event, as webhook payloads name them.
const (
	IncidentOpened       = "incident.opened"
	IncidentUpdated      = "incident.updated"
	IncidentResolved     = "incident.resolved"
	MaintenanceScheduled = "maintenance.scheduled"
	MaintenanceStarted   = "maintenance.started"
	MaintenanceEnded     = "maintenance.ended"
	AnnouncementNew      = "announcement.published"
)

// Event is one thing subscribers are told about. Its JSON form is the
// webhook payload and what an outbox entry keeps, so it is stable.
type Event struct {
	// Key identifies the event ("incident:12:opened"): the same whenever
	// it is derived again, so that it is sent once.
	Key  string    `json:"id"`
	Type string    `json:"type"`
	At   time.Time `json:"time"`
	// Title is the incident's title, the announcement's, or the
	// maintenance window's message.
	Title  string `json:"title"`
	Text   string `json:"text,omitempty"`
	Status string `json:"status,omitempty"` // an incident update's status
	// Services are the ids of the services concerned; empty: all of them.
	Services []string `json:"services"`
	// Affected names what is concerned for people: "Web: API" for a
	// node, "Web" for a whole service. Never a replica.
	Affected []string  `json:"affected,omitempty"`
	Start    time.Time `json:"start,omitzero"` // maintenance windows
	End      time.Time `json:"end,omitzero"`
	PageURL  string    `json:"page_url"`
}

// concerns reports whether a subscriber to services (empty: all) hears
// about e.
func (e Event) concerns(services []string) bool {
	if len(services) == 0 || len(e.Services) == 0 {
		return true
	}
	for _, s := range e.Services {
		if slices.Contains(services, s) {
			return true
		}
	}
	return false
}

// eventStore is the part of the store events are read from.
type eventStore interface {
	Incidents(ctx context.Context, f store.IncidentFilter) ([]store.Incident, error)
	Maintenance(ctx context.Context, since, until time.Time) ([]store.Window, error)
	Announcements(ctx context.Context) ([]store.Announcement, error)
}

// events derives every event that happened at or after since, up to now,
// and the maintenance windows scheduled after now, oldest first.
func (s *Service) events(ctx context.Context, since, now time.Time) ([]Event, error) {
	var out []Event
	incidents, err := s.st.Incidents(ctx, store.IncidentFilter{Since: since})
	if err != nil {
		return nil, fmt.Errorf("read incidents: %w", err)
	}
	for _, in := range incidents {
		out = append(out, s.incidentEvents(in)...)
	}
	windows, err := s.st.Maintenance(ctx, since, time.Time{})
	if err != nil {
		return nil, fmt.Errorf("read maintenance: %w", err)
	}
	for _, w := range windows {
		out = append(out, s.windowEvents(w, now)...)
	}
	anns, err := s.st.Announcements(ctx)
	if err != nil {
		return nil, fmt.Errorf("read announcements: %w", err)
	}
	for _, a := range anns {
		out = append(out, Event{Key: "announcement:" + a.ID, Type: AnnouncementNew, At: a.Time,
			Title: a.Title, Text: a.Text, Services: []string{}, PageURL: s.look.Load().pageURL})
	}
	// An event is new only once: older ones were sent, or happened before
	// subscriptions started. Scheduled windows are dated by their start.
	out = slices.DeleteFunc(out, func(e Event) bool { return e.At.Before(since) || (e.At.After(now) && e.Type != MaintenanceScheduled) })
	slices.SortStableFunc(out, func(a, b Event) int { return a.At.Compare(b.At) })
	return out, nil
}

// incidentEvents are an incident's opening, its updates and its
// resolution. The update written with the opening (or the resolution) is
// part of that message rather than a message of its own.
func (s *Service) incidentEvents(in store.Incident) []Event {
	services, affected := s.describeNodes(in.Nodes)
	base := Event{Title: in.Title, Services: services, Affected: affected, PageURL: s.look.Load().pageURL}
	key := fmt.Sprintf("incident:%d:", in.ID)
	opened := base
	opened.Key, opened.Type, opened.At = key+"opened", IncidentOpened, in.Opened
	resolved := base
	resolved.Key, resolved.Type, resolved.At = key+"resolved", IncidentResolved, in.Resolved
	var updates []Event
	for _, u := range in.Updates {
		switch {
		case u.Time.Equal(in.Opened) && opened.Text == "":
			opened.Text, opened.Status = u.Text, u.Status
		case !in.IsOpen() && u.Time.Equal(in.Resolved) && resolved.Text == "":
			resolved.Text, resolved.Status = u.Text, u.Status
		default:
			e := base
			e.Key, e.Type, e.At = fmt.Sprintf("%supdate:%d", key, u.ID), IncidentUpdated, u.Time
			e.Text, e.Status = u.Text, u.Status
			updates = append(updates, e)
		}
	}
	out := append([]Event{opened}, updates...)
	if !in.IsOpen() {
		out = append(out, resolved)
	}
	return out
}

// windowEvents are a window's scheduling (while it is still ahead), its
// start and its end, as far as now has reached.
func (s *Service) windowEvents(w store.Window, now time.Time) []Event {
	services, affected := s.describeTargets(w.Targets)
	base := Event{Title: w.Message, Services: services, Affected: affected, Start: w.Start, End: w.End, PageURL: s.look.Load().pageURL}
	if base.Title == "" {
		base.Title = "Scheduled maintenance"
	}
	key := fmt.Sprintf("maintenance:%d:%d-%d:", w.ID, w.Start.UnixMilli(), w.End.UnixMilli())
	var out []Event
	if now.Before(w.Start) {
		e := base
		e.Key, e.Type, e.At = key+"scheduled", MaintenanceScheduled, w.Start
		out = append(out, e)
	}
	if !now.Before(w.Start) {
		e := base
		e.Key, e.Type, e.At = key+"started", MaintenanceStarted, w.Start
		out = append(out, e)
	}
	if !now.Before(w.End) {
		e := base
		e.Key, e.Type, e.At = key+"ended", MaintenanceEnded, w.End
		out = append(out, e)
	}
	return out
}

// describeNodes turns "service:node" ids into the services concerned and
// their labels, as the page shows them.
func (s *Service) describeNodes(nodes []string) (services, affected []string) {
	services = []string{}
	labels := s.look.Load().labels
	for _, n := range nodes {
		svc, node, _ := strings.Cut(n, ":")
		if !slices.Contains(services, svc) {
			services = append(services, svc)
		}
		affected = append(affected, labels.node(svc, node))
	}
	return services, affected
}

// describeTargets does the same for maintenance targets, "service" or
// "service:node"; none means everything.
func (s *Service) describeTargets(targets []string) (services, affected []string) {
	services = []string{}
	labels := s.look.Load().labels
	for _, t := range targets {
		svc, node, hasNode := strings.Cut(t, ":")
		if !slices.Contains(services, svc) {
			services = append(services, svc)
		}
		if hasNode {
			affected = append(affected, labels.node(svc, node))
		} else {
			affected = append(affected, labels.service(svc))
		}
	}
	return services, affected
}
