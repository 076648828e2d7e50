package probe

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"time"

	"github.com/vigil-go/vigil/internal/status"
)

// TCP checks that a port accepts connections (replica URL tcp://host:port).
// Like Vigil, it resolves the host and connects to the first address only,
// so a name whose first address is unreachable IPv6 is dead even if its IPv4
// address works. The connection is closed as soon as it is established.
type TCP struct {
	Host    string        // name or IP literal, without IPv6 brackets
	Port    string        // port number
	Timeout time.Duration // poll_delay_dead, covering resolution and connect; ≤ 0: ctx alone bounds the probe
	// SourceAddr is the local IP to connect from; nil lets the system choose.
	SourceAddr net.IP
}

// Probe connects once and reports healthy on success.
func (t TCP) Probe(ctx context.Context) Result {
	ctx, cancel := withTimeout(ctx, t.Timeout)
	defer cancel()
	start := time.Now()
	conn, addr, err := dialFirst(ctx, t.Host, t.Port, t.SourceAddr)
	latency := time.Since(start)
	if err != nil {
		return dead(latency, "connect tcp "+target(t.Host, t.Port, addr)+": "+dialErrorText(ctx, err, t.Timeout))
	}
	conn.Close()
	return Result{Health: status.Healthy, Latency: latency}
}

// dialFirst resolves host and opens a TCP connection to its first address,
// which it also returns ("" if resolution failed). Resolution and connect are
// both bounded by ctx.
func dialFirst(ctx context.Context, host, port string, source net.IP) (net.Conn, string, error) {
	// LookupIPAddr returns IP literals as they are, without asking DNS.
	ips, err := net.DefaultResolver.LookupIPAddr(ctx, host)
	if err != nil {
		return nil, "", err
	}
	if len(ips) == 0 {
		return nil, "", fmt.Errorf("lookup %s: no address", host)
	}
	ip := ips[0]
	addr := net.JoinHostPort(ip.String(), port)
	var d net.Dialer
	if source != nil {
		if (source.To4() == nil) != (ip.IP.To4() == nil) {
			// net says "no suitable address found", which hides the cause.
			return nil, addr, fmt.Errorf("source address %s cannot reach %s: not the same IP version", source, ip.IP)
		}
		d.LocalAddr = &net.TCPAddr{IP: source}
	}
	conn, err := d.DialContext(ctx, "tcp", addr)
	return conn, addr, err
}

// target names what was connected to: "db:5432 (10.0.0.3:5432)" when the
// host is a name, so the reason shows which address failed.
func target(host, port, addr string) string {
	hp := net.JoinHostPort(host, port)
	if addr == "" || addr == hp {
		return hp
	}
	return hp + " (" + addr + ")"
}

// dialErrorText words a dialFirst error. The reason already says
// "connect tcp host:port", so the standard "dial tcp 10.0.0.3:22: connect:"
// prefix is dropped and only the cause remains ("connection refused").
func dialErrorText(ctx context.Context, err error, d time.Duration) string {
	var oe *net.OpError
	if errors.As(err, &oe) && oe.Op == "dial" {
		err = oe.Err
		var se *os.SyscallError
		if errors.As(err, &se) && se.Syscall == "connect" {
			err = se.Err
		}
	}
	return errorText(ctx, err, d)
}
