package web

import (
	"html/template"
	"strconv"
	"strings"
)

// replicaBoxesHTML renders a node's replica boxes with their tooltips, for the
// page template ({{replicaBoxes $node}}).
//
// Written out in Go rather than in the template because a big fleet makes
// this the page's hot loop: html/template spends about 10 µs on a box (a
// reflective call and an escaper for each of its ~25 actions), so 5000
// replicas cost 50 ms per render; this costs about a tenth of that. The
// markup is the embedded theme's, byte for byte (TestReplicaBoxesGolden),
// and text is escaped as html/template escapes it. It is not indented: a
// fleet of one-replica nodes repeats it thousands of times.
func replicaBoxesHTML(node nodeView) template.HTML {
	var b strings.Builder
	b.Grow(len(node.Replicas) * pageBytesPerReplica)
	label := probeLabel(node.Mode)
	for i := range node.Replicas {
		writeReplicaBox(&b, &node.Replicas[i], label, node.RevealReplicaName)
	}
	return template.HTML(b.String())
}

// probeLabel says how the replicas of a node in mode are checked.
func probeLabel(mode string) string {
	switch mode {
	case "local":
		return "Checked via a local probe (internal)."
	case "script":
		return "Checked via a script probe."
	case "push":
		return "Checked via a push probe (Reporter)."
	}
	return "Checked via a poll probe (HTTP, SSH, TCP or ICMP)."
}

func writeReplicaBox(b *strings.Builder, r *replicaView, probe string, revealName bool) {
	b.WriteString("\n<span id=\"")
	escapeHTML(b, r.DOMID)
	b.WriteString(`" class="replica status-`)
	escapeHTML(b, r.Status)
	b.WriteString(`-background has-tooltip font-sans-semibold" tabindex="0" aria-describedby="`)
	escapeHTML(b, r.DOMID)
	b.WriteString(`-tip">`)
	b.WriteString(strconv.Itoa(r.Position))
	b.WriteString(`<span class="tooltip" role="tooltip" id="`)
	escapeHTML(b, r.DOMID)
	b.WriteString("-tip\">\n<span class=\"tooltip-main font-sans-semibold\">This replica reports as ")
	escapeHTML(b, r.Status)
	b.WriteString(".</span>\n<span class=\"tooltip-label font-sans-light\">")
	b.WriteString(probe)
	b.WriteString("</span>")
	line := func(class, text string) {
		b.WriteString("\n<span class=\"")
		b.WriteString(class)
		b.WriteString(`">`)
		escapeHTML(b, text)
		b.WriteString("</span>")
	}
	if r.Reason != "" {
		line("tooltip-reason font-sans-regular", r.Reason)
	}
	if r.Vantage != "" {
		line("tooltip-reason font-sans-regular", r.Vantage)
	}
	if r.Pending != "" {
		line("tooltip-reason font-sans-regular", "Change pending: "+r.Pending+" checks.")
	}
	if revealName {
		line("tooltip-replica font-sans-light", r.ID)
	}
	if r.Load != nil || r.HasLatency || r.Queue != nil || r.LastReport != "" {
		b.WriteString("\n<span class=\"tooltip-details\">")
		detail := func(label string, value ...string) {
			b.WriteString("\n<span class=\"tooltip-detail font-sans-regular\"><span class=\"tooltip-detail-label font-sans-semibold\">")
			b.WriteString(label)
			b.WriteString("</span>: ")
			for _, v := range value {
				b.WriteString(v)
			}
			b.WriteString("</span>")
		}
		if r.Load != nil {
			detail("Load", strconv.Itoa(r.Load.CPU), "%")
			detail("Memory", strconv.Itoa(r.Load.RAM), "%")
		}
		if r.HasLatency {
			detail("Latency", strconv.FormatInt(r.LatencyMS, 10), " ms")
		}
		if r.Queue != nil {
			detail("Queue", strconv.FormatUint(r.Queue.Ready, 10), "R ", strconv.FormatUint(r.Queue.Unacked, 10), "N")
		}
		if r.LastReport != "" {
			var t strings.Builder
			t.WriteString(`<time datetime="`)
			escapeHTML(&t, r.LastReportISO)
			t.WriteString(`" data-relative>`)
			escapeHTML(&t, r.LastReport)
			t.WriteString("</time>")
			detail("Last report", t.String())
		}
		b.WriteString("\n</span>")
	}
	b.WriteString("\n</span>\n</span>")
}

// escapeHTML writes s escaped as html/template escapes text and quoted
// attribute values: the five HTML specials, '+' (against UTF-7 sniffing)
// and NUL.
func escapeHTML(b *strings.Builder, s string) {
	last := 0
	for i := 0; i < len(s); i++ {
		var rep string
		switch s[i] {
		case '&':
			rep = "&amp;"
		case '<':
			rep = "&lt;"
		case '>':
			rep = "&gt;"
		case '"':
			rep = "&#34;"
		case '\'':
			rep = "&#39;"
		case '+':
			rep = "&#43;"
		case 0:
			rep = "\uFFFD"
		default:
			continue
		}
		b.WriteString(s[last:i])
		b.WriteString(rep)
		last = i + 1
	}
	b.WriteString(s[last:])
}
