package monitor

import (
	"context"
	"fmt"
	"net"
	"strconv"
	"time"

	"github.com/vigil-go/vigil/internal/config"
	"github.com/vigil-go/vigil/internal/probe"
	"github.com/vigil-go/vigil/internal/status"
)

// pollSetup is what building the probe of one poll replica takes.
type pollSetup struct {
	m      *Monitor
	cfg    *config.Config
	node   *config.Node
	target config.Target
	checks config.Checks
	src    net.IP // probe_source_address; nil: the system's choice
}

// probers is the one table from check kind to the prober that checks it;
// a test checks that every kind the config accepts (config.Kinds) has one.
var probers = map[config.Kind]func(s pollSetup) probe.Prober{
	config.KindHTTP: func(s pollSetup) probe.Prober {
		above, below := s.node.HealthyStatus(s.cfg.Metrics)
		return &probe.HTTP{
			URL:           s.target.URL,
			Method:        s.node.HTTPMethod,
			Header:        s.node.Headers,
			Body:          s.node.HTTPBody,
			BodyMatch:     s.node.BodyMatch,
			HealthyAbove:  above,
			HealthyBelow:  below,
			NoCacheBuster: s.node.HTTPNoCacheBuster,
			UserAgent:     probe.UserAgent(s.cfg.Branding.PageURL),
			Timeout:       s.checks.PollDelayDead,
			Now:           s.m.now,
			SourceAddr:    s.src,
			ExpirySick:    s.checks.TLSExpirySick,
			// Vigil judges a 3xx as a status; http_follow_redirects
			// follows it to the page that answers.
			FollowRedirects: s.checks.FollowRedirects,
		}
	},
	config.KindTCP: func(s pollSetup) probe.Prober {
		return &probe.TCP{Host: s.target.Host, Port: s.target.Port, Timeout: s.checks.PollDelayDead, SourceAddr: s.src,
			Send: s.node.TCPSend, Expect: s.node.TCPExpectMatch}
	},
	config.KindTLS: func(s pollSetup) probe.Prober {
		return &probe.TLS{Host: s.target.Host, Port: s.target.Port, SickBefore: s.checks.TLSExpirySick,
			Timeout: s.checks.PollDelayDead, SourceAddr: s.src, Now: s.m.now}
	},
	config.KindDNS: func(s pollSetup) probe.Prober {
		return &probe.DNS{Server: s.target.Host, Port: s.target.Port, Name: s.target.DNSName, Type: s.target.DNSType,
			Expect: s.node.DNSExpectMatch, Timeout: s.checks.PollDelayDead, SourceAddr: s.src}
	},
	config.KindSSH: func(s pollSetup) probe.Prober {
		return &probe.SSH{Host: s.target.Host, Port: s.target.Port, Timeout: s.checks.PollDelayDead, SourceAddr: s.src}
	},
	config.KindICMP: func(s pollSetup) probe.Prober {
		// The probe waits at most a second per echo, as Vigil does.
		return &probe.ICMP{Host: s.target.Host, Timeout: s.checks.PollDelayDead, SourceAddr: s.src, Count: s.checks.ICMPCount,
			LossDeadAbove: s.checks.ICMPLossDeadAbove, LossSickAbove: s.checks.ICMPLossSickAbove}
	},
}

// pollProber builds the probe of one poll replica, wrapped in Vigil's retry
// and sick-latency policy. A kind without a prober (which validation and a
// test rule out) is reported dead rather than panicking a scheduler.
func (m *Monitor) pollProber(cfg *config.Config, node config.Node, t config.Target) probe.Prober {
	checks := node.Checks(cfg.Metrics)
	build, ok := probers[t.Kind]
	if !ok {
		reason := fmt.Sprintf("no prober for %s replicas", t.Kind)
		return probe.Func(func(context.Context) probe.Result { return probe.Result{Health: status.Dead, Reason: reason} })
	}
	// Validation accepted only a literal IP (or nothing: nil, the system's choice).
	p := build(pollSetup{m: m, cfg: cfg, node: &node, target: t, checks: checks, src: net.ParseIP(cfg.Server.ProbeSourceAddress)})
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
func (m *Monitor) scriptProber(cfg *config.Config, source string, interval time.Duration) probe.Prober {
	return &probe.Script{Source: source, Timeout: min(cfg.Metrics.ScriptTimeout.Duration(), interval)}
}

// scriptID is the replica id of the i-th script of a node, as in Vigil.
func scriptID(i int) string { return strconv.Itoa(i) }
