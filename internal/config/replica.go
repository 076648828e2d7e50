package config

import (
	"errors"
	"fmt"
	"net/url"
	"strconv"
	"strings"
)

// parseTarget parses a poll replica URL the way Vigil does: icmp://host,
// tcp://host:port, ssh://host:port (no default port), or any absolute
// http(s) URL. For icmp, tcp and ssh a path, even a lone "/", is an error.
// It also returns what the URL holds that the probe ignores.
func parseTarget(raw string) (Target, string, error) {
	t := Target{ID: raw}
	u, err := url.Parse(raw)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return t, "", fmt.Errorf("invalid replica url %q: %v", raw, err)
	}
	t.URL = u
	switch u.Scheme {
	case "http", "https":
		t.Kind = "http"
	case "tcp", "ssh", "icmp":
		t.Kind = u.Scheme
	case "":
		return t, "", fmt.Errorf("invalid replica url %q: missing scheme (want http, https, tcp, ssh or icmp)", raw)
	default:
		if strings.Contains(u.Scheme, ".") || u.Opaque != "" && strings.Trim(u.Opaque, "0123456789") == "" {
			// "host.example.com:80" reads as scheme "host.example.com".
			return t, "", fmt.Errorf("invalid replica url %q: missing scheme (want http, https, tcp, ssh or icmp)", raw)
		}
		return t, "", fmt.Errorf("unsupported scheme %q (want http, https, tcp, ssh or icmp)", u.Scheme)
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
	if t.Kind == "http" {
		return t, "", nil
	}

	switch {
	case t.Kind == "icmp" && t.Port != "":
		return t, "", fmt.Errorf("invalid replica url %q: icmp takes no port (want icmp://host)", raw)
	case t.Kind != "icmp" && t.Port == "":
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

func example(kind string) string {
	switch kind {
	case "icmp":
		return "host"
	case "http":
		return "host/path"
	}
	return "host:port"
}
