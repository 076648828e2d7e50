package config

import "strings"

// Kind is a poll replica's check kind, read from its URL's scheme.
type Kind string

// The check kinds of poll replicas.
const (
	KindHTTP Kind = "http" // http:// and https://
	KindTCP  Kind = "tcp"
	KindSSH  Kind = "ssh"
	KindICMP Kind = "icmp"
	KindTLS  Kind = "tls"
	KindDNS  Kind = "dns"
)

// kindDef is one row of the table of check kinds.
type kindDef struct {
	kind    Kind
	schemes []string // the URL schemes that select it
	example string   // what follows "scheme://" in a valid URL, for messages
}

// kinds is the one table of poll check kinds: parsing, messages and the
// monitor's probers (a test checks that each kind has one) read it.
var kinds = []kindDef{
	{KindHTTP, []string{"http", "https"}, "host/path"},
	{KindTCP, []string{"tcp"}, "host:port"},
	{KindSSH, []string{"ssh"}, "host:port"},
	{KindICMP, []string{"icmp"}, "host"},
	{KindTLS, []string{"tls"}, "host:port"},
	{KindDNS, []string{"dns"}, "resolver/name?type=A"},
}

// Kinds returns every poll check kind.
func Kinds() []Kind {
	out := make([]Kind, len(kinds))
	for i, k := range kinds {
		out[i] = k.kind
	}
	return out
}

// kindOf returns the kind a URL scheme selects.
func kindOf(scheme string) (Kind, bool) {
	for _, k := range kinds {
		for _, s := range k.schemes {
			if s == scheme {
				return k.kind, true
			}
		}
	}
	return "", false
}

// schemeList is the schemes for messages: "http, https, … or dns".
func schemeList() string {
	var all []string
	for _, k := range kinds {
		all = append(all, k.schemes...)
	}
	return strings.Join(all[:len(all)-1], ", ") + " or " + all[len(all)-1]
}

// example is what follows "scheme://" in a valid URL of kind k.
func example(k Kind) string {
	for _, d := range kinds {
		if d.kind == k {
			return d.example
		}
	}
	return "host:port"
}
