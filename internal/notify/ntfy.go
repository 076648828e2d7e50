package notify

import (
	"context"
	"net/http"
	"slices"
	"strings"
)

// Ntfy is [notify.ntfy]: a message published to an ntfy topic, on ntfy.sh
// or a self-hosted server.
type Ntfy struct {
	TopicURL string `toml:"topic_url" check:"secret-url"` // https://ntfy.sh/<topic>
	// Token is an access token (Authorization: Bearer); Username and
	// Password are the alternative (Basic). Both are optional: public
	// topics take anyone's messages.
	Token    string `toml:"token"`
	Username string `toml:"username"`
	Password string `toml:"password"`
	// Priority is the priority of messages about a dead page, default
	// "urgent"; others are sent at "default".
	Priority string   `toml:"priority" default:"urgent"`
	Tags     []string `toml:"tags"` // added to the status tag
	Common
}

// ntfyPriorities are the priority names ntfy takes, and their numbers.
var ntfyPriorities = []string{"min", "low", "default", "high", "urgent", "max", "1", "2", "3", "4", "5"}

// Check fills the default priority and checks the URL, the credentials and
// the priority.
func (n *Ntfy) Check(c Checker) {
	// Either token or username and password: the other may be written
	// empty, so only a value is checked as a credential.
	if n.Token != "" {
		c.Secret("token", n.Token, false)
	}
	if n.Password != "" {
		c.Secret("password", n.Password, false)
	}
	switch {
	case n.Token != "" && (n.Username != "" || n.Password != ""):
		c.Errorf("token", "set either token or username and password, not both")
	case n.Username != "" && n.Password == "":
		c.Errorf("password", "missing: username is set")
	case n.Password != "" && n.Username == "":
		c.Errorf("username", "missing: password is set")
	}
	if !slices.Contains(ntfyPriorities, n.Priority) {
		c.Errorf("priority", "unknown priority %q (want %s)", n.Priority, strings.Join(ntfyPriorities, ", "))
	}
	for i, tag := range n.Tags {
		if tag == "" || strings.Contains(tag, ",") {
			c.Errorf("tags", "tag %d (%q) must be non-empty and hold no comma", i, tag)
		}
	}
}

func (n *Ntfy) targets(o Options) ([]Target, []string, error) {
	if _, err := joinURL(n.TopicURL); err != nil {
		return nil, nil, err
	}
	h := http.Header{}
	secrets := []string{n.Token, n.Password}
	switch {
	case n.Token != "":
		h.Set("Authorization", "Bearer "+n.Token)
	case n.Username != "":
		h = basicAuth(n.Username, n.Password)
		secrets = append(secrets, h.Get("Authorization"))
	}
	priority := n.Priority
	if priority == "" {
		priority = "urgent"
	}
	return single(&ntfy{p: o.poster(), url: n.TopicURL, auth: h, priority: priority, tags: n.Tags, secrets: secrets}, nil)
}

// ntfy publishes the plain text as the body, with the title, priority,
// tags and click URL as headers.
type ntfy struct {
	p        poster
	url      string
	auth     http.Header
	priority string // of dead messages
	tags     []string
	secrets  []string
}

// Notify posts plainText with Title, Priority (the configured one while
// the page is dead, "default" otherwise), Tags (the status's emoji, then
// the configured tags) and Click (the page).
func (n *ntfy) Notify(ctx context.Context, m Message) error {
	h := n.auth.Clone()
	h.Set("Title", m.PageTitle)
	h.Set("Priority", byStatus(m.Status, n.priority, "default", "default"))
	h.Set("Tags", strings.Join(append([]string{byStatus(m.Status, "rotating_light", "warning", "white_check_mark")}, n.tags...), ","))
	h.Set("Click", m.PageURL)
	return n.p.post(ctx, request{url: n.url, contentType: "text/plain; charset=utf-8", header: h,
		body: []byte(plainText(m)), secrets: append(n.secrets, urlSecrets(n.url)...)})
}
