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
// host to all its addresses and pings each in turn; the replica is as bad as
// its worst address, which suits a name covering a pool. Vigil sends one echo
// and a lost echo is dead; with Count, each address gets Count echoes and the
// share lost is judged against LossDeadAbove and LossSickAbove. The latency
// is the average round trip of the replies, of the slowest address.
//
// It first tries unprivileged ping sockets (allowed for the groups in
// net.ipv4.ping_group_range) and falls back to raw sockets (root or
// CAP_NET_RAW), so Vigil's "every ICMP replica is silently dead" failure
// becomes a reason that says what to change.
type ICMP struct {
	Host string // name or IP literal, without IPv6 brackets
	// Timeout is poll_delay_dead. It bounds the whole probe, resolution
	// included; each echo waits at most min(Timeout, 1s), as in Vigil.
	// With several echoes they are sent 100ms apart, closer when Timeout
	// is short, so that sending them takes at most half of it, and the last
	// echo waits for what is left of the other half (at most 1s).
	// ≤ 0: each echo waits 1s, and ctx alone bounds the probe.
	Timeout time.Duration
	// SourceAddr is the local IP to ping from; nil lets the system choose.
	SourceAddr net.IP
	// Count is icmp_count: echoes sent to each address per check. ≤ 0
	// means 1, Vigil's behaviour.
	Count int
	// LossDeadAbove and LossSickAbove are icmp_loss_dead_above and
	// icmp_loss_sick_above, fractions from 0 to 1: an address that lost
	// more than LossDeadAbove of its echoes is dead, else more than
	// LossSickAbove sick ("ping host: 2/5 lost, rtt avg 12ms"). Their zero
	// values keep Vigil's rule, any loss is dead; so do 0 and 1.
	LossDeadAbove, LossSickAbove float64
	// Pinger sends the echoes; nil means the system's ICMP sockets. Tests
	// set one to lose echoes, which a loopback target never does.
	Pinger Pinger
}

// A Pinger sends echoes to one address and counts the replies.
type Pinger interface {
	// Ping sends e.Count echoes to ip, e.Interval apart, and returns once
	// every reply is in or e.Wait after the last echo was sent. It reports
	// what it sent and received also when it returns an error, which it
	// does when it could not send (ErrICMPNotPermitted and the like) or
	// when ctx ended first.
	Ping(ctx context.Context, ip net.IPAddr, e Echoes) (Replies, error)
}

// Echoes is what a Pinger is asked to send.
type Echoes struct {
	Count    int           // echoes to send, ≥ 1
	Interval time.Duration // between two echoes
	Wait     time.Duration // for the replies, after the last echo
	Source   net.IP        // local IP to send from; nil lets the system choose
}

// Replies is what a Pinger saw.
type Replies struct {
	Sent, Received int
	AvgRTT         time.Duration // average round trip of the replies; 0 without any
}

// icmpEchoWait is Vigil's cap on the wait for one echo reply.
const icmpEchoWait = time.Second

// icmpEchoInterval spaces the echoes of one check: ten a second, quick
// enough that 100 of them fit in Vigil's default 10s timeout, and spaced
// enough that routers rate-limiting ICMP do not drop a burst and fake loss.
const icmpEchoInterval = 100 * time.Millisecond

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

// Probe resolves the host and pings each address Count times.
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
	pinger := p.Pinger
	if pinger == nil {
		pinger = systemPinger{}
	}
	echoes := p.echoes()
	worst := Result{Health: status.Healthy}
	for _, ip := range ips {
		label := p.Host
		if ip.String() != p.Host {
			label += " (" + ip.String() + ")"
		}
		// Once ctx has ended, ping no more: a pinger could still report a
		// reply that raced the end, and the caller has given up anyway.
		if err := ctx.Err(); err != nil {
			return dead(time.Since(start), "ping "+label+": "+errorText(ctx, context.Cause(ctx), p.Timeout))
		}
		got, err := pinger.Ping(ctx, ip, echoes)
		// Time running out once every echo is on its way ends the wait for
		// replies, and what has not answered by then is lost: with a
		// Timeout of 1s and 5 echoes, one lost echo reads "1/5 lost" rather
		// than "timeout after 1s", whichever of the two clocks fires first.
		if err != nil && !(got.Sent >= echoes.Count && errors.Is(ctx.Err(), context.DeadlineExceeded)) {
			return dead(time.Since(start), "ping "+label+": "+errorText(ctx, err, p.Timeout))
		}
		r := p.judge(got, echoes)
		if r.Health == status.Dead {
			return dead(time.Since(start), "ping "+label+": "+r.Reason)
		}
		if r.Health == status.Sick && worst.Health == status.Healthy {
			worst.Health, worst.Reason = status.Sick, "ping "+label+": "+r.Reason
		}
		worst.Latency = max(worst.Latency, r.Latency)
	}
	return worst
}

// echoes plans one address's echoes within Timeout (see there).
func (p ICMP) echoes() Echoes {
	e := Echoes{Count: max(p.Count, 1), Interval: icmpEchoInterval, Wait: icmpEchoWait, Source: p.SourceAddr}
	if p.Timeout > 0 {
		e.Interval = min(e.Interval, p.Timeout/time.Duration(2*e.Count))
		e.Wait = min(e.Wait, p.Timeout-time.Duration(e.Count-1)*e.Interval)
	}
	if e.Count == 1 || e.Interval <= 0 {
		// One echo has no interval; a tiny Timeout leaves none to speak of.
		e.Interval = e.Wait
	}
	return e
}

// judge words one address's replies: its health by the share of echoes
// lost, the average round trip as its latency, and a reason unless healthy.
func (p ICMP) judge(got Replies, e Echoes) Result {
	lost := max(e.Count-got.Received, 0)
	// Division, not lost > threshold×count: 1/5 and the threshold 0.2 are
	// the same float, so "more than 0.2" holds for 2/5 and not for 1/5.
	share := float64(lost) / float64(e.Count)
	r := Result{Health: status.Healthy, Latency: got.AvgRTT}
	switch {
	case share > p.LossDeadAbove:
		r.Health = status.Dead
	case share > p.LossSickAbove:
		r.Health = status.Sick
	default:
		return r
	}
	switch {
	case e.Count == 1:
		r.Reason = "no reply within " + formatDuration(e.Wait) // Vigil's single echo, worded as before
	case got.Received == 0:
		r.Reason = fmt.Sprintf("%d/%d lost", lost, e.Count)
	default:
		r.Reason = fmt.Sprintf("%d/%d lost, rtt avg %s", lost, e.Count, formatDuration(got.AvgRTT.Round(time.Microsecond)))
	}
	return r
}

// systemPinger pings over an unprivileged socket if allowed, else a raw one.
type systemPinger struct{}

func (systemPinger) Ping(ctx context.Context, ip net.IPAddr, e Echoes) (Replies, error) {
	got, opened, err := pingOver(ctx, ip, e, false)
	if err == nil || opened || !permissionDenied(err) {
		return got, err
	}
	got, opened, err = pingOver(ctx, ip, e, true)
	if err == nil || opened || !permissionDenied(err) {
		return got, err
	}
	return Replies{}, ErrICMPNotPermitted
}

// pingOver sends the echoes over one kind of socket. opened reports whether
// the socket could be opened, so that a permission error while sending (a
// firewall rejecting the packet) is not mistaken for a socket permission.
func pingOver(ctx context.Context, ip net.IPAddr, e Echoes, privileged bool) (got Replies, opened bool, err error) {
	p := probing.New(ip.String())
	p.SetIPAddr(&ip)
	p.SetPrivileged(privileged)
	p.SetLogger(probing.NoopLogger{})
	p.Count = e.Count
	p.Interval = e.Interval
	// pro-bing's Timeout bounds the whole run; it also ends once every reply is in.
	p.Timeout = time.Duration(e.Count-1)*e.Interval + e.Wait
	p.RecordRtts = false
	p.RecordTTLs = false
	if e.Source != nil {
		p.Source = e.Source.String()
	}
	// OnSetup runs on this goroutine, inside RunWithContext, once the socket is open.
	p.OnSetup = func() { opened = true }
	err = p.RunWithContext(ctx)
	stats := p.Statistics()
	return Replies{Sent: stats.PacketsSent, Received: stats.PacketsRecv, AvgRTT: stats.AvgRtt}, opened, err
}

// permissionDenied reports whether err is the kernel refusing an ICMP socket:
// EACCES for an unprivileged ping socket outside ping_group_range, EPERM for a
// raw socket without CAP_NET_RAW. os.ErrPermission matches both errnos.
func permissionDenied(err error) bool {
	return errors.Is(err, os.ErrPermission)
}
