// Package alertpolicy decides when Vigil notifies: the startup notification,
// changes into and out of dead, and reminders with backoff and escalation.
//
// It is pure code: no I/O, no goroutines, no clock. The caller passes the
// time in, keeps the State between passes (and stores it, so that a restart
// neither forgets nor repeats an announced outage) and hands the resulting
// deliveries to whatever sends them.
package alertpolicy

import (
	"maps"
	"math"
	"slices"
	"strconv"
	"time"

	"github.com/vigil-go/vigil/internal/config"
	"github.com/vigil-go/vigil/internal/notify"
	"github.com/vigil-go/vigil/internal/status"
)

// Policy is the [notify] section's timing: when to send what.
type Policy struct {
	// StartupNotification sends a notification when Vigil starts.
	StartupNotification bool
	// ReminderInterval is the base gap between reminders while the page is
	// dead; 0 means no reminders.
	ReminderInterval time.Duration
	// BackoffExponent is x in interval × N^x: 0 none, 1 linear, 2 square,
	// 3 cubic.
	BackoffExponent int
	// BackoffLimit caps the backoff counter N.
	BackoffLimit int
	// Escalate raises the priority of one more target at each reminder
	// (reminder_escalate); when off, every target is escalated on every
	// reminder.
	Escalate bool
}

// New reads the policy from [notify]; a nil section sends nothing.
//
// reminder_interval = 0 means no reminders. (Vigil would remind at every
// 10-second aggregation, which no one can want.)
func New(n *config.Notify) Policy {
	if n == nil {
		return Policy{}
	}
	p := Policy{
		StartupNotification: n.SendsStartup(),
		BackoffLimit:        n.ReminderBackoffLimit,
		Escalate:            n.ReminderEscalate,
	}
	if n.ReminderInterval != nil {
		p.ReminderInterval = n.ReminderInterval.Duration()
	}
	switch n.ReminderBackoffFunction {
	case "linear":
		p.BackoffExponent = 1
	case "square":
		p.BackoffExponent = 2
	case "cubic":
		p.BackoffExponent = 3
	}
	return p
}

// State is what the decision remembers from one pass to the next. It is
// plain data: store it to survive a restart. Its zero value is the state of
// a first start.
type State struct {
	// Status is the page status seen at the previous pass.
	Status status.Health `json:"status"`
	// Dead lists the replicas dead at the last notification, plus every
	// replica seen dead since: those that are no longer dead at the next
	// notification are announced as recovered.
	Dead []string `json:"dead,omitempty"`
	// LastNotified is when the last change or reminder was sent (the
	// startup notification does not count); zero when none was.
	LastNotified time.Time `json:"last_notified"`
	// Backoff is the counter N of the reminder backoff; 0 counts as 1.
	Backoff int `json:"backoff,omitempty"`
	// Escalation is the counter E of reminder escalation: targets whose
	// index is below E are escalated.
	Escalation int `json:"escalation,omitempty"`
	// IgnoreRemindersUntil mutes reminders until then (the manager API's
	// "ignore reminders"); it survives status changes, as in Vigil.
	IgnoreRemindersUntil time.Time `json:"ignore_reminders_until"`
	// Outage identifies the outage in progress (or the last one ended): the
	// time, in Unix milliseconds, of the last notification before it began
	// ("0" for a first one). That is the value the announcement's outbox ids
	// derive from, so a process that decides the same announcement again
	// (after a crash, or as a new cluster leader) gives it the same identity.
	Outage string `json:"outage,omitempty"`
}

// Alert is one notification to send.
type Alert struct {
	Kind   notify.Kind
	Status status.Health
	At     time.Time
	// Dead is the dead list at At, in page order.
	Dead []string
	// Reasons says why the replicas of Dead are dead, where known.
	Reasons map[string]string
	// Recovered lists the replicas that came back since the previous
	// notification.
	Recovered []string
	// Escalation is E for reminders: targets whose index is below it are
	// escalated. EscalateAll escalates every target instead.
	Escalation  int
	EscalateAll bool
	// Outage is State.Outage for the outage a change or reminder is about;
	// "" for the startup notification.
	Outage string
}

// Startup returns the startup notification when the policy sends one:
// status healthy, nothing dead. Call it once, when Vigil starts; it does not
// change the State (it does not count as the last notification).
func (p Policy) Startup(now time.Time) (Alert, bool) {
	if !p.StartupNotification {
		return Alert{}, false
	}
	return Alert{Kind: notify.Startup, Status: status.Healthy, At: now}, true
}

// Decide takes the state left by the previous pass and the snapshot of this
// one, and returns the new state and the alerts to send: none or one today,
// since Vigil notifies about the page as a whole. (Per-node alerts would
// return more, each naming its node; the snapshot carries what they need.)
//
// The rules, after Vigil:
//   - a change notification when the page status moves into or out of
//     dead; healthy↔sick says nothing, and neither does dead→dead with
//     other replicas;
//   - a reminder while the page stays dead, when reminders are on and not
//     ignored, and interval × N^x has passed since the last notification;
//     after it, N grows by one up to the limit (unless x is 0), and E by one
//     when escalation is on;
//   - any status but dead resets N to 1 and E to 0.
//
// Decide does not modify st or snap.
func (p Policy) Decide(st State, snap *status.Snapshot, now time.Time) (State, []Alert) {
	prev, cur := Level(st.Status, st.Dead), Level(snap.Health, snap.Dead)
	next := st
	next.Status = snap.Health
	next.Dead = union(st.Dead, snap.Dead)
	if cur != status.Dead {
		next.Backoff, next.Escalation = 1, 0
	}

	switch {
	case cur != status.Healthy && prev == status.Healthy:
		next.Outage = outageID(st.LastNotified)
	case st.Outage == "" && prev == status.Dead:
		// A state saved before outages had an identity: fix one now
		// from what is stored, so that it stays the same from here on.
		next.Outage = outageID(st.LastNotified)
	}

	var a Alert
	switch {
	case prev != cur:
		a = Alert{Kind: notify.Changed}
	case cur == status.Dead && p.reminderDue(st, now):
		a = Alert{Kind: notify.Reminder, EscalateAll: !p.Escalate}
		if p.Escalate {
			next.Escalation = st.Escalation + 1
			a.Escalation = next.Escalation
		}
		if n := max(st.Backoff, 1); p.BackoffExponent != 0 && n < p.BackoffLimit {
			next.Backoff = n + 1
		} else {
			next.Backoff = n
		}
	default:
		return next, nil
	}
	a.Status = snap.Health
	a.At = now
	a.Outage = next.Outage
	a.Dead = slices.Clone(snap.Dead)
	a.Reasons = reasons(snap, snap.Dead)
	a.Recovered = minus(next.Dead, snap.Dead)
	next.Dead = slices.Clone(snap.Dead)
	next.LastNotified = now
	return next, []Alert{a}
}

// Level is what alerts are decided on, given the page's health and the
// replicas alerts are about (snapshot's Dead: the dead replicas, and the
// sick ones of nodes that notify on "sick"): dead when the page is, sick
// when sick replicas are listed, healthy otherwise. Without "sick" in any
// notify_on it is dead or healthy: Vigil's rule, a change notification when
// the page goes into or out of dead.
func Level(h status.Health, listed []string) status.Health {
	switch {
	case h == status.Dead:
		return status.Dead
	case len(listed) > 0:
		return status.Sick
	}
	return status.Healthy
}

// outageID is the identity of an outage that began after the notification
// sent at last (zero: none was).
func outageID(last time.Time) string {
	if last.IsZero() {
		return "0"
	}
	return strconv.FormatInt(last.UnixMilli(), 10)
}

// reminderDue reports whether a reminder is due at now for a page that was
// and still is dead.
func (p Policy) reminderDue(st State, now time.Time) bool {
	if p.ReminderInterval <= 0 || st.LastNotified.IsZero() || now.Before(st.IgnoreRemindersUntil) {
		return false
	}
	return now.Sub(st.LastNotified) >= p.Gap(max(st.Backoff, 1))
}

// Gap returns the time required between the last notification and the
// next reminder when the backoff counter is n: interval × n^x. It saturates
// instead of overflowing.
func (p Policy) Gap(n int) time.Duration {
	f := math.Pow(float64(max(n, 1)), float64(p.BackoffExponent))
	g := float64(p.ReminderInterval) * f
	if g >= math.MaxInt64 {
		return math.MaxInt64
	}
	return time.Duration(g)
}

// Escalated reports whether the target at index i of a channel gets a with
// raised priority: only reminders are escalated.
func (a Alert) Escalated(i int) bool {
	return a.Kind == notify.Reminder && (a.EscalateAll || i < a.Escalation)
}

// For reports whether a channel receives a: a reminders_only channel
// receives reminders only, and an incident tool (QuietStartup) no startup
// notification.
func (a Alert) For(ch notify.Channel) bool {
	if a.Kind == notify.Startup && ch.QuietStartup {
		return false
	}
	return !ch.RemindersOnly || a.Kind == notify.Reminder
}

// Page is what the messages say about the status page.
type Page struct {
	Title    string
	URL      string
	Location *time.Location // the zone times are written in; nil: UTC
}

// Message renders a for one target that is not escalated.
func (a Alert) Message(page Page) notify.Message {
	return notify.Message{
		Kind:      a.Kind,
		Status:    a.Status,
		Time:      notify.FormatTime(a.At, page.Location),
		Dead:      slices.Clone(a.Dead),
		Reasons:   maps.Clone(a.Reasons),
		Recovered: slices.Clone(a.Recovered),
		PageTitle: page.Title,
		PageURL:   page.URL,
		Outage:    a.Outage,
	}
}

// Delivery is one message for one target: what an outbox stores.
type Delivery struct {
	Channel string // notify.Channel.Name
	Target  string // notify.Target.Key
	Message notify.Message
}

// Deliveries returns one delivery per target of every channel that receives
// a, in channel order, each with its own escalation.
func (a Alert) Deliveries(channels []notify.Channel, page Page) []Delivery {
	var out []Delivery
	for _, ch := range channels {
		if !a.For(ch) {
			continue
		}
		for i, t := range ch.Targets {
			m := a.Message(page)
			m.Escalated = a.Escalated(i)
			out = append(out, Delivery{Channel: ch.Name, Target: t.Key, Message: m})
		}
	}
	return out
}

// reasons maps each listed replica of snap ("service:node:replica") to why
// it is dead or sick; nil when no probe said.
func reasons(snap *status.Snapshot, listed []string) map[string]string {
	var out map[string]string
	if len(listed) == 0 {
		return nil
	}
	wanted := make(map[string]bool, len(listed))
	for _, id := range listed {
		wanted[id] = true
	}
	for _, svc := range snap.Services {
		for _, n := range svc.Nodes {
			for _, r := range n.Replicas {
				if r.Health != status.Healthy && r.Reason != "" && wanted[status.DeadID(svc.ID, n.ID, r.ID)] {
					if out == nil {
						out = map[string]string{}
					}
					out[status.DeadID(svc.ID, n.ID, r.ID)] = r.Reason
				}
			}
		}
	}
	return out
}

// union returns a followed by the items of b that a lacks.
func union(a, b []string) []string {
	out := slices.Clone(a)
	for _, s := range b {
		if !slices.Contains(out, s) {
			out = append(out, s)
		}
	}
	return out
}

// minus returns the items of a that b lacks, in a's order.
func minus(a, b []string) []string {
	var out []string
	for _, s := range a {
		if !slices.Contains(b, s) {
			out = append(out, s)
		}
	}
	return out
}
