package web

import (
	"net/http"
	"slices"
	"sync"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"
)

// mcpSessionHeader carries the session id of the MCP Streamable HTTP
// transport.
const mcpSessionHeader = "Mcp-Session-Id"

// sessionCap bounds the MCP sessions kept at once ([server]
// mcp_sessions_max). Each session holds goroutines and buffers until it is
// closed or idle for the idle timeout (30 minutes), and anyone may open
// one: 20,000 initialize calls held 40,000 goroutines and 644 MB. Once a
// request has opened a session beyond the cap, the sessions whose last
// request is the oldest are closed, so a client that still uses its session
// keeps it, and one that went away makes room. (Sessions being opened at
// the same moment may pass the cap until they are answered; the connection
// cap bounds how many.)
type sessionCap struct {
	srv *mcp.Server
	max int
	now func() time.Time

	mu sync.Mutex
	// lastSeen holds the sessions this server opened, by id, with the
	// start of their last request. Only ids it opened are kept, so that
	// made-up ids do not fill it.
	lastSeen map[string]time.Time
}

func newSessionCap(srv *mcp.Server, max int, now func() time.Time) *sessionCap {
	return &sessionCap{srv: srv, max: max, now: now, lastSeen: map[string]time.Time{}}
}

func (c *sessionCap) wrap(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if id := r.Header.Get(mcpSessionHeader); id != "" {
			c.touch(id)
			next.ServeHTTP(w, r)
			return
		}
		// Without a session id, the request may open one (initialize): the
		// answer then carries its id.
		next.ServeHTTP(w, r)
		if id := w.Header().Get(mcpSessionHeader); id != "" {
			c.opened(id)
		}
	})
}

// touch records a request of a session this server opened.
func (c *sessionCap) touch(id string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, ok := c.lastSeen[id]; ok {
		c.lastSeen[id] = c.now()
	}
}

// opened records a new session and, beyond the cap, closes the sessions
// idle the longest.
func (c *sessionCap) opened(id string) {
	var evict []string
	c.mu.Lock()
	c.lastSeen[id] = c.now()
	if len(c.lastSeen) > c.max {
		c.forgetClosed()
	}
	for len(c.lastSeen) > c.max {
		oldest, first := "", true
		for id, t := range c.lastSeen {
			if first || t.Before(c.lastSeen[oldest]) {
				oldest, first = id, false
			}
		}
		delete(c.lastSeen, oldest)
		evict = append(evict, oldest)
	}
	c.mu.Unlock()
	if len(evict) == 0 {
		return
	}
	for ss := range c.srv.Sessions() {
		if slices.Contains(evict, ss.ID()) {
			_ = ss.Close()
		}
	}
}

// forgetClosed drops the sessions the SDK closed (idle timeout, DELETE).
// c.mu must be held.
func (c *sessionCap) forgetClosed() {
	live := make(map[string]bool, len(c.lastSeen))
	for ss := range c.srv.Sessions() {
		live[ss.ID()] = true
	}
	for id := range c.lastSeen {
		if !live[id] {
			delete(c.lastSeen, id)
		}
	}
}
