package web

import (
	"fmt"
	"html/template"
	"math"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/vigil-go/vigil/internal/status"
	"github.com/vigil-go/vigil/internal/store"
)

// Time formats of the history.
const (
	dayLayout       = "2 Jan 2006"
	incidentLayout  = "2 Jan 2006, 15:04 UTC"
	sparklineWidth  = 120
	sparklineHeight = 24
)

// nodeHistoryView is a node's history on the page.
type nodeHistoryView struct {
	Days      []dayView      // oldest first, one per day of the bar
	Uptime    []uptimeView   // 24 h, 7 d, 30 d, 90 d
	Sparkline *sparklineView // poll nodes with latencies in the last day
	Bar       barView        // the days in their compact form, drawn by the stylesheet
	// HTML is the view rendered by the theme's "node-history" template,
	// once per history load; empty when the theme has no such template.
	HTML template.HTML
}

// historyFragments caches each node's rendered history for one history
// load, so that a new monitor state re-renders the page around them.
type historyFragments struct {
	mu     sync.Mutex
	hist   *history
	byNode map[nodeKey]*nodeHistoryView
}

type dayView struct {
	Date   string // "5 Jul 2022"
	Status string // "healthy", "sick", "dead", or "none" without data
	Title  string // the cell's tooltip: date, uptime, maintenance and incidents
}

type uptimeView struct {
	Label   string // "24h"
	Percent string // "99.95%", or "–" without data
}

// sparklineView is a response-time line drawn as an SVG polyline.
type sparklineView struct {
	Width, Height int
	// Steps is the width of the viewBox the points are drawn in: one unit
	// per hour, stretched to Width by the stylesheet, so that x is a
	// small integer.
	Steps  int
	Points string // "x,y x,y …", x in Steps, y in pixels
	// Path is the same line as SVG path data, each point relative to the
	// one before ("M0 12l1-3 1 5…"): the built-in theme draws it, as it
	// is about a third shorter than Points.
	Path   string
	Title  string // "Response time, last 24 h: 12–40 ms"
	LastMS int64
}

type incidentView struct {
	ID       int64
	Title    string
	Open     bool
	Start    string
	StartISO string
	Duration string // "1 h 5 min"; empty while open
	Nodes    []string
	Updates  []incidentUpdateView // newest first
}

type incidentUpdateView struct {
	Time    string
	TimeISO string
	Status  string
	Text    string
}

type maintenanceView struct {
	Start, StartISO string
	End, EndISO     string
	Active          bool
	Targets         []string // labels of what is covered; empty: everything
	Message         string
}

// historyKey ties the render key to the history shown.
func historyKey(k pageKey) string {
	if k.hist == nil {
		return ""
	}
	return fmt.Sprintf("-h%d-m%s", k.hist.version, strings.TrimSuffix(k.windows, ","))
}

// historyVersion is the page's HistoryKey: the version of the history
// shown, "" without one.
func historyVersion(k pageKey) string {
	if k.hist == nil || k.hist.version == 0 {
		return ""
	}
	return strconv.FormatUint(k.hist.version, 10)
}

// addNodeHistory fills the node's history and maintenance label.
func (s *Server) addNodeHistory(nv *nodeView, service string, node status.Node, k pageKey) {
	for _, w := range k.hist.activeWindows(k.now) {
		if w.Covers(service, node.ID) {
			v := maintenanceViewOf(w, k.now, nil, s.zone)
			nv.Maintenance = &v
			break
		}
	}
	nv.History = s.nodeHistory(k.hist, service, node)
}

// nodeHistory returns the node's history view, built and rendered once per
// history load.
func (s *Server) nodeHistory(h *history, service string, node status.Node) *nodeHistoryView {
	f := &s.fragments
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.hist != h {
		f.hist, f.byNode = h, map[nodeKey]*nodeHistoryView{}
	}
	key := nodeKey{service, node.ID}
	if hv, ok := f.byNode[key]; ok {
		return hv
	}
	nh := h.nodes[key]
	if nh == nil {
		f.byNode[key] = nil
		return nil
	}
	hv := &nodeHistoryView{Days: make([]dayView, 0, nh.days.Len())}
	for _, d := range nh.days.All() {
		hv.Days = append(hv.Days, dayViewOf(d, nh.dayInc[d.Start]))
	}
	hv.Bar = newBar(service, node.ID, hv.Days)
	for i, w := range uptimeWindows {
		hv.Uptime = append(hv.Uptime, uptimeView{Label: w.Label, Percent: uptimePercent(nh.uptime[i])})
	}
	if node.Mode == status.Poll && len(nh.latency) > 0 {
		hv.Sparkline = sparkline(nh.latency)
	}
	if t := s.theme.tmpl.Lookup("node-history"); t != nil {
		var b strings.Builder
		if err := t.Execute(&b, hv); err != nil {
			// The page template will run it again and report the error.
			s.log.Error("render node history", "service", service, "node", node.ID, "err", err)
		} else {
			hv.HTML = template.HTML(b.String())
		}
	}
	f.byNode[key] = hv
	return hv
}

func dayViewOf(d store.Day, incidents []string) dayView {
	v := dayView{Date: d.Start.Format(dayLayout), Status: d.Worst.String()}
	if !d.HasData() {
		v.Status = "none"
	}
	var b strings.Builder
	b.WriteString(v.Date)
	switch {
	case d.Uptime.HasData:
		b.WriteString(": " + uptimePercent(d.Uptime) + " uptime")
	default:
		b.WriteString(": no data")
	}
	if d.Uptime.Maintenance > 0 {
		b.WriteString(", maintenance " + humanDuration(d.Uptime.Maintenance))
	}
	switch len(incidents) {
	case 0:
	case 1:
		b.WriteString(", 1 incident: " + incidents[0])
	default:
		fmt.Fprintf(&b, ", %d incidents: %s", len(incidents), strings.Join(incidents, "; "))
	}
	v.Title = b.String()
	return v
}

// uptimePercent prints a ratio with two decimals, rounded down so that a
// single minute of outage never shows as 100.00%.
func uptimePercent(r store.UptimeReport) string {
	if !r.HasData {
		return "–"
	}
	return strconv.FormatFloat(math.Floor(r.Ratio*10000)/100, 'f', 2, 64) + "%"
}

// sparkline draws the mean latency of each hour.
func sparkline(buckets []store.Bucket) *sparklineView {
	lo, hi := math.Inf(1), math.Inf(-1)
	vals := make([]float64, len(buckets))
	for i, b := range buckets {
		vals[i] = float64(b.LatencyAvg()) / float64(time.Millisecond)
		lo, hi = math.Min(lo, vals[i]), math.Max(hi, vals[i])
	}
	sv := &sparklineView{Width: sparklineWidth, Height: sparklineHeight, LastMS: int64(math.Round(vals[len(vals)-1]))}
	var b, p strings.Builder
	sv.Steps = max(len(vals)-1, 1)
	prevY := 0
	for i, v := range vals {
		x := sv.Steps
		if len(vals) > 1 {
			x = i
		}
		y := float64(sparklineHeight) / 2
		if hi > lo {
			// Leave one pixel at the top and bottom for the stroke.
			y = 1 + (hi-v)/(hi-lo)*(sparklineHeight-2)
		}
		// Whole pixels: the line is 24 px high, and a page of thousands
		// of nodes repeats its points thousands of times.
		py := int(math.Round(y))
		switch {
		case i == 0:
			fmt.Fprintf(&b, "%d,%d", x, py)
			fmt.Fprintf(&p, "M%d %dl", x, py)
		default:
			fmt.Fprintf(&b, " %d,%d", x, py)
			if i > 1 {
				p.WriteByte(' ')
			}
			// One step right and dy down; a minus sign separates dy too.
			sep := " "
			if py < prevY {
				sep = ""
			}
			fmt.Fprintf(&p, "1%s%d", sep, py-prevY)
		}
		prevY = py
	}
	if len(vals) == 1 {
		fmt.Fprintf(&b, " 0,%d", sparklineHeight/2)
		fmt.Fprintf(&p, "-1 %d", sparklineHeight/2-prevY)
	}
	sv.Points = b.String()
	sv.Path = p.String()
	sv.Title = fmt.Sprintf("Response time, last 24 h: %.0f–%.0f ms", lo, hi)
	return sv
}

// addPageHistory fills the incidents and maintenance sections.
func (s *Server) addPageHistory(d *pageData, k pageKey) {
	d.HasHistory = true
	labels := targetLabels(k.snap)
	for i, in := range k.hist.incidents {
		if i == recentIncidents {
			break
		}
		d.Incidents = append(d.Incidents, incidentViewOf(in, labels, s.zone))
	}
	for _, w := range k.hist.windows {
		if w.End.After(k.now) {
			d.Maintenance = append(d.Maintenance, maintenanceViewOf(w, k.now, labels, s.zone))
		}
	}
}

// targetLabels maps "service" and "service:node" to the labels a visitor knows.
func targetLabels(snap *status.Snapshot) map[string]string {
	m := make(map[string]string)
	for _, svc := range snap.Services {
		m[svc.ID] = svc.Label
		for _, n := range svc.Nodes {
			m[svc.ID+":"+n.ID] = svc.Label + " / " + n.Label
		}
	}
	return m
}

func label(labels map[string]string, target string) string {
	if l, ok := labels[target]; ok {
		return l
	}
	return target
}

func incidentViewOf(in store.Incident, labels map[string]string, z zone) incidentView {
	v := incidentView{
		ID:       in.ID,
		Title:    in.Title,
		Open:     in.IsOpen(),
		Start:    z.format(in.Opened, incidentLayout),
		StartISO: in.Opened.Format(time.RFC3339),
	}
	if !v.Open {
		v.Duration = humanDuration(in.Resolved.Sub(in.Opened))
	}
	for _, n := range in.Nodes {
		v.Nodes = append(v.Nodes, label(labels, n))
	}
	for i := len(in.Updates) - 1; i >= 0; i-- {
		u := in.Updates[i]
		v.Updates = append(v.Updates, incidentUpdateView{
			Time: z.format(u.Time, incidentLayout), TimeISO: u.Time.Format(time.RFC3339), Status: u.Status, Text: u.Text,
		})
	}
	return v
}

func maintenanceViewOf(w store.Window, now time.Time, labels map[string]string, z zone) maintenanceView {
	v := maintenanceView{
		Start: z.format(w.Start, incidentLayout), StartISO: w.Start.Format(time.RFC3339),
		End: z.format(w.End, incidentLayout), EndISO: w.End.Format(time.RFC3339),
		Active:  !now.Before(w.Start) && now.Before(w.End),
		Message: w.Message,
	}
	for _, t := range w.Targets {
		v.Targets = append(v.Targets, label(labels, t))
	}
	return v
}

// humanDuration prints a duration in whole minutes, hours and days:
// "45 s", "12 min", "1 h 5 min", "2 d 3 h".
func humanDuration(d time.Duration) string {
	switch {
	case d < time.Minute:
		return fmt.Sprintf("%d s", int(d.Seconds()))
	case d < time.Hour:
		return fmt.Sprintf("%d min", int(d.Minutes()))
	case d < 24*time.Hour:
		h := int(d.Hours())
		if m := int(d.Minutes()) % 60; m > 0 {
			return fmt.Sprintf("%d h %d min", h, m)
		}
		return fmt.Sprintf("%d h", h)
	}
	days := int(d.Hours()) / 24
	if h := int(d.Hours()) % 24; h > 0 {
		return fmt.Sprintf("%d d %d h", days, h)
	}
	return fmt.Sprintf("%d d", days)
}
