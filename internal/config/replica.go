package config

import (
	"errors"
	"fmt"
	"net/url"
	"slices"
	"strconv"
	"strings"

	"github.com/vigil-go/vigil/internal/status"
)

// parseTarget parses a poll replica URL the way Vigil does: icmp://host,
// tcp://host:port, ssh://host:port (no default port), or any absolute
// http(s) URL; and two kinds Vigil lacks: tls://host:port and
// dns://resolver[:port]/name[?type=A]. For icmp, tcp, ssh and tls a path,
// even a lone "/", is an error. It also returns what the URL holds that the
// probe ignores.
func parseTarget(id string) (Target, string, error) {
	t := Target{ID: id}
	u, err := url.Parse(id)
	raw := status.Redacted(id) // as messages show it
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return t, "", fmt.Errorf("invalid replica url %q: %v", raw, err)
	}
	t.URL = u
	kind, known := kindOf(u.Scheme)
	switch {
	case known:
		t.Kind = kind
	case u.Scheme == "":
		return t, "", fmt.Errorf("invalid replica url %q: missing scheme (want %s)", raw, schemeList())
	case strings.Contains(u.Scheme, ".") || u.Opaque != "" && strings.Trim(u.Opaque, "0123456789") == "":
		// "host.example.com:80" reads as scheme "host.example.com".
		return t, "", fmt.Errorf("invalid replica url %q: missing scheme (want %s)", raw, schemeList())
	default:
		return t, "", fmt.Errorf("unsupported scheme %q (want %s)", u.Scheme, schemeList())
	}
	if u.Opaque != "" {
		return t, "", fmt.Errorf("invalid replica url %q: want %s://%s", raw, u.Scheme, example(t.Kind))
	}
	t.Host = u.Hostname()
	t.Port = u.Port()
	if t.Host == "" {
		return t, "", fmt.Errorf("invalid replica url %q: missing host (want %s://%s)", raw, u.Scheme, example(t.Kind))
	}
	if strings.HasSuffix(u.Host, ":") {
		return t, "", fmt.Errorf("invalid replica url %q: empty port", raw)
	}
	if t.Port != "" {
		if n, err := strconv.Atoi(t.Port); err != nil || n < 1 || n > 65535 {
			return t, "", fmt.Errorf("invalid replica url %q: port %s out of range 1-65535", raw, t.Port)
		}
	}
	if t.Kind == KindHTTP {
		return t, "", nil
	}
	if t.Kind == KindDNS {
		return parseDNS(t, raw)
	}

	switch {
	case t.Kind == KindICMP && t.Port != "":
		return t, "", fmt.Errorf("invalid replica url %q: icmp takes no port (want icmp://host)", raw)
	case t.Kind != KindICMP && t.Port == "":
		return t, "", fmt.Errorf("invalid replica url %q: missing port (want %s://%s)", raw, u.Scheme, example(t.Kind))
	case u.Path != "" || u.RawPath != "":
		return t, "", fmt.Errorf("invalid replica url %q: %s takes no path, not even a trailing slash (want %s://%s)", raw, u.Scheme, u.Scheme, example(t.Kind))
	}
	var ignored []string
	if u.User != nil {
		ignored = append(ignored, "user info")
	}
	if u.RawQuery != "" || u.ForceQuery {
		ignored = append(ignored, "query")
	}
	if u.Fragment != "" || strings.HasSuffix(raw, "#") {
		ignored = append(ignored, "fragment")
	}
	if ignored != nil {
		return t, fmt.Sprintf("the %s of %s replica url %q is ignored", strings.Join(ignored, " and "), u.Scheme, raw), nil
	}
	return t, "", nil
}

// DNSTypes are the record types a dns:// replica may ask for.
var DNSTypes = []string{"A", "AAAA", "CNAME", "MX", "NS", "PTR", "SOA", "SRV", "TXT", "CAA"}

// parseDNS reads the query of dns://resolver[:port]/name[?type=A]: the
// resolver's port defaults to 53, the name is the path without its slash,
// and the type, A by default, is the only query parameter.
func parseDNS(t Target, raw string) (Target, string, error) {
	u := t.URL
	if t.Port == "" {
		t.Port = "53"
	}
	t.DNSName = strings.TrimPrefix(u.Path, "/")
	if t.DNSName == "" {
		return t, "", fmt.Errorf("invalid replica url %q: missing the name to query (want dns://%s)", raw, example(KindDNS))
	}
	if strings.Contains(t.DNSName, "/") || strings.Contains(t.DNSName, "..") || len(t.DNSName) > 253 {
		return t, "", fmt.Errorf("invalid replica url %q: %q is not a domain name", raw, t.DNSName)
	}
	q, err := url.ParseQuery(u.RawQuery)
	if err != nil {
		return t, "", fmt.Errorf("invalid replica url %q: %v", raw, err)
	}
	t.DNSType = "A"
	for name, values := range q {
		if name != "type" || len(values) != 1 {
			return t, "", fmt.Errorf("invalid replica url %q: unknown query parameter %q (want only type=, once)", raw, name)
		}
		t.DNSType = strings.ToUpper(values[0])
		if !slices.Contains(DNSTypes, t.DNSType) {
			return t, "", fmt.Errorf("invalid replica url %q: unsupported record type %q (want %s)", raw, values[0], strings.Join(DNSTypes, ", "))
		}
	}
	var ignored []string
	if u.User != nil {
		ignored = append(ignored, "user info")
	}
	if u.Fragment != "" || strings.HasSuffix(raw, "#") {
		ignored = append(ignored, "fragment")
	}
	if ignored != nil {
		return t, fmt.Sprintf("the %s of dns replica url %q is ignored", strings.Join(ignored, " and "), raw), nil
	}
	return t, "", nil
}
