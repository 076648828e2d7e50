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
	// A sync.Map, not a mutex around a map: the hook runs twice per
	// request (active, then idle), on every connection at once.
	conns sync.Map // net.Conn → struct{}
}

// track is an http.Server ConnState hook.
func (u *unusedConns) track(c net.Conn, s http.ConnState) {
	if s == http.StateNew {
		u.conns.Store(c, struct{}{})
	} else {
		u.conns.Delete(c)
	}
}

// close closes every connection that has not sent a request yet.
func (u *unusedConns) close() {
	u.conns.Range(func(c, _ any) bool {
		c.(net.Conn).Close()
		u.conns.Delete(c)
		return true
	})
}
