package web

import (
	"net/http"
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
// one: 20,000 initialize calls held 40,000 goroutines and 644 MB. A request
// that may open a session when the cap is reached closes the session whose
// last request is the oldest first, so a client that still uses its
// session keeps it, and one that went away makes room.
type sessionCap struct {
	srv *mcp.Server
	max int
	now func() time.Time

	mu sync.Mutex
	// lastSeen holds the sessions this server opened, by id, with the
	// start of their last request. Only ids it opened are kept, so that
	// made-up ids do not fill it.
	lastSeen map[string]time.Time
	// opening counts the requests in flight that may open a session: they
	// hold a place under the cap until they are answered.
	opening int
}

func newSessionCap(srv *mcp.Server, max int, now func() time.Time) *sessionCap {
	return &sessionCap{srv: srv, max: max, now: now, lastSeen: map[string]time.Time{}}
}

func (c *sessionCap) wrap(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if id := r.Header.Get(mcpSessionHeader); id != "" || r.Method != http.MethodPost {
			c.touch(id)
			next.ServeHTTP(w, r)
			return
		}
		if !c.admit() {
			w.Header().Set("Retry-After", "1")
			plainError(w, http.StatusServiceUnavailable, "too many MCP sessions being opened at once; retry")
			return
		}
		next.ServeHTTP(w, r)
		c.opened(w.Header().Get(mcpSessionHeader))
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

// admit holds a place for a new session, closing the sessions idle the
// longest when the cap is reached. It reports false when the requests
// opening sessions alone fill the cap.
func (c *sessionCap) admit() bool {
	var evict []string
	c.mu.Lock()
	if len(c.lastSeen)+c.opening >= c.max {
		c.forgetClosed()
	}
	for len(c.lastSeen)+c.opening >= c.max && len(c.lastSeen) > 0 {
		oldest, first := "", true
		for id, t := range c.lastSeen {
			if first || t.Before(c.lastSeen[oldest]) {
				oldest, first = id, false
			}
		}
		delete(c.lastSeen, oldest)
		evict = append(evict, oldest)
	}
	ok := c.opening < c.max
	if ok {
		c.opening++
	}
	c.mu.Unlock()
	if len(evict) > 0 {
		for ss := range c.srv.Sessions() {
			for _, id := range evict {
				if ss.ID() == id {
					_ = ss.Close()
				}
			}
		}
	}
	return ok
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

// opened releases the place admit held, and records the session the
// request opened, if any.
func (c *sessionCap) opened(id string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.opening--
	if id != "" {
		c.lastSeen[id] = c.now()
	}
}
