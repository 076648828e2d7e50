package store

import (
	"crypto/rand"
	"fmt"
	"strings"
	"time"

	"github.com/vigil-go/vigil/internal/status"
)

// Level says what a Change is about.
type Level string

const (
	LevelReplica Level = "replica" // Service, Node and Replica are set
	LevelNode    Level = "node"    // Service and Node are set
	LevelService Level = "service" // Service is set
	LevelGeneral Level = "general" // the whole page; no names
)

// Change is one status transition.
type Change struct {
	ID      int64 // assigned by the store
	Time    time.Time
	Level   Level
	Service string
	Node    string
	Replica string
	From    status.Health
	To      status.Health
	Reason  string // why, as a person reads it; may be empty
}

func (c Change) validate() error {
	if c.Time.IsZero() {
		return fmt.Errorf("change without time: %w", ErrInvalid)
	}
	if c.From > status.Dead || c.To > status.Dead {
		return fmt.Errorf("change %v→%v: %w", c.From, c.To, ErrInvalid)
	}
	// Each level names exactly what it is about, so that a filter on
	// service and node never mixes levels by accident.
	names := [3]bool{c.Service != "", c.Node != "", c.Replica != ""}
	want := map[Level][3]bool{
		LevelReplica: {true, true, true},
		LevelNode:    {true, true, false},
		LevelService: {true, false, false},
		LevelGeneral: {false, false, false},
	}
	w, ok := want[c.Level]
	if !ok {
		return fmt.Errorf("change level %q: %w", c.Level, ErrInvalid)
	}
	if names != w {
		return fmt.Errorf("%s change names service %q, node %q, replica %q: %w", c.Level, c.Service, c.Node, c.Replica, ErrInvalid)
	}
	return checkTexts("change", c.Service, c.Node, c.Replica, c.Reason)
}

// ChangeFilter selects changes. Zero fields select everything.
type ChangeFilter struct {
	Service string // only this service (and, with Node, this node)
	Node    string // only this node; needs Service
	Level   Level  // only this level
	Since   time.Time
	Until   time.Time // exclusive
	Limit   int       // at most this many, newest first; 0 means no limit
}

// Sample is the outcome of one check of one replica.
type Sample struct {
	Time       time.Time
	Service    string
	Node       string
	Replica    string
	Health     status.Health
	Latency    time.Duration
	HasLatency bool // Latency was measured (it may be 0)
}

// SeriesKey selects samples. Service is required; an empty Node selects every
// node of the service and an empty Replica every replica of the node. The
// buckets of all selected replicas are merged.
type SeriesKey struct {
	Service string
	Node    string
	Replica string
}

// Bucket is the roll-up of the samples of one minute or one hour.
type Bucket struct {
	Start        time.Time // start of the minute or hour, UTC
	Healthy      int64     // number of healthy samples
	Sick         int64
	Dead         int64
	LatencyCount int64 // samples with a latency
	LatencyMin   time.Duration
	LatencyMax   time.Duration
	LatencySum   time.Duration
}

// Checks returns the number of samples in the bucket.
func (b Bucket) Checks() int64 { return b.Healthy + b.Sick + b.Dead }

// Worst returns the worst health sampled in the bucket (healthy when empty).
func (b Bucket) Worst() status.Health {
	switch {
	case b.Dead > 0:
		return status.Dead
	case b.Sick > 0:
		return status.Sick
	}
	return status.Healthy
}

// LatencyAvg returns the mean latency, or 0 when none was measured.
func (b Bucket) LatencyAvg() time.Duration {
	if b.LatencyCount == 0 {
		return 0
	}
	return b.LatencySum / time.Duration(b.LatencyCount)
}

// add merges o into b.
func (b *Bucket) add(o Bucket) {
	b.Healthy += o.Healthy
	b.Sick += o.Sick
	b.Dead += o.Dead
	if o.LatencyCount > 0 {
		if b.LatencyCount == 0 || o.LatencyMin < b.LatencyMin {
			b.LatencyMin = o.LatencyMin
		}
		if b.LatencyCount == 0 || o.LatencyMax > b.LatencyMax {
			b.LatencyMax = o.LatencyMax
		}
		b.LatencyCount += o.LatencyCount
		b.LatencySum += o.LatencySum
	}
}

// Day is one UTC day of a node's (or service's) history, for the 90-day bar.
type Day struct {
	Start time.Time // midnight UTC
	// Checks counts the samples of every replica that day, from the day buckets.
	Checks              int64
	Healthy, Sick, Dead int64
	// Worst is the worst status seen that day: in any sample, or as the
	// recorded status while vigil was running (maintenance included; see
	// Uptime.Maintenance). It is healthy on a day without data.
	Worst  status.Health
	Uptime UptimeReport // the day's time-based uptime, as Store.Uptime computes it
}

// HasData reports whether anything was observed that day.
func (d Day) HasData() bool { return d.Checks > 0 || d.Uptime.HasData || d.Uptime.Maintenance > 0 }

// UptimeReport splits a time range by what is known about it.
type UptimeReport struct {
	Up   time.Duration // healthy or sick: the service answered
	Down time.Duration // dead
	// NoData is time when vigil was not running, or before the first status
	// was recorded. It is left out of Ratio, never counted as up.
	NoData time.Duration
	// Maintenance is time inside a maintenance window. It is left out of
	// Ratio, even when the node was dead or vigil was not running.
	Maintenance time.Duration
	Ratio       float64 // Up / (Up + Down); 0 when !HasData
	HasData     bool    // Up + Down > 0
}

// PushReplica is a replica that reports to vigil (push) or is reported by
// Vigil Local (local), with its last report.
type PushReplica struct {
	Service    string
	Node       string
	Replica    string
	Mode       status.Mode
	Interval   time.Duration // how often it promised to report
	LastReport time.Time
	Load       *status.Load // push replicas only; nil when unknown
	Health     status.Health
	Reason     string
}

// Announcement is a message shown on the status page.
type Announcement struct {
	ID      string // UUID v4, lower-case, hyphenated
	Title   string
	Text    string
	Time    time.Time // when it was published
	Updated time.Time // when it was last edited; zero if never
}

// Window is a maintenance window.
type Window struct {
	ID    int64 // assigned by the store
	Start time.Time
	End   time.Time // exclusive; after Start
	// Targets lists what is under maintenance: "service" (every node of it)
	// or "service:node". An empty list means everything.
	Targets []string
	Message string
}

// Covers reports whether the window applies to a node (node != ""), to a
// whole service (node == "", service != "") or to the page (both empty),
// regardless of time. A window that names some nodes of a service does not
// cover the service as a whole.
func (w Window) Covers(service, node string) bool {
	if len(w.Targets) == 0 {
		return true
	}
	for _, t := range w.Targets {
		svc, n, hasNode := strings.Cut(t, ":")
		switch {
		case service == "" || svc != service:
		case !hasNode:
			return true
		case n == node:
			return true
		}
	}
	return false
}

func (w Window) validate() error {
	if w.Start.IsZero() || !w.End.After(w.Start) {
		return fmt.Errorf("maintenance window %v to %v: end must follow start: %w", w.Start, w.End, ErrInvalid)
	}
	for _, t := range w.Targets {
		svc, node, hasNode := strings.Cut(t, ":")
		if svc == "" || (hasNode && (node == "" || strings.Contains(node, ":"))) {
			return fmt.Errorf("maintenance target %q: want \"service\" or \"service:node\": %w", t, ErrInvalid)
		}
	}
	return checkTexts("maintenance window", append([]string{w.Message}, w.Targets...)...)
}

// Incident is an outage, opened by vigil when a node goes dead (Auto) or by
// an operator.
type Incident struct {
	ID       int64 // assigned by the store
	Title    string
	Auto     bool
	Nodes    []string  // affected nodes, "service:node"
	Opened   time.Time // when it started
	Resolved time.Time // zero while open
	Updates  []IncidentUpdate
}

// IsOpen reports whether the incident is not resolved yet.
func (i Incident) IsOpen() bool { return i.Resolved.IsZero() }

// Duration returns how long a resolved incident lasted, or how long an open
// one has lasted at now.
func (i Incident) Duration(now time.Time) time.Duration {
	if i.IsOpen() {
		return now.Sub(i.Opened)
	}
	return i.Resolved.Sub(i.Opened)
}

// IncidentUpdate is a dated note on an incident.
type IncidentUpdate struct {
	ID     int64 // assigned by the store
	Time   time.Time
	Status string // free text, such as "investigating", "identified", "monitoring", "resolved"
	Text   string
}

// IncidentFilter selects incidents. Zero fields select everything.
type IncidentFilter struct {
	// Since and Until select incidents that overlap [Since, Until): opened
	// before Until, and open or resolved at or after Since.
	Since    time.Time
	Until    time.Time
	OpenOnly bool
	Limit    int // at most this many, most recently opened first; 0 means no limit
}

// ReminderState is what the alerting needs to resume after a restart without
// forgetting a reminder or announcing an outage again.
type ReminderState struct {
	LastNotified time.Time // last change or reminder sent; zero if none
	Backoff      int       // reminder backoff counter (starts at 1)
	Escalation   int       // reminder escalation counter (starts at 0)
	IgnoreUntil  time.Time // reminders muted until then; zero if not muted
	LastStatus   status.Health
	LastDead     []string // "service:node:replica" dead at the last notification
	Outage       string   // identity of the outage in progress or last ended; "" if none
}

// Outbox entry states.
const (
	Pending   = "pending"
	Delivered = "delivered"
	GivenUp   = "given_up"
)

// OutboxEntry is one message for one target of one channel.
type OutboxEntry struct {
	// ID is the idempotency key: enqueueing an ID that already exists (in
	// any state) does nothing.
	ID          string
	Channel     string // "slack", "email", …
	Target      string // the recipient within the channel; may be empty
	Payload     []byte
	CreatedAt   time.Time
	NextAttempt time.Time
	// The fields below are kept by the store.
	Seq       int64  // insertion order
	Attempts  int    // failed attempts so far
	LastError string // text of the last failure
	State     string // Pending, Delivered or GivenUp
	Done      time.Time
}

// Pruned counts the rows Prune deleted.
type Pruned struct {
	Minutes, Hours, Changes, Running, Incidents, Maintenance, Outbox int64
	Days                                                             int64 // day buckets
}

// newUUID returns a random (version 4) UUID in its lower-case hyphenated form.
func newUUID() string {
	var b [16]byte
	rand.Read(b[:])         // never fails; see crypto/rand.Read
	b[6] = b[6]&0x0f | 0x40 // version 4
	b[8] = b[8]&0x3f | 0x80 // RFC 4122 variant
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}
