package web

import (
	"bytes"
	"encoding/xml"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/vigil-go/vigil/internal/store"
)

// The public history feeds read the in-memory history only, like the page.

type historyJSON struct {
	Service string            `json:"service"`
	Node    string            `json:"node"`
	Updated time.Time         `json:"updated"` // when the history was read from the store
	Uptime  map[string]*ratio `json:"uptime"`  // "24h", "7d", "30d", "90d"; null without data
	Days    []dayJSON         `json:"days"`
	Latency []latencyJSON     `json:"latency"` // poll nodes: hourly response times of the last day
}

type ratio float64

type dayJSON struct {
	Date               string   `json:"date"`   // "2031-03-04"
	Status             string   `json:"status"` // healthy, sick, dead, or none without data
	Uptime             *ratio   `json:"uptime"`
	Checks             int64    `json:"checks"`
	MaintenanceSeconds int64    `json:"maintenance_seconds"`
	Incidents          []string `json:"incidents"` // titles of the incidents that touched the node that day
}

type latencyJSON struct {
	Start time.Time `json:"start"`
	AvgMS float64   `json:"avg_ms"`
	MinMS float64   `json:"min_ms"`
	MaxMS float64   `json:"max_ms"`
}

func ratioOf(r store.UptimeReport) *ratio {
	if !r.HasData {
		return nil
	}
	v := ratio(r.Ratio)
	return &v
}

func millis(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// handleNodeHistory answers GET /status/history/{service}/{node}.
func (s *Server) handleNodeHistory(w http.ResponseWriter, r *http.Request) {
	h := s.data.history()
	service, node := r.PathValue("service"), r.PathValue("node")
	nh := h.nodes[nodeKey{service, node}]
	if nh == nil {
		notFound(w, r)
		return
	}
	out := historyJSON{Service: service, Node: node, Updated: h.loaded, Uptime: make(map[string]*ratio),
		Days: make([]dayJSON, 0, nh.days.Len()), Latency: make([]latencyJSON, 0, len(nh.latency))}
	for i, win := range uptimeWindows {
		out.Uptime[win.Label] = ratioOf(nh.uptime[i])
	}
	for _, d := range nh.days.All() {
		dj := dayJSON{Date: d.Start.Format(time.DateOnly), Status: d.Worst.String(), Uptime: ratioOf(d.Uptime),
			Checks: d.Checks, MaintenanceSeconds: int64(d.Uptime.Maintenance / time.Second), Incidents: nh.dayInc[d.Start]}
		if !d.HasData() {
			dj.Status = "none"
		}
		if dj.Incidents == nil {
			dj.Incidents = []string{}
		}
		out.Days = append(out.Days, dj)
	}
	for _, b := range nh.latency {
		out.Latency = append(out.Latency, latencyJSON{Start: b.Start, AvgMS: millis(b.LatencyAvg()),
			MinMS: millis(b.LatencyMin), MaxMS: millis(b.LatencyMax)})
	}
	writePublicJSON(w, out)
}

// handleIncidents answers GET /status/incidents: the incidents of the last
// 90 days and the open ones, most recently opened first.
func (s *Server) handleIncidents(w http.ResponseWriter, r *http.Request) {
	s.incidents.get(s.data.history, func(a, b *history) bool { return a == b }, func(h *history) *rendition {
		body, err := encodeJSON(incidentsJSON(h.incidents))
		if err != nil {
			return &rendition{err: fmt.Errorf("encode incidents: %w", err)}
		}
		return newRendition("application/json", body)
	}).serve(w, r, s.bound)
}

// writePublicJSON answers v; browsers and proxies may keep it for the
// minute the history is cached.
func writePublicJSON(w http.ResponseWriter, v any) {
	w.Header().Set("X-Content-Type-Options", "nosniff")
	writeJSON(w, http.StatusOK, v)
}

// ---- Atom ----

type atomFeed struct {
	XMLName xml.Name    `xml:"http://www.w3.org/2005/Atom feed"`
	Title   string      `xml:"title"`
	ID      string      `xml:"id"`
	Updated string      `xml:"updated"`
	Links   []atomLink  `xml:"link"`
	Author  atomAuthor  `xml:"author"`
	Entries []atomEntry `xml:"entry"`
}

type atomLink struct {
	Href string `xml:"href,attr"`
	Rel  string `xml:"rel,attr,omitempty"`
	Type string `xml:"type,attr,omitempty"`
}

type atomAuthor struct {
	Name string `xml:"name"`
}

type atomEntry struct {
	Title     string    `xml:"title"`
	ID        string    `xml:"id"`
	Updated   string    `xml:"updated"`
	Published string    `xml:"published,omitempty"`
	Category  *atomCat  `xml:"category"`
	Link      *atomLink `xml:"link"`
	Content   atomText  `xml:"content"`
	updated   time.Time
}

type atomCat struct {
	Term string `xml:"term,attr"`
}

type atomText struct {
	Type string `xml:"type,attr"`
	Body string `xml:",chardata"`
}

// feedKey is what the feed shows: the history and the announcements as
// loaded (the node labels come from the config and do not change).
type feedKey struct {
	hist *history
	ann  *announcements
}

// handleFeed answers GET /status/feed.atom: incidents, maintenance windows
// and announcements, newest first.
func (s *Server) handleFeed(w http.ResponseWriter, r *http.Request) {
	load := func() feedKey { return feedKey{s.data.history(), s.data.announcements()} }
	s.feed.get(load, func(a, b feedKey) bool { return a == b }, s.renderFeed).serve(w, r, s.bound)
}

func (s *Server) renderFeed(k feedKey) *rendition {
	h, ann := k.hist, k.ann
	base := strings.TrimSuffix(s.cfg.Branding.PageURL, "/")
	idBase := "urn:vigil:" + url.PathEscape(s.cfg.Branding.PageTitle)
	if base != "" {
		idBase = base
	}
	labels := targetLabels(s.snapshot())
	var entries []atomEntry
	for _, in := range h.incidents {
		v := incidentViewOf(in, labels, s.zone)
		var b strings.Builder
		if v.Open {
			fmt.Fprintf(&b, "Ongoing since %s.", v.Start)
		} else {
			fmt.Fprintf(&b, "Started %s, lasted %s.", v.Start, v.Duration)
		}
		if len(v.Nodes) > 0 {
			fmt.Fprintf(&b, "\nAffected: %s.", strings.Join(v.Nodes, ", "))
		}
		updated := in.Opened
		for _, u := range in.Updates {
			fmt.Fprintf(&b, "\n%s — %s: %s", s.zone.format(u.Time, incidentLayout), u.Status, u.Text)
			updated = later(updated, u.Time)
		}
		if !in.IsOpen() {
			updated = later(updated, in.Resolved)
		}
		title := in.Title
		if !v.Open {
			title += " (resolved)"
		}
		entries = append(entries, atomEntry{Title: title, ID: fmt.Sprintf("%s/#incident-%d", idBase, in.ID),
			Published: in.Opened.Format(time.RFC3339), Category: &atomCat{"incident"},
			Content: atomText{"text", b.String()}, updated: updated})
	}
	for _, win := range h.windows {
		v := maintenanceViewOf(win, s.now(), labels, s.zone)
		what := "everything"
		if len(v.Targets) > 0 {
			what = strings.Join(v.Targets, ", ")
		}
		body := fmt.Sprintf("From %s to %s: %s.", v.Start, v.End, what)
		if win.Message != "" {
			body += "\n" + win.Message
		}
		entries = append(entries, atomEntry{Title: "Maintenance: " + what, ID: fmt.Sprintf("%s/#maintenance-%d", idBase, win.ID),
			Category: &atomCat{"maintenance"}, Content: atomText{"text", body}, updated: win.Start})
	}
	for _, a := range ann.list {
		updated := later(a.Time, a.Updated)
		entries = append(entries, atomEntry{Title: a.Title, ID: idBase + "/#announcement-" + a.ID,
			Published: a.Time.Format(time.RFC3339), Category: &atomCat{"announcement"},
			Content: atomText{"text", a.Text}, updated: updated})
	}
	slices.SortStableFunc(entries, func(a, b atomEntry) int { return b.updated.Compare(a.updated) })
	feed := atomFeed{Title: s.cfg.Branding.PageTitle, ID: idBase + "/status/feed.atom",
		Author: atomAuthor{Name: s.cfg.Branding.CompanyName}, Entries: entries}
	if feed.Author.Name == "" {
		feed.Author.Name = "Vigil"
	}
	if base != "" {
		feed.Links = []atomLink{{Href: base + "/status/feed.atom", Rel: "self", Type: "application/atom+xml"}, {Href: base + "/"}}
	}
	newest := h.loaded
	if len(entries) > 0 {
		newest = entries[0].updated
	}
	feed.Updated = newest.UTC().Format(time.RFC3339)
	for i := range entries {
		entries[i].Updated = entries[i].updated.UTC().Format(time.RFC3339)
		if base != "" {
			entries[i].Link = &atomLink{Href: base + "/"}
		}
	}
	var buf bytes.Buffer
	buf.WriteString(xml.Header)
	enc := xml.NewEncoder(&buf)
	enc.Indent("", "  ")
	if err := enc.Encode(feed); err != nil {
		return &rendition{err: fmt.Errorf("encode feed: %w", err)}
	}
	return newRendition("application/atom+xml; charset=utf-8", buf.Bytes())
}

func later(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}
