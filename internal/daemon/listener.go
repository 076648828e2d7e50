package daemon

import (
	"errors"
	"log/slog"
	"math"
	"net"
	"syscall"

	"golang.org/x/net/netutil"
)

// unboundedFiles is the connection limit when the open-file limit is
// unlimited: the cap then guards memory only.
const unboundedFiles = 1 << 16

// connectionLimit is how many HTTP connections are served at once:
// server.max_connections, or by default half the process's open-file limit
// (which Go raises to the hard limit at start). The other half is left to
// what must not fail when clients open many connections: the probes'
// sockets, the database, notifications. Without the cap, a flood of
// connections used every descriptor and healthy replicas turned dead with
// "too many open files".
func connectionLimit(configured int) int {
	if configured > 0 {
		return configured
	}
	var rl syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &rl); err != nil || rl.Cur == math.MaxUint64 {
		return unboundedFiles
	}
	return int(max(rl.Cur/2, 1))
}

// limitListener serves at most limit connections at once: beyond it, new
// connections wait in the kernel's accept queue until one closes. Accept
// errors (such as running out of file descriptors) are logged at warn:
// net/http retries them, but otherwise says nothing an operator sees.
func limitListener(ln net.Listener, limit int, log *slog.Logger) net.Listener {
	return netutil.LimitListener(&loggingListener{Listener: ln, log: log}, limit)
}

type loggingListener struct {
	net.Listener
	log *slog.Logger
}

func (l *loggingListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil && !errors.Is(err, net.ErrClosed) {
		l.log.Warn("accept connection", "error", err)
	}
	return c, err
}
