package status

import (
	"net/url"
	"strings"
)

// Redacted returns a replica id as people may read it: a URL's user-info
// password is replaced by "xxxxx", as url.URL.Redacted does. Poll replica ids
// are the configured URLs, password and all, so every place where an id
// becomes text (logs, alert payloads, the page, metrics labels, config
// messages) goes through here. Other ids are returned unchanged.
func Redacted(id string) string {
	if !strings.Contains(id, "@") {
		return id // no user info: the common case, without parsing
	}
	if u, err := url.Parse(id); err == nil {
		if _, ok := u.User.Password(); !ok {
			return id
		}
		return u.Redacted()
	}
	// A URL too broken to parse (shown by config errors) may still carry a
	// password: hide what lies between the user name and the last "@" of
	// its authority.
	scheme, rest, ok := strings.Cut(id, "://")
	if !ok {
		return id
	}
	authority := rest
	if i := strings.IndexAny(rest, "/?#"); i >= 0 {
		authority = rest[:i]
	}
	at := strings.LastIndex(authority, "@")
	colon := strings.Index(authority, ":")
	if at < 0 || colon < 0 || colon > at {
		return id
	}
	return scheme + "://" + authority[:colon+1] + "xxxxx" + rest[at:]
}
