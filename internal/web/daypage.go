package web

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"html/template"
	"net/http"
)

// A node's day page, GET /status/history/{service}/{node}/days: each day of
// the bar with its state in words and the text the bar's cells used to carry
// as hover text. The bar links to it, so it is the day details without
// JavaScript; with JavaScript, index.js fetches it and shows one day at a
// time in a popover. It is rendered from the in-memory history on each
// request (a few kilobytes, no database query) rather than kept for every
// node, which would cost a big fleet the memory the compact bar saves.

// dayPageTemplate is written for this page only: custom themes style it
// through the theme's stylesheets, which it links.
var dayPageTemplate = template.Must(template.New("days").Parse(`<!DOCTYPE html>
<html lang="en" dir="ltr">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="robots" content="noindex">
<title>{{.Title}}: last {{len .Days}} days · {{.PageTitle}}</title>
<link rel="stylesheet" href="{{.Root}}assets/stylesheets/common.css?v={{.AssetVersion}}">
<link rel="stylesheet" href="{{.Root}}assets/stylesheets/index.css?v={{.AssetVersion}}">
</head>
<body>
<main class="wrapper days-page">
<p><a href="{{.Root}}">Back to the status page</a></p>
<h1 class="font-sans-bold">{{.Title}}: last {{len .Days}} days</h1>
<p class="days-summary">{{.Summary}}. Oldest first.</p>
<ol class="days">
{{- range .Days}}
<li class="day" data-status="{{.Status}}"><i class="day-swatch bar-{{.Status}}"></i> <span class="day-state">{{.Word}}</span> <span class="day-text">{{.Text}}</span></li>
{{- end}}
</ol>
</main>
</body>
</html>
`))

type dayPageData struct {
	PageTitle    string
	AssetVersion string
	Root         string // the status page, relative to this page
	Title        string // "Web / API"
	Summary      string // the bar's accessible name
	Days         []dayLine
}

type dayLine struct {
	Status string // healthy, sick, dead or none
	Word   string // the state in words: "Sick"
	Text   string // the hover text the bar's cells carried: "3 Mar 2031: 97.91% uptime, 1 incident: API outage"
}

// dayPageRoot climbs from status/history/{service}/{node}/days back to the
// status page; the service and node are single path segments.
const dayPageRoot = "../../../../"

// handleNodeDays answers GET /status/history/{service}/{node}/days.
func (s *Server) handleNodeDays(w http.ResponseWriter, r *http.Request) {
	service, node := r.PathValue("service"), r.PathValue("node")
	h := s.data.history()
	svc, n := s.snapshot().Find(service, node)
	if n == nil || h.nodes[nodeKey{service, node}] == nil {
		notFound(w, r)
		return
	}
	hv := s.nodeHistory(h, service, *n)
	d := dayPageData{
		PageTitle:    s.cfg.Branding.PageTitle,
		AssetVersion: s.theme.version,
		Root:         dayPageRoot,
		Title:        svc.Label + " / " + n.Label,
		Summary:      hv.Bar.Label,
		Days:         make([]dayLine, 0, len(hv.Days)),
	}
	for _, day := range hv.Days {
		d.Days = append(d.Days, dayLine{Status: barState(day.Status), Word: barStateWord(day.Status), Text: day.Title})
	}
	var buf bytes.Buffer
	if err := dayPageTemplate.Execute(&buf, d); err != nil {
		s.log.Error("render day page", "service", service, "node", node, "err", err)
		http.Error(w, "render day page: "+err.Error(), http.StatusInternalServerError)
		return
	}
	plainRendition("text/html; charset=utf-8", buf.Bytes()).serve(w, r, s.bound)
}

// plainRendition is a rendition without a gzip copy, for small bodies
// rendered per request, where compressing would cost more than it saves.
func plainRendition(contentType string, body []byte) *rendition {
	sum := sha256.Sum256(body)
	return &rendition{contentType: contentType, body: body, etag: `"` + base64.RawURLEncoding.EncodeToString(sum[:12]) + `"`}
}
