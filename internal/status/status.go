// Package status holds Vigil's domain model: the health of replicas, nodes,
// services and the page as a whole, and the worst-of rollup between them.
//
// It is pure code: no I/O, no goroutines, no clock. Callers pass time in.
package status

import (
	"fmt"
	"sort"
	"strings"
	"time"
)

// Health is the status of a replica, node, service or the whole page.
// Its order is meaningful: a larger value is worse.
type Health uint8

const (
	Healthy Health = iota
	Sick
	Dead
)

// String returns the lower-case wire form used in every Vigil format.
func (h Health) String() string {
	switch h {
	case Healthy:
		return "healthy"
	case Sick:
		return "sick"
	case Dead:
		return "dead"
	}
	return fmt.Sprintf("Health(%d)", uint8(h))
}

// Title returns the capitalised form used by some notifier texts ("Dead").
func (h Health) Title() string {
	switch h {
	case Healthy:
		return "Healthy"
	case Sick:
		return "Sick"
	case Dead:
		return "Dead"
	}
	return h.String()
}

// MarshalText encodes the health as its lower-case name.
func (h Health) MarshalText() ([]byte, error) {
	if h > Dead {
		return nil, fmt.Errorf("invalid health %d", uint8(h))
	}
	return []byte(h.String()), nil
}

// UnmarshalText accepts exactly "healthy", "sick" or "dead".
func (h *Health) UnmarshalText(b []byte) error {
	v, err := ParseHealth(string(b))
	if err != nil {
		return err
	}
	*h = v
	return nil
}

// ParseHealth parses the lower-case wire form.
func ParseHealth(s string) (Health, error) {
	switch s {
	case "healthy":
		return Healthy, nil
	case "sick":
		return Sick, nil
	case "dead":
		return Dead, nil
	}
	return Healthy, fmt.Errorf("unknown health %q (want healthy, sick or dead)", s)
}

// Worst returns the worse of two healths.
func Worst(a, b Health) Health {
	if b > a {
		return b
	}
	return a
}

// Mode is how a node's replicas are checked.
type Mode string

const (
	Poll   Mode = "poll"   // Vigil probes the replica (HTTP, TCP, TLS, DNS, ICMP, SSH).
	Push   Mode = "push"   // The replica reports its load (Vigil Reporter).
	Script Mode = "script" // Vigil runs a shell script.
	Local  Mode = "local"  // A Vigil Local daemon reports the replica's health.
)

// Load is what a push replica last reported about itself.
type Load struct {
	CPU float64 // load average per CPU (1.0 = fully busy)
	RAM float64 // used memory ratio
}

// Queue holds the figures of a RabbitMQ queue attached to a push node.
type Queue struct {
	Ready   uint64
	Unacked uint64
}

// Replica is one checked instance of a node.
type Replica struct {
	ID         string
	Health     Health
	Latency    time.Duration
	HasLatency bool      // Latency is known (it may be 0)
	Reason     string    // why the replica is not healthy; empty when healthy
	Since      time.Time // when Health last changed (zero before the first check)
	Checked    time.Time // when the replica was last checked or reported (zero: never)
	// Interval is how often a push or local replica promised to report
	// (zero for poll and script replicas).
	Interval time.Duration
	// Load and Queue are shared between snapshots: replace them, never
	// modify what they point to.
	Load  *Load  // push replicas only
	Queue *Queue // push nodes with a RabbitMQ queue only
	// Views is how each vantage point of a cluster sees the replica, by
	// label; nil outside cluster mode. Shared like Load: never modify it.
	Views []View
	// Pending is a change of Health that the node's thresholds hold back;
	// zero when none is.
	Pending Pending
}

// Pending is a status change waiting for enough consecutive results.
type Pending struct {
	Health Health // what the latest results say
	Count  int    // how many consecutive results said so
	Of     int    // how many it takes
	Reason string // the latest result's reason
}

// String says what is pending, for a person: "failing 2 of 3",
// "recovering 1 of 2"; "" when nothing is.
func (p Pending) String() string {
	if p.Count == 0 {
		return ""
	}
	verb := "failing"
	if p.Health == Healthy {
		verb = "recovering"
	}
	return fmt.Sprintf("%s %d of %d", verb, p.Count, p.Of)
}

// View is what one cluster member last observed of a replica.
type View struct {
	Label  string // the member's vantage point, such as "eu-west"
	Health Health
	Reason string
}

// DescribeViews says how each vantage point sees a replica, worst first:
// "dead from eu-west; healthy from us-east, us-west".
func DescribeViews(views []View) string {
	byHealth := map[Health][]string{}
	for _, v := range views {
		byHealth[v.Health] = append(byHealth[v.Health], v.Label)
	}
	var parts []string
	for h := Dead; ; h-- {
		if labels := byHealth[h]; len(labels) > 0 {
			sort.Strings(labels)
			parts = append(parts, h.String()+" from "+strings.Join(labels, ", "))
		}
		if h == Healthy {
			break
		}
	}
	return strings.Join(parts, "; ")
}

// Dissent reports whether some vantage point sees the replica otherwise
// than as h.
func Dissent(views []View, h Health) bool {
	for _, v := range views {
		if v.Health != h {
			return true
		}
	}
	return false
}

// Node is a group of replicas checked the same way.
type Node struct {
	ID                string
	Label             string
	Mode              Mode
	Health            Health
	RevealReplicaName bool
	LinkURL           string
	LinkLabel         string
	Replicas          []Replica
}

// Service groups nodes under one label on the page ("probe" in Vigil's code and APIs).
type Service struct {
	ID     string
	Label  string
	Health Health
	Nodes  []Node
}

// Snapshot is an immutable view of the whole monitor at one instant. Readers must
// not modify it; the monitor publishes a new one whenever anything changes.
type Snapshot struct {
	// Version grows by one with each published snapshot, so readers can cache
	// what they derive from it (the rendered page, the JSON report).
	Version   uint64
	Health    Health
	Refreshed time.Time // zero until the first aggregation
	Services  []Service
	Dead      []string // "service:node:replica" for every dead replica, in page order
}

// Rollup sets each node's health to the worst of its replicas and each
// service's to the worst of its nodes, and returns the page's health and the
// dead list. A node without replicas is healthy, and so is a page without services.
func Rollup(services []Service) (Health, []string) {
	general := Healthy
	var dead []string
	for si := range services {
		svc := &services[si]
		svc.Health = Healthy
		for ni := range svc.Nodes {
			node := &svc.Nodes[ni]
			node.Health = Healthy
			for _, r := range node.Replicas {
				node.Health = Worst(node.Health, r.Health)
				if r.Health == Dead {
					dead = append(dead, DeadID(svc.ID, node.ID, r.ID))
				}
			}
			svc.Health = Worst(svc.Health, node.Health)
		}
		general = Worst(general, svc.Health)
	}
	return general, dead
}

// DeadID is the "service:node:replica" form Vigil uses in notifications,
// and in logs; the replica's password, if any, is redacted.
func DeadID(service, node, replica string) string {
	return service + ":" + node + ":" + Redacted(replica)
}

// Unchecked counts the poll and script replicas of s that were never
// checked. Push and local replicas are not counted: they appear when they
// report, and a reporter that is down must not hold up what waits for the
// first round (readiness, the alerting's start).
func (s *Snapshot) Unchecked() int {
	n := 0
	for _, svc := range s.Services {
		for _, node := range svc.Nodes {
			if node.Mode != Poll && node.Mode != Script {
				continue
			}
			for _, r := range node.Replicas {
				if r.Checked.IsZero() {
					n++
				}
			}
		}
	}
	return n
}

// AllChecked reports whether every poll and script replica of s was
// checked at least once.
func (s *Snapshot) AllChecked() bool { return s.Unchecked() == 0 }

// Find returns the service and node with the given ids, or nil.
func (s *Snapshot) Find(serviceID, nodeID string) (*Service, *Node) {
	for si := range s.Services {
		if s.Services[si].ID != serviceID {
			continue
		}
		for ni := range s.Services[si].Nodes {
			if s.Services[si].Nodes[ni].ID == nodeID {
				return &s.Services[si], &s.Services[si].Nodes[ni]
			}
		}
		return &s.Services[si], nil
	}
	return nil, nil
}
