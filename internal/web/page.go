package web

import (
	"bytes"
	"fmt"
	"hash/fnv"
	"html/template"
	"math"
	"net/http"
	"net/url"
	"path"
	"slices"
	"strings"
	"time"

	"github.com/vigil-go/vigil/internal/status"
)

// projectURL is where the footer's "Vigil" links to.
const projectURL = "https://github.com/vigil-go/vigil"

// Time formats of the page, as Vigil prints them (always UTC).
const (
	refreshedLayout    = "15:04:05 UTC+00:00"
	announcementLayout = "2 Jan 2006, 15:04:05 UTC+00:00"
	reportTodayLayout  = "15:04:05 UTC"
	reportOlderLayout  = "2 Jan 2006, 15:04:05 UTC"
)

// pageData is what templates/index.html is executed with. Custom themes rely
// on these names: add fields freely, but do not rename or remove any.
type pageData struct {
	AssetVersion string // the ?v= cache buster for the theme's static files
	RenderKey    string // identifies this rendition; index.js compares it to spot changes
	HistoryKey   string // identifies the history shown, "" without one; index.js keeps the day pages it fetched while it holds
	Status       string // the general status: "healthy", "sick" or "dead"
	Refreshed    string // "09:03:01 UTC+00:00"; "" before the first aggregation
	RefreshedISO string // the same instant in RFC 3339
	Year         int    // the current year, for the footer
	ProjectURL   string // Vigil's home page
	Branding     brandingView

	Announcements []announcementView // newest first
	Services      []serviceView
	// CollapseHealthy is set on a page of more than collapseAbove nodes:
	// its healthy services start folded, so that the ones with a problem
	// are at hand on a phone.
	CollapseHealthy bool

	// HasHistory is set when a store keeps history: nodes then carry
	// History, and Incidents and Maintenance are filled.
	HasHistory  bool
	Incidents   []incidentView    // the most recent, newest first
	Maintenance []maintenanceView // in force or upcoming, by start

	// Subscribe is the "Get updates by e-mail" form (subscribe.html); nil
	// when [subscriptions] is off.
	Subscribe *subscribeView
}

type brandingView struct {
	PageTitle   string
	PageURL     string
	CompanyName string
	IconURL     string
	IconMIME    string // the media type of IconURL, from its extension
	IconColor   string
	LogoURL     string
	LogoColor   string
	WebsiteURL  string
	SupportURL  string
	CustomHTML  template.HTML // inserted raw into <head>: it is the operator's own HTML
	// ColorScheme is "auto" (follow the visitor's preference), "light" or
	// "dark": [branding] color_scheme.
	ColorScheme string
	// LogoTextColor is the text colour on LogoColor that reaches WCAG AA
	// contrast ("#FFFFFF" or "#000000"); "" when LogoColor is not a colour
	// the page can read, which keeps the stylesheet's.
	LogoTextColor string
}

type announcementView struct {
	Title        string
	Text         string // use {{linebreaks .Text}} to keep its line breaks
	Published    string // "5 Jul 2022, 09:03:01 UTC+00:00", or "" when unknown
	PublishedISO string
}

type serviceView struct {
	ID     string
	Label  string
	Status string
	Nodes  []nodeView
}

type nodeView struct {
	ID                string
	Label             string
	Mode              string // "poll", "push", "script" or "local"
	Status            string
	RevealReplicaName bool
	LinkURL           string
	LinkLabel         string
	Replicas          []replicaView
	// Maintenance is set when a maintenance window covers the node now.
	Maintenance *maintenanceView
	History     *nodeHistoryView // nil without a store
}

type replicaView struct {
	Position int    // 1-based position in the node, shown in the box
	DOMID    string // a stable element id for the box
	ID       string // the replica id; show it only when the node reveals replica names
	Status   string
	Reason   string // why it is not healthy; "" when healthy
	// Vantage says how a cluster's vantage points see a replica decided
	// healthy when some of them disagree; "" otherwise (an unhealthy
	// replica's Reason says it already).
	Vantage string
	// Pending says what change the node's thresholds hold back, such as
	// "failing 2 of 3"; "" when none.
	Pending       string
	HasLatency    bool // LatencyMS is known (it may be 0)
	LatencyMS     int64
	Load          *loadView     // push replicas: CPU and memory in percent
	Queue         *status.Queue // push nodes with a RabbitMQ queue
	LastReport    string        // push and local replicas: when the replica last reported
	LastReportISO string
}

type loadView struct {
	CPU int
	RAM int
}

// pageKey is everything the page depends on: a new snapshot, another year
// or other announcements make a new page.
type pageKey struct {
	snap          *status.Snapshot
	year          int
	announcements []Announcement
	hist          *history // nil without a store
	windows       string   // the maintenance windows in force
	now           time.Time
}

func samePage(a, b pageKey) bool {
	// The announcements are replaced, never changed, on each write: the
	// same slice means the same announcements.
	return a.snap.Version == b.snap.Version && a.year == b.year && a.hist == b.hist && a.windows == b.windows &&
		len(a.announcements) == len(b.announcements) &&
		(len(a.announcements) == 0 || &a.announcements[0] == &b.announcements[0])
}

// handleIndex serves the status page.
func (s *Server) handleIndex(w http.ResponseWriter, r *http.Request) {
	s.page.get(s.pageKey, samePage, s.renderPage).serve(w, r, s.bound)
}

func (s *Server) pageKey() pageKey {
	now := s.now().UTC()
	k := pageKey{snap: s.snapshot(), year: now.Year(), now: now}
	if s.data != nil {
		k.announcements = s.data.announcements().page
		k.hist = s.data.history()
		k.windows = windowsKey(k.hist.activeWindows(now))
	}
	return k
}

// renderPage executes the page template for k. An execution error is logged
// here, once per state, and served as a 500 carrying its text, as Vigil does.
func (s *Server) renderPage(k pageKey) *rendition {
	start := time.Now()
	data := s.pageData(k)
	var buf bytes.Buffer
	// Growing the buffer once spares a big page a cascade of doubling
	// copies: the page is about as big as last time, or, the first time,
	// about pageBytesPerReplica per replica.
	if e := s.page.cur.Load(); e != nil && e.r.err == nil {
		buf.Grow(len(e.r.body) + len(e.r.body)/8)
	} else {
		buf.Grow(64<<10 + pageBytesPerReplica*replicaCount(k.snap))
	}
	if err := s.theme.tmpl.ExecuteTemplate(&buf, "index.html", data); err != nil {
		s.log.Error("render status page", "version", k.snap.Version, "err", err)
		return &rendition{err: fmt.Errorf("render status page: %w", err)}
	}
	r := newRendition("text/html; charset=utf-8", buf.Bytes())
	s.log.Debug("status page rendered", "version", k.snap.Version,
		"bytes", len(r.body), "gzip_bytes", len(r.gzipped), "took", time.Since(start))
	return r
}

// pageBytesPerReplica is about what a replica adds to the page (its box and
// tooltip), measured on the built-in theme.
const pageBytesPerReplica = 800

func replicaCount(snap *status.Snapshot) int {
	n := 0
	for _, svc := range snap.Services {
		for _, node := range svc.Nodes {
			n += len(node.Replicas)
		}
	}
	return n
}

// pageData builds the template's view of one state.
func (s *Server) pageData(k pageKey) *pageData {
	b := s.cfg.Branding
	snap := k.snap
	now := k.now
	d := &pageData{
		AssetVersion: s.theme.version,
		RenderKey:    fmt.Sprintf("%d-%d-%x", snap.Version, k.year, announcementsHash(k.announcements)) + historyKey(k),
		HistoryKey:   historyVersion(k),
		Status:       snap.Health.String(),
		Year:         k.year,
		ProjectURL:   projectURL,
		Branding: brandingView{
			PageTitle:     b.PageTitle,
			PageURL:       b.PageURL,
			CompanyName:   b.CompanyName,
			IconURL:       b.IconURL,
			IconMIME:      iconMIME(b.IconURL),
			IconColor:     b.IconColor,
			LogoURL:       b.LogoURL,
			LogoColor:     b.LogoColor,
			WebsiteURL:    b.WebsiteURL,
			SupportURL:    b.SupportURL,
			CustomHTML:    template.HTML(b.CustomHTML), // #nosec: the operator's own HTML, raw on purpose
			ColorScheme:   colorScheme(b.ColorScheme),
			LogoTextColor: readableTextColor(b.LogoColor),
		},
		Announcements: announcementViews(k.announcements, s.zone),
		Subscribe:     s.subscribeView(),
	}
	if !snap.Refreshed.IsZero() {
		d.Refreshed = s.zone.format(snap.Refreshed, refreshedLayout)
		d.RefreshedISO = snap.Refreshed.UTC().Format(time.RFC3339)
	}
	d.Services = make([]serviceView, 0, len(snap.Services))
	for _, svc := range snap.Services {
		sv := serviceView{ID: svc.ID, Label: svc.Label, Status: svc.Health.String(), Nodes: make([]nodeView, 0, len(svc.Nodes))}
		for _, node := range svc.Nodes {
			nv := nodeView{
				ID:                node.ID,
				Label:             node.Label,
				Mode:              string(node.Mode),
				Status:            node.Health.String(),
				RevealReplicaName: node.RevealReplicaName,
				LinkURL:           node.LinkURL,
				LinkLabel:         node.LinkLabel,
				Replicas:          make([]replicaView, 0, len(node.Replicas)),
			}
			for i, rep := range node.Replicas {
				nv.Replicas = append(nv.Replicas, replicaViewOf(svc.ID, node, i, rep, now, s.zone))
			}
			if k.hist != nil {
				s.addNodeHistory(&nv, svc.ID, node, k)
			}
			sv.Nodes = append(sv.Nodes, nv)
		}
		d.Services = append(d.Services, sv)
	}
	if k.hist != nil {
		s.addPageHistory(d, k)
	}
	d.CollapseHealthy = nodeCount(snap) > collapseAbove
	return d
}

func replicaViewOf(serviceID string, node status.Node, i int, rep status.Replica, now time.Time, z zone) replicaView {
	rv := replicaView{
		Position:   i + 1,
		DOMID:      fmt.Sprintf("replica-%s-%s-%d", domSafe(serviceID), domSafe(node.ID), i+1),
		ID:         status.Redacted(rep.ID),
		Status:     rep.Health.String(),
		HasLatency: rep.HasLatency,
		LatencyMS:  rep.Latency.Milliseconds(),
		Queue:      rep.Queue,
	}
	if rep.Health != status.Healthy {
		rv.Reason = publicReason(&node, i)
	} else if status.Dissent(rep.Views, rep.Health) {
		rv.Vantage = status.DescribeViews(rep.Views)
	}
	rv.Pending = rep.Pending.String()
	if rep.Load != nil {
		rv.Load = &loadView{CPU: percent(rep.Load.CPU), RAM: percent(rep.Load.RAM)}
	}
	if (node.Mode == status.Push || node.Mode == status.Local) && !rep.Checked.IsZero() {
		layout := reportOlderLayout
		if z.sameDay(rep.Checked, now) {
			layout = reportTodayLayout
		}
		rv.LastReport = z.format(rep.Checked, layout)
		rv.LastReportISO = rep.Checked.UTC().Format(time.RFC3339)
	}
	return rv
}

// percent turns a ratio (0.42) into a rounded percentage (42).
func percent(ratio float64) int {
	if math.IsNaN(ratio) || math.IsInf(ratio, 0) {
		return 0
	}
	return int(math.Round(ratio * 100))
}

// domSafe keeps the characters of an id that are safe in an element id
// and in a CSS selector, so index.js can find the element again.
func domSafe(id string) string {
	return strings.Map(func(r rune) rune {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '-', r == '_':
			return r
		}
		return '_'
	}, id)
}

// announcementViews orders announcements newest first; among equal dates,
// the one given last (added last) comes first.
func announcementViews(list []Announcement, z zone) []announcementView {
	if len(list) == 0 {
		return nil
	}
	sorted := slices.Clone(list)
	slices.Reverse(sorted)
	slices.SortStableFunc(sorted, func(a, b Announcement) int { return b.Published.Compare(a.Published) })
	views := make([]announcementView, 0, len(sorted))
	for _, a := range sorted {
		v := announcementView{Title: a.Title, Text: a.Text}
		if !a.Published.IsZero() {
			v.Published = z.format(a.Published, announcementLayout)
			v.PublishedISO = a.Published.UTC().Format(time.RFC3339)
		}
		views = append(views, v)
	}
	return views
}

// announcementsHash fingerprints announcements for the render key.
func announcementsHash(list []Announcement) uint64 {
	h := fnv.New64a()
	for _, a := range list {
		fmt.Fprintf(h, "%d:%s%d:%s%d\x00", len(a.Title), a.Title, len(a.Text), a.Text, a.Published.UnixNano())
	}
	return h.Sum64()
}

// linebreaks escapes text for HTML and turns its line breaks into <br>.
func linebreaks(text string) template.HTML {
	escaped := template.HTMLEscapeString(strings.ReplaceAll(text, "\r\n", "\n"))
	return template.HTML(strings.ReplaceAll(escaped, "\n", "<br>")) // #nosec: escaped above
}

// iconMIME guesses the media type of the page icon from its extension:
// .svg, .jpg/.jpeg and .gif are recognised, anything else is taken as PNG.
// (Vigil says "image/svg", which is not a media type.)
func iconMIME(iconURL string) string {
	p := iconURL
	if u, err := url.Parse(iconURL); err == nil {
		p = u.Path
	}
	switch strings.ToLower(path.Ext(p)) {
	case ".svg":
		return "image/svg+xml"
	case ".jpg", ".jpeg":
		return "image/jpeg"
	case ".gif":
		return "image/gif"
	}
	return "image/png"
}
