package status

import (
	"errors"
	"time"
)

// Observation is one probe result of one poll or script replica: what the
// monitor hands to the history (samples), the metrics and the cluster.
type Observation struct {
	Service, Node, Replica string
	At                     time.Time
	Health                 Health        // healthy, sick or dead
	Latency                time.Duration // wall time of the (last) attempt, also when it failed
	Reason                 string        // when not healthy: what a person can act on
}

// Report is one report from a Vigil Reporter library (Load set: a push
// replica) or from Vigil Local (Health set: a local replica).
type Report struct {
	Replica  string
	Interval time.Duration // how often the reporter reports
	Load     *Load
	Health   *Health
}

// MaxReportInterval is the longest interval a reporter may announce. Vigil
// accepts any 64-bit value and crash-loops on overflow; a day-scale batch job
// is the slowest reporter we know of, so a month leaves ample room.
const MaxReportInterval = 31 * 24 * time.Hour

// Errors of a report or a flush; the reporter API maps them to status codes.
var (
	ErrUnknownNode    = errors.New("unknown service or node")              // 404
	ErrUnknownReplica = errors.New("unknown replica")                      // 404
	ErrWrongMode      = errors.New("node mode does not accept the report") // 412
	ErrBadReport      = errors.New("invalid report")                       // 400
	// ErrTooManyReplicas refuses a new replica on a node that holds
	// server.reporter_replicas_per_node_max already; its known replicas
	// still report.
	ErrTooManyReplicas = errors.New("too many replicas") // 429
)
