package statuspage

import (
	"crypto/sha256"
	"encoding/base32"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/vigil-go/vigil/internal/status"
	"github.com/vigil-go/vigil/internal/store"
)

// Input is everything the documents show.
type Input struct {
	Name     string         // [branding] page_title
	URL      string         // [branding] page_url, as the page's links use it
	Location *time.Location // [branding] time_zone; nil is UTC
	Snapshot *status.Snapshot
	// Incidents are the history's incidents, most recently opened first;
	// Windows its maintenance windows.
	Incidents []store.Incident
	Windows   []store.Window
	// Now decides which windows are upcoming, in progress or completed.
	Now time.Time
	// Started is the created_at of a node whose history is unknown.
	Started time.Time
	// Created returns when a node's retained history starts (zero when it
	// has none); nil when there is no history.
	Created func(service, node string) time.Time
}

// Set holds the documents built from one Input.
type Set struct {
	bodies map[Document]any
}

// Body returns the body of document d, ready to be encoded as JSON; nil for
// a document that is not in Documents.
func (s *Set) Body(d Document) any { return s.bodies[d] }

// Component statuses, from best to worst: a group takes its worst
// component's.
var componentStatuses = []string{"operational", "under_maintenance", "degraded_performance", "partial_outage", "major_outage"}

const (
	operational         = "operational"
	underMaintenance    = "under_maintenance"
	degradedPerformance = "degraded_performance"
	partialOutage       = "partial_outage"
	majorOutage         = "major_outage"
)

// listLimit is how many incidents and maintenances the full lists hold, as
// on Statuspage; unresolved incidents are always listed.
const listLimit = 50

// Build builds every document of in.
func Build(in Input) *Set {
	b := &builder{in: in, loc: in.Location, nodes: make(map[string]Component)}
	if b.loc == nil {
		b.loc = time.UTC
	}
	if b.in.Snapshot == nil {
		b.in.Snapshot = &status.Snapshot{}
	}
	pageKey := in.URL
	if pageKey == "" {
		pageKey = in.Name
	}
	b.pageID = ID("page", pageKey)

	components := b.components()
	st := b.status()
	var all, unresolved []Incident
	for _, inc := range in.Incidents {
		doc := b.incident(inc)
		if inc.IsOpen() {
			unresolved = append(unresolved, doc)
		}
		if inc.IsOpen() || len(all) < listLimit {
			all = append(all, doc)
		}
	}
	var maintenances, upcoming, active, current []Maintenance
	windows := slices.Clone(in.Windows)
	slices.SortStableFunc(windows, func(x, y store.Window) int { return y.Start.Compare(x.Start) }) // newest first
	for _, w := range windows {
		doc := b.maintenance(w)
		if len(maintenances) < listLimit {
			maintenances = append(maintenances, doc)
		}
		switch doc.Status {
		case "scheduled":
			upcoming = append(upcoming, doc)
			current = append(current, doc)
		case "in_progress":
			active = append(active, doc)
			current = append(current, doc)
		}
	}

	page := Page{ID: b.pageID, Name: in.Name, URL: in.URL, TimeZone: zoneName(b.loc), UpdatedAt: b.format(b.pageUpdated())}
	orEmpty := func(l []Incident) []Incident {
		if l == nil {
			return []Incident{}
		}
		return l
	}
	orNone := func(l []Maintenance) []Maintenance {
		if l == nil {
			return []Maintenance{}
		}
		return l
	}
	return &Set{bodies: map[Document]any{
		DocSummary: SummaryBody{Page: page, Components: components, Incidents: orEmpty(unresolved),
			ScheduledMaintenances: orNone(current), Status: st},
		DocStatus:       StatusBody{Page: page, Status: st},
		DocComponents:   ComponentsBody{Page: page, Components: components},
		DocUnresolved:   IncidentsBody{Page: page, Incidents: orEmpty(unresolved)},
		DocIncidents:    IncidentsBody{Page: page, Incidents: orEmpty(all)},
		DocUpcoming:     MaintenancesBody{Page: page, ScheduledMaintenances: orNone(upcoming)},
		DocActive:       MaintenancesBody{Page: page, ScheduledMaintenances: orNone(active)},
		DocMaintenances: MaintenancesBody{Page: page, ScheduledMaintenances: orNone(maintenances)},
	}}
}

// ID derives a Statuspage-like id (12 characters of [a-z2-7]) from what
// names a thing in Vigil, so that it stays the same across restarts and
// reloads, on every member of a cluster, without being stored.
func ID(kind string, parts ...string) string {
	h := sha256.New()
	h.Write([]byte(kind))
	for _, p := range parts {
		h.Write([]byte{0})
		h.Write([]byte(p))
	}
	return strings.ToLower(idEncoding.EncodeToString(h.Sum(nil)[:10]))[:12]
}

var idEncoding = base32.StdEncoding.WithPadding(base32.NoPadding)

type builder struct {
	in     Input
	loc    *time.Location
	pageID string
	nodes  map[string]Component // by "service:node", as incidents and windows name them
	// latest is the last time anything shown changed, for page.updated_at.
	latest time.Time
}

// touch notes that something shown changed at t.
func (b *builder) touch(t time.Time) {
	if t.After(b.latest) && !t.After(b.in.Now) {
		b.latest = t
	}
}

func (b *builder) pageUpdated() time.Time {
	switch {
	case !b.latest.IsZero():
		return b.latest
	case !b.in.Snapshot.Refreshed.IsZero():
		return b.in.Snapshot.Refreshed
	}
	return b.in.Started
}

// format writes t as ISO 8601 with milliseconds, in the page's time zone,
// as Statuspage does.
func (b *builder) format(t time.Time) string {
	return t.In(b.loc).Format("2006-01-02T15:04:05.000Z07:00")
}

func (b *builder) formatPtr(t time.Time) *string {
	if t.IsZero() {
		return nil
	}
	s := b.format(t)
	return &s
}

// zoneName is the IANA name of loc, "Etc/UTC" for UTC.
func zoneName(loc *time.Location) string {
	if loc == time.UTC || loc.String() == "UTC" {
		return "Etc/UTC"
	}
	return loc.String()
}

// components lists every group followed by its components, in page order.
func (b *builder) components() []Component {
	var out []Component
	for si, svc := range b.in.Snapshot.Services {
		groupID := ID("service", svc.ID)
		group := Component{ID: groupID, Name: svc.Label, Status: operational, Position: si + 1, PageID: b.pageID,
			Group: true, Components: make([]string, 0, len(svc.Nodes))}
		nodes := make([]Component, 0, len(svc.Nodes))
		var groupCreated, groupUpdated time.Time
		for ni, node := range svc.Nodes {
			created, updated := b.nodeTimes(svc.ID, node)
			c := Component{
				ID: ID("node", svc.ID, node.ID), Name: node.Label, Status: b.nodeStatus(svc.ID, node),
				CreatedAt: b.format(created), UpdatedAt: b.format(updated), Position: ni + 1,
				Showcase: true, GroupID: &groupID, PageID: b.pageID, Vantages: vantages(node),
			}
			group.Components = append(group.Components, c.ID)
			if worse(c.Status, group.Status) {
				group.Status = c.Status
			}
			if groupCreated.IsZero() || created.Before(groupCreated) {
				groupCreated = created
			}
			if updated.After(groupUpdated) {
				groupUpdated = updated
			}
			b.touch(updated)
			b.nodes[svc.ID+":"+node.ID] = c
			nodes = append(nodes, c)
		}
		if groupCreated.IsZero() {
			groupCreated, groupUpdated = b.in.Started, b.in.Started
		}
		group.CreatedAt, group.UpdatedAt = b.format(groupCreated), b.format(groupUpdated)
		out = append(out, group)
		out = append(out, nodes...)
	}
	if out == nil {
		out = []Component{}
	}
	return out
}

// nodeTimes returns when a node was created (its history's start) and last
// changed (its latest replica status change).
func (b *builder) nodeTimes(service string, node status.Node) (created, updated time.Time) {
	for _, r := range node.Replicas {
		if r.Since.After(updated) {
			updated = r.Since
		}
	}
	if b.in.Created != nil {
		created = b.in.Created(service, node.ID)
	}
	if created.IsZero() {
		created = b.in.Started
	}
	if !updated.IsZero() && updated.Before(created) {
		created = updated // it changed before the retained history starts
	}
	if updated.IsZero() {
		updated = created
	}
	return created, updated
}

// worse reports whether component status a is worse than b.
func worse(a, b string) bool {
	return slices.Index(componentStatuses, a) > slices.Index(componentStatuses, b)
}

// nodeStatus maps a node's health to a component status.
func (b *builder) nodeStatus(service string, node status.Node) string {
	for _, w := range b.in.Windows {
		if b.inForce(w) && w.Covers(service, node.ID) {
			return underMaintenance
		}
	}
	if node.Health == status.Dead {
		for _, r := range node.Replicas {
			if r.Health != status.Dead {
				return partialOutage
			}
		}
	}
	return componentStatus(node.Health)
}

// componentStatus is the component status of a health.
func componentStatus(h status.Health) string {
	switch h {
	case status.Sick:
		return degradedPerformance
	case status.Dead:
		return majorOutage
	}
	return operational
}

// vantages tells, per vantage point of a cluster, the worst status it sees
// of the node's replicas, sorted by label; nil outside a cluster. Members'
// reasons are left out: they name the targets.
func vantages(node status.Node) []Vantage {
	worst := map[string]status.Health{}
	for _, r := range node.Replicas {
		for _, v := range r.Views {
			if h, ok := worst[v.Label]; !ok || v.Health > h {
				worst[v.Label] = v.Health
			}
		}
	}
	if len(worst) == 0 {
		return nil
	}
	out := make([]Vantage, 0, len(worst))
	for _, label := range slices.Sorted(maps.Keys(worst)) {
		out = append(out, Vantage{Label: label, Status: componentStatus(worst[label])})
	}
	return out
}

func (b *builder) inForce(w store.Window) bool {
	return !b.in.Now.Before(w.Start) && b.in.Now.Before(w.End)
}

// status is the page's indicator: the worst component, maintenance left out.
func (b *builder) status() Status {
	worst, counted, allOut, maintenance := operational, 0, true, false
	for _, c := range b.nodes {
		if c.Status == underMaintenance {
			maintenance = true
			continue
		}
		counted++
		if c.Status != majorOutage {
			allOut = false
		}
		if worse(c.Status, worst) {
			worst = c.Status
		}
	}
	switch {
	case counted > 0 && allOut:
		return Status{Indicator: "critical", Description: "Major System Outage"}
	case worst == majorOutage || worst == partialOutage:
		return Status{Indicator: "major", Description: "Partial System Outage"}
	case worst == degradedPerformance:
		return Status{Indicator: "minor", Description: "Minor Service Outage"}
	case maintenance:
		return Status{Indicator: "none", Description: "Service Under Maintenance"}
	}
	return Status{Indicator: "none", Description: "All Systems Operational"}
}

// incidentStatuses are the statuses of an open incident; "resolved" and
// "postmortem" follow.
var incidentStatuses = []string{"investigating", "identified", "monitoring"}

// updateStatus is the incident status after an update of Vigil's status
// st, cur before it: Vigil's "detected" (an automatic incident's first
// update) is Statuspage's "investigating", and an update without a status
// keeps the current one.
func updateStatus(st, cur string) string {
	switch {
	case st == "detected":
		return "investigating"
	case st == "resolved", slices.Contains(incidentStatuses, st):
		return st
	}
	return cur
}

// incident maps a stored incident.
func (b *builder) incident(in store.Incident) Incident {
	id := ID("incident", strconv.FormatInt(in.ID, 10))
	doc := Incident{
		ID: id, Name: in.Title, CreatedAt: b.format(in.Opened), StartedAt: b.format(in.Opened),
		Impact: "minor", Shortlink: b.shortlink(in.ID), PageID: b.pageID, Components: []Component{},
	}
	if in.Auto {
		// Vigil opens one when a node goes dead: an outage of a component.
		doc.Impact = "major"
	}
	cur, updated := "investigating", in.Opened
	var updates []IncidentUpdate
	for _, u := range in.Updates {
		cur = updateStatus(u.Status, cur)
		if cur == "monitoring" && doc.MonitoringAt == nil {
			doc.MonitoringAt = b.formatPtr(u.Time)
		}
		updates = append(updates, b.update(ID("incident-update", strconv.FormatInt(u.ID, 10)), id, cur, u.Text, u.Time))
		if u.Time.After(updated) {
			updated = u.Time
		}
	}
	if !in.IsOpen() {
		doc.ResolvedAt = b.formatPtr(in.Resolved)
		if cur != "resolved" {
			// Resolved without a closing note: say it, as Statuspage's
			// last update always does.
			updates = append(updates, b.update(ID("incident-resolved", strconv.FormatInt(in.ID, 10)), id, "resolved",
				"This incident has been resolved.", in.Resolved))
		}
		cur = "resolved"
		if in.Resolved.After(updated) {
			updated = in.Resolved
		}
	} else if cur == "resolved" {
		cur = "monitoring" // reopened: not resolved any more
	}
	doc.Status = cur
	doc.UpdatedAt = b.format(updated)
	b.touch(updated)
	slices.Reverse(updates) // newest first, as Statuspage lists them
	doc.IncidentUpdates = updates
	if doc.IncidentUpdates == nil {
		doc.IncidentUpdates = []IncidentUpdate{}
	}
	for _, n := range in.Nodes {
		if c, ok := b.nodes[n]; ok {
			doc.Components = append(doc.Components, c)
		}
	}
	return doc
}

func (b *builder) update(id, incidentID, st, body string, t time.Time) IncidentUpdate {
	at := b.format(t)
	return IncidentUpdate{ID: id, Status: st, Body: body, IncidentID: incidentID, CreatedAt: at, UpdatedAt: at,
		DisplayAt: at, DeliverNotifications: true}
}

// shortlink links to the incident on the page, which lists the recent ones.
func (b *builder) shortlink(id int64) string {
	if b.in.URL == "" {
		return ""
	}
	return b.in.URL + "#incident-" + strconv.FormatInt(id, 10)
}

// maintenance maps a maintenance window: scheduled before it starts, in
// progress while in force, completed after; each phase reached is an update.
func (b *builder) maintenance(w store.Window) Maintenance {
	id := ID("maintenance", strconv.FormatInt(w.ID, 10))
	name, _, _ := strings.Cut(strings.TrimSpace(w.Message), "\n")
	name = strings.TrimSpace(name)
	if name == "" {
		name = "Scheduled maintenance"
	}
	body := strings.TrimSpace(w.Message)
	if body == "" {
		body = name
	}
	// The store keeps no creation time: a window counts as created when it
	// starts, and changed when it starts and ends.
	doc := Maintenance{
		Incident: Incident{
			ID: id, Name: name, Status: "scheduled", CreatedAt: b.format(w.Start), UpdatedAt: b.format(w.Start),
			Impact: "none", Shortlink: b.in.URL, StartedAt: b.format(w.Start), PageID: b.pageID,
			Components: []Component{},
		},
		ScheduledFor: b.format(w.Start), ScheduledUntil: b.format(w.End),
	}
	updates := []IncidentUpdate{b.update(ID("maintenance-update", strconv.FormatInt(w.ID, 10), "scheduled"), id, "scheduled", body, w.Start)}
	if !b.in.Now.Before(w.Start) {
		doc.Status = "in_progress"
		updates = append(updates, b.update(ID("maintenance-update", strconv.FormatInt(w.ID, 10), "in_progress"), id, "in_progress",
			"Scheduled maintenance is in progress.", w.Start))
		b.touch(w.Start)
	}
	if !b.in.Now.Before(w.End) {
		doc.Status = "completed"
		doc.UpdatedAt = b.format(w.End)
		doc.ResolvedAt = b.formatPtr(w.End)
		updates = append(updates, b.update(ID("maintenance-update", strconv.FormatInt(w.ID, 10), "completed"), id, "completed",
			"The scheduled maintenance has been completed.", w.End))
		b.touch(w.End)
	}
	slices.Reverse(updates)
	doc.IncidentUpdates = updates
	for _, svc := range b.in.Snapshot.Services {
		for _, node := range svc.Nodes {
			if w.Covers(svc.ID, node.ID) {
				doc.Components = append(doc.Components, b.nodes[svc.ID+":"+node.ID])
			}
		}
	}
	return doc
}
