package monitor

import (
	"context"
	"net"
	"strconv"
	"time"

	"github.com/vigil-go/vigil/internal/config"
	"github.com/vigil-go/vigil/internal/probe"
)

// pollProber builds the probe of one poll replica, wrapped in Vigil's retry
// and sick-latency policy.
func (m *Monitor) pollProber(node config.Node, t config.Target) probe.Prober {
	met := m.cfg.Metrics
	checks := node.Checks(met)
	timeout := checks.PollDelayDead
	// Validation accepted only a literal IP (or nothing: nil, the system's choice).
	src := net.ParseIP(m.cfg.Server.ProbeSourceAddress)
	expirySick := checks.TLSExpirySick
	healthyAbove, healthyBelow := node.HealthyStatus(met)
	var p probe.Prober
	switch t.Kind {
	case "http":
		p = &probe.HTTP{
			URL:           t.URL,
			Method:        node.HTTPMethod,
			Header:        node.Headers,
			Body:          node.HTTPBody,
			BodyMatch:     node.BodyMatch,
			HealthyAbove:  healthyAbove,
			HealthyBelow:  healthyBelow,
			NoCacheBuster: node.HTTPNoCacheBuster,
			UserAgent:     "vigil (+" + m.cfg.Branding.PageURL + ")",
			Timeout:       timeout,
			Now:           m.now,
			SourceAddr:    src,
			ExpirySick:    expirySick,
			// Vigil judges a 3xx as a status; http_follow_redirects
			// follows it to the page that answers.
			FollowRedirects: checks.FollowRedirects,
		}
	case "tcp":
		p = &probe.TCP{Host: t.Host, Port: t.Port, Timeout: timeout, SourceAddr: src,
			Send: node.TCPSend, Expect: node.TCPExpectMatch}
	case "tls":
		p = &probe.TLS{Host: t.Host, Port: t.Port, SickBefore: expirySick, Timeout: timeout, SourceAddr: src, Now: m.now}
	case "dns":
		p = &probe.DNS{Server: t.Host, Port: t.Port, Name: t.DNSName, Type: t.DNSType, Expect: node.DNSExpectMatch,
			Timeout: timeout, SourceAddr: src}
	case "ssh":
		p = &probe.SSH{Host: t.Host, Port: t.Port, Timeout: timeout, SourceAddr: src}
	case "icmp":
		// The probe waits at most a second per echo, as Vigil does.
		p = &probe.ICMP{Host: t.Host, Timeout: timeout, SourceAddr: src, Count: checks.ICMPCount,
			LossDeadAbove: checks.ICMPLossDeadAbove, LossSickAbove: checks.ICMPLossSickAbove}
	}
	policy := probe.Policy{
		Retries:   checks.PollRetry,
		RetryWait: checks.PollRetryWait,
		SickAfter: checks.PollDelaySick,
	}
	return probe.Func(func(ctx context.Context) probe.Result { return policy.Run(ctx, p) })
}

// scriptProber builds the probe of one script replica run every interval.
// Scripts are not retried, and their exit code alone says whether they are
// sick; a script may not outlive its round.
func (m *Monitor) scriptProber(source string, interval time.Duration) probe.Prober {
	return &probe.Script{Source: source, Timeout: min(m.cfg.Metrics.ScriptTimeout.Duration(), interval)}
}

// scriptID is the replica id of the i-th script of a node, as in Vigil.
func scriptID(i int) string { return strconv.Itoa(i) }
