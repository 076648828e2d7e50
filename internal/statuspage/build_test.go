package statuspage_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/vigil-go/vigil/internal/status"
	"github.com/vigil-go/vigil/internal/statuspage"
	"github.com/vigil-go/vigil/internal/statuspage/statuspagetest"
	"github.com/vigil-go/vigil/internal/store"
)

var now = time.Date(2031, time.March, 4, 9, 3, 1, 0, time.UTC)

func replicas(hs ...status.Health) []status.Replica {
	var out []status.Replica
	for i, h := range hs {
		r := status.Replica{ID: "http://10.0.0." + string(rune('1'+i)) + "/private-path?key=s3cret", Health: h,
			Since: now.Add(-time.Duration(i+1) * time.Hour)}
		if h != status.Healthy {
			r.Reason = "HEAD " + r.ID + ": HTTP 503"
		}
		out = append(out, r)
	}
	return out
}

// services is a page with a node in each state.
func services() []status.Service {
	svcs := []status.Service{
		{ID: "web", Label: "Web", Nodes: []status.Node{
			{ID: "api", Label: "API", Mode: status.Poll, Replicas: replicas(status.Healthy, status.Healthy)},
			{ID: "slow", Label: "Slow", Mode: status.Poll, Replicas: replicas(status.Healthy, status.Sick)},
			{ID: "half", Label: "Half", Mode: status.Poll, Replicas: replicas(status.Dead, status.Healthy)},
			{ID: "gone", Label: "Gone", Mode: status.Poll, Replicas: replicas(status.Dead, status.Dead)},
		}},
		{ID: "jobs", Label: "Jobs", Nodes: []status.Node{
			{ID: "cron", Label: "Cron", Mode: status.Script, Replicas: replicas(status.Dead)},
		}},
		{ID: "empty", Label: "Empty"},
	}
	status.Rollup(svcs)
	return svcs
}

func snapshot(svcs []status.Service) *status.Snapshot {
	h, dead := status.Rollup(svcs)
	return &status.Snapshot{Version: 1, Health: h, Refreshed: now, Services: svcs, Dead: dead}
}

// incidents are, newest first as the history keeps them: an operator's
// open incident with updates, an automatic one resolved by vigil, and an
// operator's resolved without a note.
func incidents() []store.Incident {
	return []store.Incident{
		{ID: 7, Title: "Payments fail", Nodes: []string{"web:api", "web:removed"}, Opened: now.Add(-time.Hour), Updates: []store.IncidentUpdate{
			{ID: 20, Time: now.Add(-time.Hour), Status: "investigating", Text: "Looking"},
			{ID: 21, Time: now.Add(-50 * time.Minute), Status: "identified", Text: "Found it"},
			{ID: 22, Time: now.Add(-40 * time.Minute), Status: "", Text: "Still on it"},
			{ID: 23, Time: now.Add(-30 * time.Minute), Status: "monitoring", Text: "Fix deployed"},
		}},
		{ID: 5, Title: "Jobs: Cron is down", Auto: true, Nodes: []string{"jobs:cron"}, Opened: now.Add(-5 * time.Hour),
			Resolved: now.Add(-4 * time.Hour), Updates: []store.IncidentUpdate{
				{ID: 10, Time: now.Add(-5 * time.Hour), Status: "detected", Text: "1 of 1 replicas dead: HEAD http://10.0.0.1/private-path?key=s3cret: HTTP 503"},
				{ID: 11, Time: now.Add(-4 * time.Hour), Status: "resolved", Text: "Cron is healthy again after 1h0m0s"},
			}},
		{ID: 3, Title: "Old", Opened: now.Add(-48 * time.Hour), Resolved: now.Add(-47 * time.Hour)},
	}
}

// windows are one window in force on web:half, one upcoming on the jobs
// service, one completed on everything.
func windows() []store.Window {
	return []store.Window{
		{ID: 1, Start: now.Add(-72 * time.Hour), End: now.Add(-71 * time.Hour)},
		{ID: 2, Start: now.Add(-time.Hour), End: now.Add(time.Hour), Targets: []string{"web:half"}, Message: "Disk swap\nThe half node is down for a disk swap."},
		{ID: 3, Start: now.Add(24 * time.Hour), End: now.Add(26 * time.Hour), Targets: []string{"jobs"}, Message: "Cron upgrade"},
	}
}

func input() statuspage.Input {
	return statuspage.Input{
		Name: "Acme Status", URL: "https://status.acme.test/", Snapshot: snapshot(services()),
		Incidents: incidents(), Windows: windows(), Now: now, Started: now.Add(-10 * 24 * time.Hour),
		Created: func(service, node string) time.Time {
			if node == "api" {
				return now.Add(-30 * 24 * time.Hour)
			}
			return time.Time{}
		},
	}
}

// encode builds in and returns every document encoded.
func encode(t *testing.T, in statuspage.Input) map[statuspage.Document][]byte {
	t.Helper()
	set := statuspage.Build(in)
	out := make(map[statuspage.Document][]byte)
	for _, d := range statuspage.Documents {
		b, err := json.Marshal(set.Body(d))
		if err != nil {
			t.Fatalf("encode %s: %v", d, err)
		}
		out[d] = b
	}
	return out
}

// decoded is the shape of every document, for assertions.
type decoded struct {
	Page struct {
		ID, Name, URL string
		TimeZone      string `json:"time_zone"`
		UpdatedAt     string `json:"updated_at"`
	}
	Status     struct{ Indicator, Description string }
	Components []struct {
		ID, Name, Status string
		GroupID          *string `json:"group_id"`
		Group            bool
		Components       []string
		Position         int
		CreatedAt        string `json:"created_at"`
		UpdatedAt        string `json:"updated_at"`
		Vantages         []statuspage.Vantage
	}
	Incidents             []incident
	ScheduledMaintenances []incident `json:"scheduled_maintenances"`
}

type incident struct {
	ID, Name, Status, Impact, Shortlink string
	ResolvedAt                          *string `json:"resolved_at"`
	MonitoringAt                        *string `json:"monitoring_at"`
	UpdatedAt                           string  `json:"updated_at"`
	ScheduledFor                        string  `json:"scheduled_for"`
	Updates                             []struct {
		ID, Status, Body string
		IncidentID       string `json:"incident_id"`
		CreatedAt        string `json:"created_at"`
	} `json:"incident_updates"`
	Components []struct{ ID, Name, Status string }
}

func decode(t *testing.T, b []byte) decoded {
	t.Helper()
	var d decoded
	if err := json.Unmarshal(b, &d); err != nil {
		t.Fatalf("decode %s: %v", b, err)
	}
	return d
}

// TestSchemasCoverDocuments checks that every document has its schema and
// every schema its document: the list of documents and testdata never drift.
func TestSchemasCoverDocuments(t *testing.T) {
	files, err := filepath.Glob(filepath.Join(statuspagetest.Dir(), "*.schema.json"))
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"defs.schema.json"}
	for _, d := range statuspage.Documents {
		want = append(want, statuspagetest.SchemaFile(d))
	}
	var got []string
	for _, f := range files {
		got = append(got, filepath.Base(f))
	}
	slices.Sort(got)
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Errorf("schemas in testdata = %v, want one per document: %v", got, want)
	}
}

// TestREADMEListsDocuments checks that the README's route table names
// every document the server serves.
func TestREADMEListsDocuments(t *testing.T) {
	readme, err := os.ReadFile(filepath.Join("..", "..", "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range statuspage.Documents {
		if !strings.Contains(string(readme), "`GET /api/v2/"+string(d)+"`") {
			t.Errorf("README.md does not list GET /api/v2/%s", d)
		}
	}
}

// TestDocumentsMatchSchemas validates every document, in UTC and in another
// time zone, and with nothing at all to show.
func TestDocumentsMatchSchemas(t *testing.T) {
	v := statuspagetest.New(t)
	shanghai, err := time.LoadLocation("Asia/Shanghai")
	if err != nil {
		t.Fatal(err)
	}
	zoned := input()
	zoned.Location = shanghai
	noWindows := input() // Half is then a partial outage
	noWindows.Windows = nil
	for name, in := range map[string]statuspage.Input{
		"full":       input(),
		"zoned":      zoned,
		"no windows": noWindows,
		"nothing":    {Name: "Empty", URL: "https://e.test/", Now: now, Started: now},
	} {
		for d, body := range encode(t, in) {
			if err := v.Validate(d, body); err != nil {
				t.Errorf("%s: %v\n%s", name, err, body)
			}
		}
	}
	if d := decode(t, encode(t, zoned)[statuspage.DocStatus]); d.Page.TimeZone != "Asia/Shanghai" || !strings.HasSuffix(d.Page.UpdatedAt, "+08:00") {
		t.Errorf("zoned page = %+v, want time_zone Asia/Shanghai and times at +08:00", d.Page)
	}
	if d := decode(t, encode(t, input())[statuspage.DocStatus]); d.Page.TimeZone != "Etc/UTC" || !strings.HasSuffix(d.Page.UpdatedAt, "Z") {
		t.Errorf("UTC page = %+v, want time_zone Etc/UTC and times in Z", d.Page)
	}
}

// TestSchemasRefuse checks that the schemas can fail: documents with a
// value outside the API's sets, a missing field, a bad time or an extra
// field are refused.
func TestSchemasRefuse(t *testing.T) {
	v := statuspagetest.New(t)
	good := string(encode(t, input())[statuspage.DocSummary])
	for _, tt := range []struct{ name, from, to string }{
		{"component status", `"status":"degraded_performance"`, `"status":"sick"`},
		{"indicator", `"indicator":"major"`, `"indicator":"dead"`},
		{"incident status", `"status":"monitoring"`, `"status":"resolved"`}, // unresolved list
		{"time", `"updated_at":"2031-03-04T`, `"updated_at":"04/03/2031 `},
		{"missing field", `"showcase":true,`, ``},
		{"extra field", `"showcase":true,`, `"showcase":true,"replicas":["x"],`},
		{"id", `"page":{"id":"`, `"page":{"id":"X`},
	} {
		bad := strings.Replace(good, tt.from, tt.to, 1)
		if bad == good {
			t.Fatalf("%s: %q not in the summary: %s", tt.name, tt.from, good)
		}
		if err := v.Validate(statuspage.DocSummary, []byte(bad)); err == nil {
			t.Errorf("%s: the schema accepted %s", tt.name, bad)
		}
	}
	if err := v.Validate(statuspage.DocSummary, []byte(good)); err != nil {
		t.Errorf("the unchanged summary: %v", err)
	}
}

func TestComponents(t *testing.T) {
	d := decode(t, encode(t, input())[statuspage.DocComponents])
	got := map[string]string{}
	var order []string
	for _, c := range d.Components {
		got[c.Name] = c.Status
		order = append(order, c.Name)
	}
	want := map[string]string{
		"Web": "major_outage", "API": "operational", "Slow": "degraded_performance",
		"Half": "under_maintenance", // dead replica, but a window is in force
		"Gone": "major_outage", "Jobs": "major_outage", "Cron": "major_outage", "Empty": "operational",
	}
	for name, st := range want {
		if got[name] != st {
			t.Errorf("component %s = %q, want %q", name, got[name], st)
		}
	}
	if want := []string{"Web", "API", "Slow", "Half", "Gone", "Jobs", "Cron", "Empty"}; !slices.Equal(order, want) {
		t.Errorf("components in order %v, want each group before its components: %v", order, want)
	}
	web := d.Components[0]
	if !web.Group || web.GroupID != nil || len(web.Components) != 4 || web.Position != 1 {
		t.Errorf("group Web = %+v, want a group of its 4 nodes at position 1", web)
	}
	for i, c := range d.Components[1:5] {
		if c.Group || c.GroupID == nil || *c.GroupID != web.ID || c.ID != web.Components[i] || c.Position != i+1 {
			t.Errorf("component %s = %+v, want in group %s at position %d", c.Name, c, web.ID, i+1)
		}
	}
	// API's history starts 30 days ago; its last change is an hour ago.
	api := d.Components[1]
	if api.CreatedAt != "2031-02-02T09:03:01.000Z" || api.UpdatedAt != "2031-03-04T08:03:01.000Z" {
		t.Errorf("API created %s, updated %s; want from its history and its latest replica change", api.CreatedAt, api.UpdatedAt)
	}
	if d.Components[0].CreatedAt != api.CreatedAt {
		t.Errorf("group created %s, want its oldest component's %s", d.Components[0].CreatedAt, api.CreatedAt)
	}
}

// TestPartialOutage checks a dead node with live replicas outside
// maintenance.
func TestPartialOutage(t *testing.T) {
	in := input()
	in.Windows = nil
	d := decode(t, encode(t, in)[statuspage.DocComponents])
	for _, c := range d.Components {
		if c.Name == "Half" && c.Status != "partial_outage" {
			t.Errorf("Half (1 of 2 replicas dead) = %s, want partial_outage", c.Status)
		}
	}
}

func TestIndicator(t *testing.T) {
	node := func(id string, hs ...status.Health) status.Node {
		return status.Node{ID: id, Label: id, Replicas: replicas(hs...)}
	}
	active := store.Window{ID: 9, Start: now.Add(-time.Minute), End: now.Add(time.Minute), Targets: []string{"s:b"}}
	for _, tt := range []struct {
		name      string
		nodes     []status.Node
		windows   []store.Window
		indicator string
		desc      string
	}{
		{"no node", nil, nil, "none", "All Systems Operational"},
		{"healthy", []status.Node{node("a", status.Healthy)}, nil, "none", "All Systems Operational"},
		{"sick", []status.Node{node("a", status.Healthy), node("b", status.Sick)}, nil, "minor", "Minor Service Outage"},
		{"partly dead", []status.Node{node("a", status.Healthy), node("b", status.Dead, status.Healthy)}, nil, "major", "Partial System Outage"},
		{"one node dead", []status.Node{node("a", status.Healthy), node("b", status.Dead)}, nil, "major", "Partial System Outage"},
		{"all dead", []status.Node{node("a", status.Dead), node("b", status.Dead, status.Dead)}, nil, "critical", "Major System Outage"},
		{"dead in maintenance", []status.Node{node("a", status.Healthy), node("b", status.Dead)}, []store.Window{active}, "none", "Service Under Maintenance"},
		{"all dead but maintenance", []status.Node{node("a", status.Dead), node("b", status.Healthy)}, []store.Window{active}, "critical", "Major System Outage"},
		{"only maintenance", []status.Node{node("b", status.Dead)}, []store.Window{active}, "none", "Service Under Maintenance"},
	} {
		in := statuspage.Input{Name: "P", URL: "https://p.test/", Now: now, Windows: tt.windows,
			Snapshot: snapshot([]status.Service{{ID: "s", Label: "S", Nodes: tt.nodes}})}
		d := decode(t, encode(t, in)[statuspage.DocStatus])
		if d.Status.Indicator != tt.indicator || d.Status.Description != tt.desc {
			t.Errorf("%s: status %+v, want %s %q", tt.name, d.Status, tt.indicator, tt.desc)
		}
	}
}

func TestIncidents(t *testing.T) {
	docs := encode(t, input())
	all := decode(t, docs[statuspage.DocIncidents]).Incidents
	if len(all) != 3 {
		t.Fatalf("incidents.json lists %d incidents, want 3", len(all))
	}
	open, auto, old := all[0], all[1], all[2]

	if open.Status != "monitoring" || open.Impact != "minor" || open.ResolvedAt != nil || open.MonitoringAt == nil ||
		*open.MonitoringAt != "2031-03-04T08:33:01.000Z" || open.UpdatedAt != "2031-03-04T08:33:01.000Z" ||
		open.Shortlink != "https://status.acme.test/#incident-7" {
		t.Errorf("open incident = %+v", open)
	}
	var bodies, statuses []string
	for _, u := range open.Updates {
		bodies = append(bodies, u.Body)
		statuses = append(statuses, u.Status)
		if u.IncidentID != open.ID {
			t.Errorf("update %s names incident %s, want %s", u.ID, u.IncidentID, open.ID)
		}
	}
	if want := []string{"Fix deployed", "Still on it", "Found it", "Looking"}; !slices.Equal(bodies, want) {
		t.Errorf("updates %v, want newest first %v", bodies, want)
	}
	// An update without a status keeps the one in force.
	if want := []string{"monitoring", "identified", "identified", "investigating"}; !slices.Equal(statuses, want) {
		t.Errorf("update statuses %v, want %v", statuses, want)
	}
	if len(open.Components) != 1 || open.Components[0].Name != "API" || open.Components[0].Status != "operational" {
		t.Errorf("open incident's components = %+v, want API alone (web:removed is not configured)", open.Components)
	}

	if auto.Status != "resolved" || auto.Impact != "major" || auto.ResolvedAt == nil || *auto.ResolvedAt != "2031-03-04T05:03:01.000Z" ||
		len(auto.Updates) != 2 || auto.Updates[0].Status != "resolved" || auto.Updates[1].Status != "investigating" {
		t.Errorf("automatic incident = %+v, want resolved, major, its detected update as investigating", auto)
	}
	if old.Status != "resolved" || len(old.Updates) != 1 || old.Updates[0].Status != "resolved" ||
		old.Updates[0].CreatedAt != "2031-03-02T10:03:01.000Z" {
		t.Errorf("incident resolved without a note = %+v, want one resolved update at its resolution", old)
	}

	unresolved := decode(t, docs[statuspage.DocUnresolved]).Incidents
	if len(unresolved) != 1 || unresolved[0].ID != open.ID {
		t.Errorf("unresolved.json = %+v, want the open incident alone", unresolved)
	}
	if s := decode(t, docs[statuspage.DocSummary]).Incidents; len(s) != 1 || s[0].ID != open.ID {
		t.Errorf("summary incidents = %+v, want the open incident alone", s)
	}
}

// TestIncidentLimit checks that incidents.json holds the 50 newest and every
// unresolved one.
func TestIncidentLimit(t *testing.T) {
	var list []store.Incident
	for i := 100; i > 0; i-- { // newest first
		in := store.Incident{ID: int64(i), Title: "i", Opened: now.Add(-time.Duration(101-i) * time.Hour)}
		if i != 1 {
			in.Resolved = in.Opened.Add(time.Minute)
		}
		list = append(list, in)
	}
	in := input()
	in.Incidents = list
	all := decode(t, encode(t, in)[statuspage.DocIncidents]).Incidents
	if len(all) != 51 || all[50].Status != "investigating" || all[49].ID != statuspage.ID("incident", "51") {
		t.Errorf("incidents.json lists %d, want the 50 newest and the oldest, unresolved", len(all))
	}
}

func TestMaintenances(t *testing.T) {
	docs := encode(t, input())
	all := decode(t, docs[statuspage.DocMaintenances]).ScheduledMaintenances
	var statuses []string
	for _, m := range all {
		statuses = append(statuses, m.Status)
	}
	if want := []string{"scheduled", "in_progress", "completed"}; !slices.Equal(statuses, want) {
		t.Fatalf("maintenances %v, want newest first %v", statuses, want)
	}
	upcoming, inProgress, done := all[0], all[1], all[2]
	if upcoming.Name != "Cron upgrade" || len(upcoming.Components) != 1 || upcoming.Components[0].Name != "Cron" ||
		upcoming.ScheduledFor != "2031-03-05T09:03:01.000Z" || len(upcoming.Updates) != 1 {
		t.Errorf("upcoming = %+v", upcoming)
	}
	if inProgress.Name != "Disk swap" || inProgress.Updates[1].Body != "Disk swap\nThe half node is down for a disk swap." ||
		len(inProgress.Components) != 1 || inProgress.Components[0].Status != "under_maintenance" {
		t.Errorf("in progress = %+v", inProgress)
	}
	if done.Name != "Scheduled maintenance" || done.ResolvedAt == nil || len(done.Components) != 5 ||
		done.Updates[0].Status != "completed" || done.Updates[1].Status != "in_progress" || done.Updates[2].Status != "scheduled" {
		t.Errorf("completed = %+v, want every node, updates newest first", done)
	}
	for d, want := range map[statuspage.Document][]string{
		statuspage.DocUpcoming: {upcoming.ID},
		statuspage.DocActive:   {inProgress.ID},
		statuspage.DocSummary:  {upcoming.ID, inProgress.ID},
	} {
		var got []string
		for _, m := range decode(t, docs[d]).ScheduledMaintenances {
			got = append(got, m.ID)
		}
		if !slices.Equal(got, want) {
			t.Errorf("%s lists %v, want %v", d, got, want)
		}
	}
}

// TestIDs pins the derivation: a change would give every component and
// incident a new id, breaking the clients that remember them.
func TestIDs(t *testing.T) {
	for _, tt := range []struct {
		got, want string
	}{
		{statuspage.ID("node", "web", "api"), "qika4ihtl63h"},
		{statuspage.ID("service", "web"), "fgdik7vbxcxn"},
		{statuspage.ID("incident", "7"), "clqyfernbruk"},
	} {
		if tt.got != tt.want {
			t.Errorf("id %q, want %q", tt.got, tt.want)
		}
	}
	a, b := encode(t, input()), encode(t, input())
	for _, d := range statuspage.Documents {
		if string(a[d]) != string(b[d]) {
			t.Errorf("%s differs between two builds of the same input", d)
		}
	}
	// Ids are unique across the documents' kinds.
	seen := map[string]string{}
	idPattern := regexp.MustCompile(`"(id|incident_id|page_id|group_id)":"([^"]+)"`)
	for _, m := range idPattern.FindAllStringSubmatch(string(a[statuspage.DocSummary])+string(a[statuspage.DocIncidents])+string(a[statuspage.DocMaintenances]), -1) {
		if !regexp.MustCompile(`^[a-z2-7]{12}$`).MatchString(m[2]) {
			t.Errorf("id %q is not 12 base32 characters", m[2])
		}
		seen[m[2]] = m[1]
	}
	if len(seen) < 20 {
		t.Errorf("only %d distinct ids", len(seen))
	}
}

// TestVantages: in a cluster, a component tells how each member sees it
// (the worst of its replicas from there), in the documents' schema, and
// never a member's reason, which names the target.
func TestVantages(t *testing.T) {
	svcs := services()
	half := &svcs[0].Nodes[2] // Half: replica 1 dead, replica 2 healthy
	half.Replicas[0].Views = []status.View{
		{Label: "us-east", Health: status.Healthy},
		{Label: "eu-west", Health: status.Dead, Reason: half.Replicas[0].Reason},
	}
	half.Replicas[1].Views = []status.View{
		{Label: "eu-west", Health: status.Sick, Reason: "slow"},
		{Label: "us-east", Health: status.Healthy},
	}
	in := input()
	in.Snapshot = snapshot(svcs)
	docs := encode(t, in)
	v := statuspagetest.New(t)
	for d, body := range docs {
		if err := v.Validate(d, body); err != nil {
			t.Errorf("%v\n%s", err, body)
		}
	}
	if body := string(docs[statuspage.DocComponents]); strings.Contains(body, "private-path") || strings.Contains(body, "slow") {
		t.Errorf("components carry a member's reason: %s", body)
	}
	for _, c := range decode(t, docs[statuspage.DocComponents]).Components {
		switch c.Name {
		case "Half":
			want := []statuspage.Vantage{{Label: "eu-west", Status: "major_outage"}, {Label: "us-east", Status: "operational"}}
			if !slices.Equal(c.Vantages, want) {
				t.Errorf("Half vantages = %+v, want %+v", c.Vantages, want)
			}
		default:
			if c.Vantages != nil {
				t.Errorf("%s has vantages %+v without any member's view", c.Name, c.Vantages)
			}
		}
	}
}
