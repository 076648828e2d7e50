package probe

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"time"

	probing "github.com/prometheus-community/pro-bing"
	"golang.org/x/net/icmp"

	"github.com/vigil-go/vigil/internal/status"
)

// ICMP pings a host (replica URL icmp://host). Like Vigil, it resolves the
// host to all its addresses and sends one echo to each in turn; the replica
// is up only if every address answers, which suits a name covering a pool.
// The latency is the largest round trip.
//
// It first tries unprivileged ping sockets (allowed for the groups in
// net.ipv4.ping_group_range) and falls back to raw sockets (root or
// CAP_NET_RAW), so Vigil's "every ICMP replica is silently dead" failure
// becomes a reason that says what to change.
type ICMP struct {
	Host string // name or IP literal, without IPv6 brackets
	// Timeout is poll_delay_dead. It bounds the whole probe, resolution
	// included; each echo waits at most min(Timeout, 1s), as in Vigil.
	// ≤ 0: each echo waits 1s, and ctx alone bounds the probe.
	Timeout time.Duration
	// SourceAddr is the local IP to ping from; nil lets the system choose.
	SourceAddr net.IP
}

// icmpEchoWait is Vigil's cap on the wait for one echo reply.
const icmpEchoWait = time.Second

// ErrICMPNotPermitted says that this process may open neither kind of ICMP
// socket. Every ICMP replica is dead until one of the two is allowed.
var ErrICMPNotPermitted = errors.New("neither unprivileged ping sockets (net.ipv4.ping_group_range) nor raw sockets (CAP_NET_RAW) are permitted")

// ICMPAvailable reports whether this process may send pings, by opening and
// closing an IPv4 ICMP socket of each kind. It sends nothing. The daemon calls
// it once at startup to warn when ICMP replicas are configured but cannot
// work; the error then wraps ErrICMPNotPermitted.
func ICMPAvailable() error {
	c, err := icmp.ListenPacket("udp4", "0.0.0.0")
	if err == nil {
		return c.Close()
	}
	if !permissionDenied(err) {
		return fmt.Errorf("icmp: unprivileged ping socket: %w", err)
	}
	c, err = icmp.ListenPacket("ip4:icmp", "0.0.0.0")
	if err == nil {
		return c.Close()
	}
	if !permissionDenied(err) {
		return fmt.Errorf("icmp: raw socket: %w", err)
	}
	return fmt.Errorf("icmp: %w", ErrICMPNotPermitted)
}

// Probe resolves the host and pings each address once.
func (p ICMP) Probe(ctx context.Context) Result {
	ctx, cancel := withTimeout(ctx, p.Timeout)
	defer cancel()
	start := time.Now()
	ips, err := net.DefaultResolver.LookupIPAddr(ctx, p.Host)
	if err == nil && len(ips) == 0 {
		err = fmt.Errorf("lookup %s: no address", p.Host)
	}
	if err != nil {
		return dead(time.Since(start), "ping "+p.Host+": "+errorText(ctx, err, p.Timeout))
	}
	wait := icmpEchoWait
	if p.Timeout > 0 {
		wait = min(wait, p.Timeout)
	}
	var slowest time.Duration
	for _, ip := range ips {
		rtt, err := ping(ctx, ip, wait, p.SourceAddr)
		if err != nil {
			label := p.Host
			if ip.String() != p.Host {
				label += " (" + ip.String() + ")"
			}
			return dead(time.Since(start), "ping "+label+": "+errorText(ctx, err, p.Timeout))
		}
		slowest = max(slowest, rtt)
	}
	return Result{Health: status.Healthy, Latency: slowest}
}

// ping sends one echo to ip and waits up to wait for the reply, over an
// unprivileged socket if allowed, else a raw one.
func ping(ctx context.Context, ip net.IPAddr, wait time.Duration, source net.IP) (time.Duration, error) {
	// pro-bing may still report a reply that raced a canceled ctx.
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	rtt, opened, err := pingOnce(ctx, ip, wait, source, false)
	if err == nil || opened || !permissionDenied(err) {
		return rtt, err
	}
	rtt, opened, err = pingOnce(ctx, ip, wait, source, true)
	if err == nil || opened || !permissionDenied(err) {
		return rtt, err
	}
	return 0, ErrICMPNotPermitted
}

// pingOnce runs one echo over one kind of socket. opened reports whether the
// socket could be opened, so that a permission error while sending (a
// firewall rejecting the packet) is not mistaken for a socket permission.
func pingOnce(ctx context.Context, ip net.IPAddr, wait time.Duration, source net.IP, privileged bool) (rtt time.Duration, opened bool, err error) {
	p := probing.New(ip.String())
	p.SetIPAddr(&ip)
	p.SetPrivileged(privileged)
	p.SetLogger(probing.NoopLogger{})
	p.Count = 1
	p.Interval = wait
	p.Timeout = wait
	p.RecordRtts = false
	p.RecordTTLs = false
	if source != nil {
		p.Source = source.String()
	}
	// OnSetup runs on this goroutine, inside RunWithContext, once the socket is open.
	p.OnSetup = func() { opened = true }
	err = p.RunWithContext(ctx)
	if err != nil {
		return 0, opened, err
	}
	stats := p.Statistics()
	if stats.PacketsRecv == 0 {
		return 0, opened, fmt.Errorf("no reply within %s", formatDuration(wait))
	}
	return stats.MaxRtt, opened, nil
}

// permissionDenied reports whether err is the kernel refusing an ICMP socket:
// EACCES for an unprivileged ping socket outside ping_group_range, EPERM for a
// raw socket without CAP_NET_RAW. os.ErrPermission matches both errnos.
func permissionDenied(err error) bool {
	return errors.Is(err, os.ErrPermission)
}
