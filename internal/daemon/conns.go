package daemon

import (
	"net"
	"net/http"
	"sync"
)

// unusedConns tracks the connections that have not sent a request yet, so
// that a graceful shutdown can close them at once. net/http waits up to 5 s
// for such a connection to send its first request, and clients open them
// ahead of need: browsers preconnect, and Go's transport keeps a connection
// it dialed for a request that was cancelled meanwhile. Without this, a
// stop would wait those 5 s for requests that never come.
type unusedConns struct {
	mu    sync.Mutex
	conns map[net.Conn]bool
}

// track is an http.Server ConnState hook.
func (u *unusedConns) track(c net.Conn, s http.ConnState) {
	u.mu.Lock()
	defer u.mu.Unlock()
	if u.conns == nil {
		u.conns = map[net.Conn]bool{}
	}
	if s == http.StateNew {
		u.conns[c] = true
	} else {
		delete(u.conns, c)
	}
}

// close closes every connection that has not sent a request yet.
func (u *unusedConns) close() {
	u.mu.Lock()
	defer u.mu.Unlock()
	for c := range u.conns {
		c.Close()
		delete(u.conns, c)
	}
}
