package config

import (
	"slices"
	"time"
)

// Events a node's notify_on may list.
const (
	EventDead      = "dead"
	EventRecovered = "recovered"
	EventSick      = "sick"
)

// NotifyOnDefault is what a node without notify_on notifies: Vigil's
// outages and recoveries.
var NotifyOnDefault = []string{EventDead, EventRecovered}

// Limits of the per-check keys.
const (
	MaxICMPCount = 100 // echoes per check
)

// Checks are the settings that decide how one node is checked: its own keys
// where it sets them, else [metrics]'s.
type Checks struct {
	PollInterval   time.Duration
	ScriptInterval time.Duration
	PollRetry      int
	PollRetryWait  time.Duration
	PollDelayDead  time.Duration // the probe timeout
	PollDelaySick  time.Duration
	// TLSExpirySick: a certificate this close to expiry is sick; 0 never.
	TLSExpirySick time.Duration
	// FailureThreshold and SuccessThreshold are how many consecutive
	// results must agree before a replica's confirmed status changes.
	FailureThreshold int
	SuccessThreshold int
	FollowRedirects  bool
	ICMPCount        int
	// ICMPLossDeadAbove and ICMPLossSickAbove are fractions of lost echoes;
	// a check losing more is dead (or sick).
	ICMPLossDeadAbove float64
	ICMPLossSickAbove float64
}

// Defaults of the ICMP loss thresholds: any loss is dead, as when one echo
// was sent and lost, and sick is decided by latency alone.
const (
	DefaultICMPLossDeadAbove = 0
	DefaultICMPLossSickAbove = 1
)

// Checks returns the node's check settings over m.
func (n *Node) Checks(m Metrics) Checks {
	c := Checks{
		PollInterval:      m.PollInterval.Duration(),
		ScriptInterval:    m.ScriptInterval.Duration(),
		PollRetry:         m.PollRetry,
		PollRetryWait:     m.PollRetryWait.Duration(),
		PollDelayDead:     m.PollDelayDead.Duration(),
		PollDelaySick:     m.PollDelaySick.Duration(),
		TLSExpirySick:     time.Duration(m.PollTLSExpirySickDays) * 24 * time.Hour,
		FailureThreshold:  max(m.FailureThreshold, 1),
		SuccessThreshold:  max(m.SuccessThreshold, 1),
		FollowRedirects:   n.HTTPFollowRedirects,
		ICMPCount:         1,
		ICMPLossDeadAbove: DefaultICMPLossDeadAbove,
		ICMPLossSickAbove: DefaultICMPLossSickAbove,
	}
	if n.PollInterval != nil {
		c.PollInterval = n.PollInterval.Duration()
	}
	if n.ScriptInterval != nil {
		c.ScriptInterval = n.ScriptInterval.Duration()
	}
	if n.PollRetryWait != nil {
		c.PollRetryWait = n.PollRetryWait.Duration()
	}
	if n.PollDelayDead != nil {
		c.PollDelayDead = n.PollDelayDead.Duration()
	}
	if n.PollDelaySick != nil {
		c.PollDelaySick = n.PollDelaySick.Duration()
	}
	if n.PollRetry != nil {
		c.PollRetry = *n.PollRetry
	}
	if n.PollTLSExpirySickDays != nil {
		c.TLSExpirySick = time.Duration(*n.PollTLSExpirySickDays) * 24 * time.Hour
	}
	if n.FailureThreshold != nil {
		c.FailureThreshold = *n.FailureThreshold
	}
	if n.SuccessThreshold != nil {
		c.SuccessThreshold = *n.SuccessThreshold
	}
	if n.ICMPCount != nil {
		c.ICMPCount = *n.ICMPCount
	}
	if n.ICMPLossDeadAbove != nil {
		c.ICMPLossDeadAbove = *n.ICMPLossDeadAbove
	}
	if n.ICMPLossSickAbove != nil {
		c.ICMPLossSickAbove = *n.ICMPLossSickAbove
	}
	return c
}

// Notifies reports whether the node's channels hear about event.
func (n *Node) Notifies(event string) bool {
	if n.NotifyOn == nil {
		return slices.Contains(NotifyOnDefault, event)
	}
	return slices.Contains(n.NotifyOn, event)
}

// validateThresholds checks [metrics]' thresholds.
func (c *checker) validateThresholds(m *Metrics) {
	for _, k := range []struct {
		key string
		v   int
	}{{"failure_threshold", m.FailureThreshold}, {"success_threshold", m.SuccessThreshold}} {
		if k.v < 1 {
			c.errorf("metrics."+k.key, "must be at least 1 (consecutive checks), got %d", k.v)
		}
	}
}

// validateChecks checks a node's own check settings: what cannot work is
// an error, what does nothing for the node's mode a warning.
func (c *checker) validateChecks(key string, n *Node, m Metrics, modeOK bool) {
	k := func(name string) string { return key + "." + name }
	for _, f := range []struct {
		name string
		v    *Seconds
		min  Seconds
	}{{"poll_interval", n.PollInterval, 1}, {"script_interval", n.ScriptInterval, 1}, {"poll_delay_dead", n.PollDelayDead, 1}, {"poll_delay_sick", n.PollDelaySick, 0}} {
		if f.v != nil && *f.v < f.min {
			c.errorf(k(f.name), "must be at least %d (seconds), got %d", f.min, *f.v)
		}
	}
	if n.PollRetry != nil && *n.PollRetry < 0 {
		c.errorf(k("poll_retry"), "must not be negative, got %d", *n.PollRetry)
	}
	if n.PollRetryWait != nil && *n.PollRetryWait < 0 {
		c.errorf(k("poll_retry_wait"), "must not be negative, got %d", *n.PollRetryWait)
	}
	if n.PollTLSExpirySickDays != nil && *n.PollTLSExpirySickDays < 0 {
		c.errorf(k("poll_tls_expiry_sick_days"), "must not be negative, got %d", *n.PollTLSExpirySickDays)
	}
	for _, f := range []struct {
		name string
		v    *int
	}{{"failure_threshold", n.FailureThreshold}, {"success_threshold", n.SuccessThreshold}} {
		if f.v != nil && *f.v < 1 {
			c.errorf(k(f.name), "must be at least 1 (consecutive checks), got %d", *f.v)
		}
	}
	if n.ICMPCount != nil && (*n.ICMPCount < 1 || *n.ICMPCount > MaxICMPCount) {
		c.errorf(k("icmp_count"), "must be between 1 and %d (echoes per check), got %d", MaxICMPCount, *n.ICMPCount)
	}
	for _, f := range []struct {
		name string
		v    *float64
	}{{"icmp_loss_dead_above", n.ICMPLossDeadAbove}, {"icmp_loss_sick_above", n.ICMPLossSickAbove}} {
		if f.v != nil && (*f.v < 0 || *f.v > 1) {
			c.errorf(k(f.name), "must be a fraction between 0 and 1, got %g", *f.v)
		}
	}
	for i, ev := range n.NotifyOn {
		if !slices.Contains([]string{EventDead, EventRecovered, EventSick}, ev) {
			c.errorf(keyIndexed(k("notify_on"), i), "unknown event %q (want %q, %q or %q)", ev, EventDead, EventRecovered, EventSick)
		}
	}

	eff := n.Checks(m)
	if n.Mode == "poll" && (n.PollDelayDead != nil || n.PollInterval != nil) && eff.PollDelayDead > eff.PollInterval {
		name := "poll_delay_dead"
		if n.PollDelayDead == nil {
			name = "poll_interval"
		}
		c.errorf(k(name), "the timeout (poll_delay_dead, %v) is longer than the interval (poll_interval, %v) of this node: a check would still run when the next is due",
			eff.PollDelayDead, eff.PollInterval)
	}
	if !modeOK {
		return
	}
	onlyFor := func(mode string, names ...string) {
		if n.Mode == mode {
			return
		}
		for _, name := range names {
			if c.has(k(name)) {
				c.warnf(k(name), "only used by %s nodes; ignored on a %s node", mode, n.Mode)
			}
		}
	}
	onlyFor("poll", "poll_interval", "poll_retry", "poll_retry_wait", "poll_delay_dead", "poll_delay_sick",
		"poll_tls_expiry_sick_days", "http_follow_redirects", "icmp_count", "icmp_loss_dead_above", "icmp_loss_sick_above")
	onlyFor("script", "script_interval")
	if n.Mode == "push" || n.Mode == "local" {
		for _, name := range []string{"failure_threshold", "success_threshold"} {
			if c.has(k(name)) {
				c.warnf(k(name), "only used by poll and script nodes; ignored on a %s node, whose replicas go dead when they stop reporting", n.Mode)
			}
		}
	}
	if n.Mode == "poll" {
		var present []Kind
		for _, t := range n.Targets {
			present = append(present, t.Kind)
		}
		for _, f := range []struct {
			kind  Kind
			names []string
		}{{KindICMP, []string{"icmp_count", "icmp_loss_dead_above", "icmp_loss_sick_above"}}, {KindHTTP, []string{"http_follow_redirects"}}} {
			if slices.Contains(present, f.kind) {
				continue
			}
			for _, name := range f.names {
				if c.has(k(name)) {
					c.warnf(k(name), "only used by %s replicas; this node has none", f.kind)
				}
			}
		}
	}
}
