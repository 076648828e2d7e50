// Package statuspage builds the documents of the Atlassian Statuspage public
// API (v2) from Vigil's state: the monitor's snapshot, and the incidents and
// maintenance windows of the history. Dashboards, browser extensions, chat
// bots and aggregators that read a Statuspage page read Vigil's the same way.
//
// It is pure code: no I/O, no clock, no goroutines. The web server builds a
// Set when the snapshot or the history changes, encodes it once and serves
// the bytes.
//
// The mapping (the README says it for operators):
//   - a service is a component group, a node a component of it;
//   - a node's health: healthy → operational, sick → degraded_performance,
//     dead with some replicas not dead → partial_outage, every replica dead →
//     major_outage; a node covered by a maintenance window in force →
//     under_maintenance, whatever its health;
//   - a group's status is the worst of its components'
//     (operational < under_maintenance < degraded_performance <
//     partial_outage < major_outage);
//   - the page's indicator is none, minor (a component degraded), major (a
//     component partly or wholly out) or critical (every component not under
//     maintenance wholly out); components under maintenance do not count;
//   - incidents are the history's incidents, their updates newest first;
//     maintenance windows are scheduled maintenances; announcements are not
//     part of the API;
//   - ids are derived from Vigil's own (service and node ids, stored incident
//     and window ids), so they stay the same across restarts and reloads;
//   - replicas are never named: a component is a node.
package statuspage

// Document is one document of the API, named by its path under /api/v2/.
type Document string

// The documents, in the order Statuspage's documentation lists them.
const (
	DocSummary      Document = "summary.json"
	DocStatus       Document = "status.json"
	DocComponents   Document = "components.json"
	DocUnresolved   Document = "incidents/unresolved.json"
	DocIncidents    Document = "incidents.json"
	DocUpcoming     Document = "scheduled-maintenances/upcoming.json"
	DocActive       Document = "scheduled-maintenances/active.json"
	DocMaintenances Document = "scheduled-maintenances.json"
)

// Documents lists every document: the server registers one route for each,
// and the tests validate each against its schema.
var Documents = []Document{
	DocSummary, DocStatus, DocComponents, DocUnresolved, DocIncidents,
	DocUpcoming, DocActive, DocMaintenances,
}

// Page describes the status page itself.
type Page struct {
	ID        string `json:"id"`
	Name      string `json:"name"`
	URL       string `json:"url"`
	TimeZone  string `json:"time_zone"`
	UpdatedAt string `json:"updated_at"`
}

// Status is the page's overall state.
type Status struct {
	Indicator   string `json:"indicator"` // none, minor, major, critical
	Description string `json:"description"`
}

// Component is a node, or a component group (a service).
type Component struct {
	ID                 string   `json:"id"`
	Name               string   `json:"name"`
	Status             string   `json:"status"`
	CreatedAt          string   `json:"created_at"`
	UpdatedAt          string   `json:"updated_at"`
	Position           int      `json:"position"`
	Description        *string  `json:"description"`
	Showcase           bool     `json:"showcase"`
	StartDate          *string  `json:"start_date"`
	GroupID            *string  `json:"group_id"`
	PageID             string   `json:"page_id"`
	Group              bool     `json:"group"`
	OnlyShowIfDegraded bool     `json:"only_show_if_degraded"`
	Components         []string `json:"components,omitzero"` // a group's components, by id; absent on a component
	// Vantages says how each cluster member sees the component: an
	// addition to the Statuspage shape, absent outside a cluster.
	Vantages []Vantage `json:"vantages,omitempty"`
}

// Vantage is the status one vantage point (cluster member) sees of a
// component: the worst of the node's replicas as that member last observed
// them, with the component status values.
type Vantage struct {
	Label  string `json:"label"`
	Status string `json:"status"`
}

// Incident is an incident, or the common part of a scheduled maintenance.
type Incident struct {
	ID              string           `json:"id"`
	Name            string           `json:"name"`
	Status          string           `json:"status"`
	CreatedAt       string           `json:"created_at"`
	UpdatedAt       string           `json:"updated_at"`
	MonitoringAt    *string          `json:"monitoring_at"`
	ResolvedAt      *string          `json:"resolved_at"`
	Impact          string           `json:"impact"`
	Shortlink       string           `json:"shortlink"`
	StartedAt       string           `json:"started_at"`
	PageID          string           `json:"page_id"`
	IncidentUpdates []IncidentUpdate `json:"incident_updates"` // newest first
	Components      []Component      `json:"components"`
}

// Maintenance is a scheduled maintenance: a maintenance window.
type Maintenance struct {
	Incident
	ScheduledFor   string `json:"scheduled_for"`
	ScheduledUntil string `json:"scheduled_until"`
}

// IncidentUpdate is one dated note on an incident or a maintenance.
type IncidentUpdate struct {
	ID                   string              `json:"id"`
	Status               string              `json:"status"`
	Body                 string              `json:"body"`
	IncidentID           string              `json:"incident_id"`
	CreatedAt            string              `json:"created_at"`
	UpdatedAt            string              `json:"updated_at"`
	DisplayAt            string              `json:"display_at"`
	AffectedComponents   []AffectedComponent `json:"affected_components"` // always null: Vigil does not record it per update
	DeliverNotifications bool                `json:"deliver_notifications"`
	CustomTweet          *string             `json:"custom_tweet"`
	TweetID              *string             `json:"tweet_id"`
}

// AffectedComponent is a component's change told by an update.
type AffectedComponent struct {
	Code      string `json:"code"`
	Name      string `json:"name"`
	OldStatus string `json:"old_status"`
	NewStatus string `json:"new_status"`
}

// The documents' bodies.
type (
	StatusBody struct {
		Page   Page   `json:"page"`
		Status Status `json:"status"`
	}
	ComponentsBody struct {
		Page       Page        `json:"page"`
		Components []Component `json:"components"`
	}
	IncidentsBody struct {
		Page      Page       `json:"page"`
		Incidents []Incident `json:"incidents"`
	}
	MaintenancesBody struct {
		Page                  Page          `json:"page"`
		ScheduledMaintenances []Maintenance `json:"scheduled_maintenances"`
	}
	SummaryBody struct {
		Page                  Page          `json:"page"`
		Components            []Component   `json:"components"`
		Incidents             []Incident    `json:"incidents"`
		ScheduledMaintenances []Maintenance `json:"scheduled_maintenances"`
		Status                Status        `json:"status"`
	}
)
