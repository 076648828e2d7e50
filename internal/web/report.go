package web

import (
	"fmt"
	"net/http"
	"net/url"

	"github.com/vigil-go/vigil/internal/status"
)

// handleStatusText serves the general status as one bare word.
func (s *Server) handleStatusText(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	h.Set("Content-Type", "text/plain; charset=utf-8")
	h.Set("Cache-Control", "no-cache")
	_, _ = w.Write([]byte(s.snapshot().Health.String()))
}

// report is the /status/report body. Its fields and their order are
// Vigil's; Reasons is ours.
type report struct {
	Health status.Health `json:"health"`
	Page   reportPage    `json:"page"`
	Probes []reportProbe `json:"probes"`
}

type reportPage struct {
	Name string `json:"name"`
	URL  string `json:"url"`
}

type reportProbe struct {
	Name   string        `json:"name"`
	Status status.Health `json:"status"`
	Nodes  []reportNode  `json:"nodes"`
}

type reportNode struct {
	Name     string          `json:"name"`
	Status   status.Health   `json:"status"`
	Replicas []status.Health `json:"replicas"`
	// Reasons says why each replica (same positions as Replicas) is not
	// healthy; "" for a healthy one.
	Reasons []string `json:"reasons"`
	// Vantages says, in cluster mode, how each vantage point sees each
	// replica (same positions as Replicas); left out otherwise.
	Vantages [][]reportVantage `json:"vantages,omitempty"`
}

// handleStatusReport serves the JSON report, rendered once per snapshot.
func (s *Server) handleStatusReport(w http.ResponseWriter, r *http.Request) {
	s.currentReport().serve(w, r, s.bound)
}

// currentReport returns the report of the current state, rendered once per
// snapshot and shared by /status/report and the MCP get_report tool.
func (s *Server) currentReport() *rendition {
	return s.report.get(s.snapshot, func(a, b *status.Snapshot) bool { return a.Version == b.Version }, s.renderReport)
}

func (s *Server) renderReport(snap *status.Snapshot) *rendition {
	rep := report{
		Health: snap.Health,
		Page:   reportPage{Name: s.cfg.Branding.PageTitle, URL: serialiseURL(s.cfg.Branding.PageURL)},
		Probes: make([]reportProbe, 0, len(snap.Services)),
	}
	for _, svc := range snap.Services {
		p := reportProbe{Name: svc.Label, Status: svc.Health, Nodes: make([]reportNode, 0, len(svc.Nodes))}
		for _, node := range svc.Nodes {
			n := reportNode{
				Name:     node.Label,
				Status:   node.Health,
				Replicas: make([]status.Health, 0, len(node.Replicas)),
				Reasons:  make([]string, 0, len(node.Replicas)),
			}
			for i, rep := range node.Replicas {
				n.Replicas = append(n.Replicas, rep.Health)
				n.Reasons = append(n.Reasons, publicReason(&node, i))
			}
			n.Vantages = reportVantages(&node)
			p.Nodes = append(p.Nodes, n)
		}
		rep.Probes = append(rep.Probes, p)
	}
	body, err := encodeJSON(rep)
	if err != nil {
		s.log.Error("render status report", "version", snap.Version, "err", err)
		return &rendition{err: fmt.Errorf("render status report: %w", err)}
	}
	return newRendition("application/json", body)
}

// serialiseURL writes an absolute URL the way Vigil's URL type does: a bare
// origin gets its "/" path.
func serialiseURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" {
		return raw
	}
	if u.Path == "" && u.RawPath == "" && u.Opaque == "" {
		u.Path = "/"
	}
	return u.String()
}

// handleBadge serves the badge of the general status: /badge/color (a plain
// square) or /badge/icon (a rounded square with a glyph). Clients must
// revalidate, and there is no Last-Modified: the badge changes with the
// status, not with the file.
func (s *Server) handleBadge(w http.ResponseWriter, r *http.Request) {
	kind := r.PathValue("kind")
	if kind != "color" && kind != "icon" {
		notFound(w, r)
		return
	}
	name := "images/badges/" + kind + "-" + s.snapshot().Health.String() + "-default.svg"
	s.serveAsset(w, r, name, "no-cache", false)
}
