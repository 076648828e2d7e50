package daemon

import (
	"github.com/vigil-go/vigil/internal/cluster"
	"github.com/vigil-go/vigil/internal/monitor"
	"github.com/vigil-go/vigil/internal/status"
)

// statusFeed is the status Vigil serves and acts on, chosen once at start:
// the local monitor's on a single node, the decided one in a cluster. The
// page, the APIs and the metrics read its snapshots and send it reports;
// the history and the alerting subscribe to its changes, the samples, the
// metrics and the cluster to every probe result. A reader follows this
// type from the monitor to every consumer.
type statusFeed struct {
	mon *monitor.Monitor
	cl  *cluster.Cluster // nil on a single node

	// Subscribed before the monitor runs and never after: no lock.
	changes []func(prev, cur *status.Snapshot)
	results []func(status.Observation)
}

// newStatusFeed builds the monitor of cfg publishing into a new feed; the
// cluster, when there is one, joins with join before anything subscribes.
func newStatusFeed(o monitor.Options, join func(*monitor.Monitor) (*cluster.Cluster, error)) (*statusFeed, error) {
	f := &statusFeed{}
	o.Published, o.Observed = f.published, f.observed
	f.mon = monitor.New(o)
	if join == nil {
		return f, nil
	}
	cl, err := join(f.mon)
	if err != nil {
		return nil, err
	}
	f.cl = cl
	cl.OnDecided(f.changed)
	f.OnResult(cl.Observe) // every vantage point's checks count
	return f, nil
}

// Snapshot returns the status served: the decided one in a cluster.
func (f *statusFeed) Snapshot() *status.Snapshot {
	if f.cl != nil {
		return f.cl.Snapshot()
	}
	return f.mon.Snapshot()
}

// Report records a reporter's report; in a cluster the other members
// replay it.
func (f *statusFeed) Report(serviceID, nodeID string, r status.Report) error {
	if f.cl != nil {
		return f.cl.Report(serviceID, nodeID, r)
	}
	return f.mon.Report(serviceID, nodeID, r)
}

// Flush removes a reported replica.
func (f *statusFeed) Flush(serviceID, nodeID, replicaID string) error {
	if f.cl != nil {
		return f.cl.Flush(serviceID, nodeID, replicaID)
	}
	return f.mon.Flush(serviceID, nodeID, replicaID)
}

// OnChange subscribes fn to every change of the status: each snapshot the
// monitor publishes on a single node, each decided one in a cluster (the
// leader's alone). fn must return quickly.
func (f *statusFeed) OnChange(fn func(prev, cur *status.Snapshot)) {
	f.changes = append(f.changes, fn)
}

// OnResult subscribes fn to every probe result of this member. fn must
// return quickly.
func (f *statusFeed) OnResult(fn func(status.Observation)) {
	f.results = append(f.results, fn)
}

// OnLeading subscribes fn to this member becoming the cluster's leader; a
// single node leads from the start, so fn is never called there.
func (f *statusFeed) OnLeading(fn func()) {
	if f.cl != nil {
		f.cl.OnLeading(fn)
	}
}

// acting reports whether this member acts on the status (alerts,
// deliveries): always on a single node, while leading in a cluster.
func (f *statusFeed) acting() bool {
	return f.cl == nil || f.cl.IsLeader()
}

// published is the monitor's hook: its snapshots are the status changes
// on a single node; in a cluster the decided ones are (changed).
func (f *statusFeed) published(prev, cur *status.Snapshot) {
	if f.cl == nil {
		f.changed(prev, cur)
	}
}

func (f *statusFeed) changed(prev, cur *status.Snapshot) {
	for _, fn := range f.changes {
		fn(prev, cur)
	}
}

func (f *statusFeed) observed(o status.Observation) {
	for _, fn := range f.results {
		fn(o)
	}
}
