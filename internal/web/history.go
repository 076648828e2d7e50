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

// Store is the part of the store the server reads and writes: announcements,
// maintenance windows and incidents (the manager API), and the rolled-up
// history the page shows. *store.Store satisfies it.
type Store interface {
	Announcements(ctx context.Context) ([]store.Announcement, error)
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

	Uptime(ctx context.Context, service, node string, since, until time.Time, maintenance []store.Window) (store.UptimeReport, error)
	Days(ctx context.Context, service, node string, since, until time.Time, maintenance []store.Window) ([]store.Day, error)
	HourBuckets(ctx context.Context, key store.SeriesKey, since, until time.Time) ([]store.Bucket, error)
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
	loaded    time.Time
	took      time.Duration // how long reading it took
	nodes     map[nodeKey]*nodeHistory
	incidents []store.Incident // opened or still open in the last 90 days, newest first
	windows   []store.Window   // maintenance overlapping the last 90 days or later, by start
}

type nodeKey struct{ service, node string }

// nodeHistory is the history of one node.
type nodeHistory struct {
	days    []store.Day            // oldest first, historyDays of them
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
// others (the recorder) shows within historyRefresh, refreshed in the
// background by the first page view that finds it older.
type data struct {
	st  Store
	now func() time.Time
	src func() *status.Snapshot
	log interface {
		Error(msg string, args ...any)
	}

	started    time.Time  // when the server started
	mu         sync.Mutex // serialises reloads
	ann        atomic.Pointer[announcements]
	hist       atomic.Pointer[history]
	refreshing atomic.Bool
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

// history returns the cached history, never nil, and starts a background
// refresh when it is older than historyRefresh (youngHistoryRefresh in the
// first minutes after a start).
func (d *data) history() *history {
	h := d.hist.Load()
	if h == nil {
		return &history{}
	}
	if d.refreshDue(h, d.now()) && d.refreshing.CompareAndSwap(false, true) {
		go func() {
			defer d.refreshing.Store(false)
			ctx, cancel := context.WithTimeout(context.Background(), refreshTimeout)
			defer cancel()
			if err := d.reloadHistory(ctx); err != nil {
				d.log.Error("refresh history", "err", err)
			}
		}()
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
	h := &history{loaded: now, nodes: make(map[nodeKey]*nodeHistory), incidents: incidents, windows: windows}
	for _, svc := range d.src().Services {
		for _, node := range svc.Nodes {
			nh, err := d.nodeHistory(ctx, svc.ID, node, since, now, windows, incidents)
			if err != nil {
				return fmt.Errorf("history of %s/%s: %w", svc.ID, node.ID, err)
			}
			h.nodes[nodeKey{svc.ID, node.ID}] = nh
		}
	}
	h.took = time.Since(start)
	d.hist.Store(h)
	return nil
}

func (d *data) nodeHistory(ctx context.Context, service string, node status.Node, since, now time.Time, windows []store.Window, incidents []store.Incident) (*nodeHistory, error) {
	days, err := d.st.Days(ctx, service, node.ID, since, now, windows)
	if err != nil {
		return nil, err
	}
	nh := &nodeHistory{days: days}
	for _, w := range uptimeWindows {
		rep, err := d.st.Uptime(ctx, service, node.ID, now.Add(-w.Span), now, windows)
		if err != nil {
			return nil, err
		}
		nh.uptime = append(nh.uptime, rep)
	}
	if node.Mode == status.Poll {
		buckets, err := d.st.HourBuckets(ctx, store.SeriesKey{Service: service, Node: node.ID}, now.Add(-sparklineSpan), now)
		if err != nil {
			return nil, err
		}
		for _, b := range buckets {
			if b.LatencyCount > 0 {
				nh.latency = append(nh.latency, b)
			}
		}
	}
	nh.dayInc = incidentDays(nodeKey{service, node.ID}, days, incidents, now)
	return nh, nil
}

// incidentDays maps each of days to the titles of the incidents that touched
// the node that day.
func incidentDays(node nodeKey, days []store.Day, incidents []store.Incident, now time.Time) map[time.Time][]string {
	out := make(map[time.Time][]string)
	target := node.service + ":" + node.node
	for _, in := range incidents {
		if !slices.Contains(in.Nodes, target) {
			continue
		}
		end := in.Resolved
		if in.IsOpen() {
			end = now
		}
		for _, dd := range days {
			if in.Opened.Before(dd.Start.Add(24*time.Hour)) && !end.Before(dd.Start) {
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
	h := &history{loaded: old.loaded, took: old.took, nodes: make(map[nodeKey]*nodeHistory, len(old.nodes)),
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
