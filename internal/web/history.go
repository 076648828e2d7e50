package web

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/vigil-go/vigil/internal/status"
	"github.com/vigil-go/vigil/internal/store"
)

// Store is the part of the store the server reads and writes: what the
// page's cached history reads and what the manager API writes. *store.Store
// satisfies it.
type Store interface {
	historyReader
	managerStore
}

// historyReader is what the page's cached history reads (data): the
// announcements, maintenance windows and incidents, and the rolled-up
// history of every node.
type historyReader interface {
	Announcements(ctx context.Context) ([]store.Announcement, error)
	Maintenance(ctx context.Context, since, until time.Time) ([]store.Window, error)
	Incidents(ctx context.Context, f store.IncidentFilter) ([]store.Incident, error)
	NodeHistories(ctx context.Context, q store.NodeHistoryQuery, each func(store.NodeKey, store.NodeHistory)) error
}

// managerStore is what the manager API changes, and the lists it answers
// with.
type managerStore interface {
	AddAnnouncement(ctx context.Context, title, text string, t time.Time) (store.Announcement, error)
	UpdateAnnouncement(ctx context.Context, id, title, text string, t time.Time) error
	DeleteAnnouncement(ctx context.Context, id string) error

	Maintenance(ctx context.Context, since, until time.Time) ([]store.Window, error)
	AddMaintenance(ctx context.Context, w store.Window) (store.Window, error)
	UpdateMaintenance(ctx context.Context, w store.Window) error
	DeleteMaintenance(ctx context.Context, id int64) error

	Incidents(ctx context.Context, f store.IncidentFilter) ([]store.Incident, error)
	Incident(ctx context.Context, id int64) (store.Incident, error)
	OpenIncident(ctx context.Context, in store.Incident) (store.Incident, error)
	AddIncidentUpdate(ctx context.Context, id int64, u store.IncidentUpdate) (store.IncidentUpdate, error)
	ResolveIncident(ctx context.Context, id int64, t time.Time) error
}

// History shown on the page and in the feeds.
const (
	historyDays    = 90
	historyRefresh = time.Minute // the longest a page shows stale history
	// Right after a start the history is young (on a new install, empty):
	// it is read again more often, so that the first minutes show up soon.
	youngHistory        = 5 * time.Minute
	youngHistoryRefresh = 10 * time.Second
	recentIncidents     = 10 // incidents listed on the page
	sparklineSpan       = 24 * time.Hour
	refreshTimeout      = 30 * time.Second
)

// uptimeWindows are the periods whose uptime each node shows.
var uptimeWindows = []struct {
	Label string
	Span  time.Duration
}{
	{"24h", 24 * time.Hour},
	{"7d", 7 * 24 * time.Hour},
	{"30d", 30 * 24 * time.Hour},
	{"90d", historyDays * 24 * time.Hour},
}

// history is what the page, the JSON history and the feeds show from the
// store, read at once so that page views never query the database. It is
// immutable once published.
type history struct {
	version   uint64 // one per history read or changed (historyVersions); 0 for none
	loaded    time.Time
	took      time.Duration // how long reading it took
	nodes     map[nodeKey]*nodeHistory
	incidents []store.Incident // opened or still open in the last 90 days, newest first
	windows   []store.Window   // maintenance overlapping the last 90 days or later, by start
}

// historyVersions numbers the histories a process reads: the page tells
// its visitors' scripts which one it shows, so that they keep the day pages
// they fetched until it changes.
var historyVersions atomic.Uint64

type nodeKey struct{ service, node string }

// nodeHistory is the history of one node.
type nodeHistory struct {
	days    dayList                // oldest first, historyDays of them
	uptime  []store.UptimeReport   // one per uptimeWindows entry
	latency []store.Bucket         // poll nodes: hourly buckets of the last day with a latency
	dayInc  map[time.Time][]string // day start → titles of the incidents that touched the node that day
}

// announcements is the cached list of announcements, in insertion order.
type announcements struct {
	list []store.Announcement
	page []Announcement // the same, as the page shows them
}

// data keeps what the server shows from the store in memory. Writes
// through the manager API reload it before they answer; history written by
// others (the recorder) shows within historyRefresh, refreshed by run (the
// Server's Run) when a page view finds it older.
type data struct {
	st  historyReader
	now func() time.Time
	src func() *status.Snapshot
	log interface {
		Error(msg string, args ...any)
	}

	started time.Time  // when the server started
	mu      sync.Mutex // serialises reloads
	ann     atomic.Pointer[announcements]
	hist    atomic.Pointer[history]
	// stale asks run for a refresh; cap 1, so views never wait and asks
	// made while one runs make one more at most.
	stale chan struct{}
}

// run refreshes the history each time a view finds it stale, until ctx
// ends. A refresh in progress is given up with ctx.
func (d *data) run(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			return
		case <-d.stale:
		}
		// A view may have asked while the previous refresh ran.
		if h := d.hist.Load(); h != nil && !d.refreshDue(h, d.now()) {
			continue
		}
		rctx, cancel := context.WithTimeout(ctx, refreshTimeout)
		if err := d.reloadHistory(rctx); err != nil && ctx.Err() == nil {
			d.log.Error("refresh history", "err", err)
		}
		cancel()
	}
}

// refreshDue reports whether history loaded as h should be read again at now.
func (d *data) refreshDue(h *history, now time.Time) bool {
	every := historyRefresh
	if h.loaded.Sub(d.started) < youngHistory {
		every = youngHistoryRefresh
	}
	// Page views start the reads: however many visitors, reading takes at
	// most a tenth of a CPU's time (a fleet of 5000 nodes is 30,000 queries).
	every = max(every, renderSpacing*h.took)
	return now.Sub(h.loaded) >= every
}

// reloadAnnouncements reads the announcements again.
func (d *data) reloadAnnouncements(ctx context.Context) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	list, err := d.st.Announcements(ctx)
	if err != nil {
		return err
	}
	a := &announcements{list: list, page: make([]Announcement, 0, len(list))}
	for _, x := range list {
		a.page = append(a.page, Announcement{Title: x.Title, Text: x.Text, Published: x.Time})
	}
	d.ann.Store(a)
	return nil
}

// announcements returns the cached announcements, never nil.
func (d *data) announcements() *announcements {
	if a := d.ann.Load(); a != nil {
		return a
	}
	return &announcements{}
}

// history returns the cached history, never nil, and asks run for a
// refresh when it is older than historyRefresh (youngHistoryRefresh in the
// first minutes after a start).
func (d *data) history() *history {
	h := d.hist.Load()
	if h == nil {
		return &history{}
	}
	if d.refreshDue(h, d.now()) {
		select {
		case d.stale <- struct{}{}:
		default:
		}
	}
	return h
}

// historySpan returns where the day bars start (89 days before today's
// midnight: the bar ends with today) and the oldest time the history
// covers, incidents and maintenance included.
func historySpan(now time.Time) (since, oldest time.Time) {
	const day = 24 * time.Hour
	since = now.Truncate(day).Add(-(historyDays - 1) * day)
	oldest = now.Add(-historyDays * day)
	if oldest.After(since) {
		oldest = since
	}
	return since, oldest
}

// reloadHistory reads the history of every node of the current snapshot.
func (d *data) reloadHistory(ctx context.Context) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	start := time.Now()
	now := d.now().UTC()
	since, oldest := historySpan(now)
	windows, err := d.st.Maintenance(ctx, oldest, time.Time{})
	if err != nil {
		return err
	}
	incidents, err := d.st.Incidents(ctx, store.IncidentFilter{Since: oldest})
	if err != nil {
		return err
	}
	scrubIncidents(d.src(), incidents)
	// Every node at once: read node by node, thousands of nodes took
	// seconds of queries at every start and every refresh.
	q := store.NodeHistoryQuery{Since: since, HoursSince: now.Add(-sparklineSpan), Until: now, Maintenance: windows}
	for _, w := range uptimeWindows {
		q.UptimeSince = append(q.UptimeSince, now.Add(-w.Span))
	}
	modes := map[store.NodeKey]status.Mode{}
	for _, svc := range d.src().Services {
		for _, node := range svc.Nodes {
			k := store.NodeKey{Service: svc.ID, Node: node.ID}
			q.Nodes = append(q.Nodes, k)
			modes[k] = node.Mode
		}
	}
	h := &history{version: historyVersions.Add(1), loaded: now, nodes: make(map[nodeKey]*nodeHistory, len(q.Nodes)), incidents: incidents, windows: windows}
	var days dayTable
	err = d.st.NodeHistories(ctx, q, func(k store.NodeKey, read store.NodeHistory) {
		nk := nodeKey{k.Service, k.Node}
		h.nodes[nk] = newNodeHistory(nk, modes[k], read, &days, incidents, now)
	})
	if err != nil {
		return fmt.Errorf("history of the nodes: %w", err)
	}
	days.done()
	h.took = time.Since(start)
	d.hist.Store(h)
	return nil
}

// newNodeHistory keeps of what the store read for a node what the page shows.
func newNodeHistory(k nodeKey, mode status.Mode, read store.NodeHistory, days *dayTable, incidents []store.Incident, now time.Time) *nodeHistory {
	nh := &nodeHistory{days: days.list(read.Days), uptime: read.Uptime}
	if mode == status.Poll {
		for _, b := range read.Hours {
			if b.LatencyCount > 0 {
				nh.latency = append(nh.latency, b)
			}
		}
	}
	nh.dayInc = incidentDays(k, nh.days, incidents, now)
	return nh
}

// incidentDays maps each of days to the titles of the incidents that touched
// the node that day; nil when none did (most nodes, most of the time).
func incidentDays(node nodeKey, days dayList, incidents []store.Incident, now time.Time) map[time.Time][]string {
	var out map[time.Time][]string
	target := node.service + ":" + node.node
	for _, in := range incidents {
		if !slices.Contains(in.Nodes, target) {
			continue
		}
		end := in.Resolved
		if in.IsOpen() {
			end = now
		}
		for _, dd := range days.All() {
			if in.Opened.Before(dd.Start.Add(24*time.Hour)) && !end.Before(dd.Start) {
				if out == nil {
					out = make(map[time.Time][]string)
				}
				out[dd.Start] = append(out[dd.Start], in.Title)
			}
		}
	}
	return out
}

// reloadIncidents reads the incidents again and keeps the rest of the
// history as loaded: what an incident written through the manager API
// changes, without the seconds a full reload of a big history can take.
func (d *data) reloadIncidents(ctx context.Context) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	old := d.hist.Load()
	if old == nil {
		return nil // nothing shown yet: the first load reads them
	}
	now := d.now().UTC()
	_, oldest := historySpan(old.loaded)
	incidents, err := d.st.Incidents(ctx, store.IncidentFilter{Since: oldest})
	if err != nil {
		return err
	}
	scrubIncidents(d.src(), incidents)
	h := &history{version: historyVersions.Add(1), loaded: old.loaded, took: old.took, nodes: make(map[nodeKey]*nodeHistory, len(old.nodes)),
		incidents: incidents, windows: old.windows}
	for k, nh := range old.nodes {
		c := *nh
		c.dayInc = incidentDays(k, c.days, incidents, now)
		h.nodes[k] = &c
	}
	d.hist.Store(h)
	return nil
}

// activeWindows returns the windows of h in force at now.
func (h *history) activeWindows(now time.Time) []store.Window {
	var out []store.Window
	for _, w := range h.windows {
		if !now.Before(w.Start) && now.Before(w.End) {
			out = append(out, w)
		}
	}
	return out
}

// windowsKey names the windows in force, for the page's cache key: the page
// changes when a window starts or ends.
func windowsKey(active []store.Window) string {
	var b strings.Builder
	for _, w := range active {
		fmt.Fprintf(&b, "%d,", w.ID)
	}
	return b.String()
}

// scrubIncidents hides, in automatic incidents, what names the replicas of
// their nodes (vigil writes the probe's reason there, which names the
// target), as publicIncidentText says, so that the page, its JSON, the
// feed and the Statuspage documents show the same public text. The manager
// API reads incidents from the store and keeps them whole.
func scrubIncidents(snap *status.Snapshot, incidents []store.Incident) {
	public := publicIncidentText(snap)
	for i := range incidents {
		in := &incidents[i]
		in.Title = public(*in, in.Title)
		for j := range in.Updates {
			in.Updates[j].Text = public(*in, in.Updates[j].Text)
		}
	}
}
