package web

import (
	"cmp"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/vigil-go/vigil/internal/status"
)

// publicReason is what the page, /status/report and MCP say about why
// replica i of node is not healthy ("" when it is healthy).
//
// A node that reveals its replica names shows the reason whole: it names the
// replica's URL, which the page shows anyway, and probes redact its
// password. Otherwise the replica id is private (often a URL with a path
// and an ?api_key=…), so the replica is named by its position, as its box
// is, and the reason loses what names the target: probes word a reason as
// "<target>: <what happened>", so leading parts that mention the replica's
// host, path or query are dropped, and a later mention is replaced. The full
// reason stays in the logs.
func publicReason(node *status.Node, i int) string {
	rep := &node.Replicas[i]
	if rep.Health == status.Healthy || rep.Reason == "" {
		return ""
	}
	if node.RevealReplicaName {
		return rep.Reason
	}
	names := hiddenNames(rep.ID)
	parts := strings.Split(rep.Reason, ": ")
	for len(parts) > 1 && mentionsAny(parts[0], names) {
		parts = parts[1:]
	}
	detail := strings.Join(parts, ": ")
	for _, n := range names {
		detail = replaceName(detail, n, "(hidden)")
	}
	// A redirect followed (http_follow_redirects) names the URL that
	// answered last, often on another, internal host.
	detail = anyURL.ReplaceAllString(detail, "(hidden)")
	return "replica " + strconv.Itoa(i+1) + ": " + detail
}

// anyURL matches a URL in a reason, up to a space or a comma.
var anyURL = regexp.MustCompile(`\b[a-z][a-z0-9+.-]*://[^\s,]+`)

// hiddenNames lists the parts of a poll replica's URL that its id hides
// from the public, longest first so that a longer one is replaced whole.
// Push, local and script replica ids are not URLs, and their reasons never
// name them.
func hiddenNames(id string) []string {
	u, err := url.Parse(id)
	if err != nil || u.Host == "" {
		return nil
	}
	names := []string{id, status.Redacted(id), u.Host, u.Hostname(), u.User.Username()}
	if p := u.EscapedPath(); len(p) > 1 {
		names = append(names, p, u.Path)
	}
	if u.RawQuery != "" {
		names = append(names, u.RawQuery)
		for _, values := range u.Query() {
			names = append(names, values...)
		}
	}
	names = slices.DeleteFunc(names, func(n string) bool { return len(n) < 2 })
	slices.SortFunc(names, func(a, b string) int { return cmp.Compare(len(b), len(a)) })
	return slices.Compact(names)
}

func mentionsAny(s string, names []string) bool {
	for _, n := range names {
		if indexName(s, n, 0) >= 0 {
			return true
		}
	}
	return false
}

// replaceName replaces each mention of name in s by with.
func replaceName(s, name, with string) string {
	var b strings.Builder
	from := 0
	for {
		i := indexName(s, name, from)
		if i < 0 {
			break
		}
		b.WriteString(s[from:i])
		b.WriteString(with)
		from = i + len(name)
	}
	if from == 0 {
		return s
	}
	b.WriteString(s[from:])
	return b.String()
}

// indexName finds name in s from offset from, as a whole word: a host "db"
// is not found in "dbx" nor in "mongodb".
func indexName(s, name string, from int) int {
	for from <= len(s)-len(name) {
		i := strings.Index(s[from:], name)
		if i < 0 {
			return -1
		}
		i += from
		end := i + len(name)
		if (i == 0 || !isWordByte(s[i-1]) || !isWordByte(name[0])) &&
			(end == len(s) || !isWordByte(s[end]) || !isWordByte(name[len(name)-1])) {
			return i
		}
		from = i + 1
	}
	return -1
}

func isWordByte(c byte) bool {
	return c == '_' || c == '-' || '0' <= c && c <= '9' || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z'
}
