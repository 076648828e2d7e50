package monitor

import (
	"fmt"
	"time"

	"github.com/vigil-go/vigil/internal/status"
)

// RestoredReplica is a push or local replica as it was last saved, to be
// re-created at start so that it survives a restart.
type RestoredReplica struct {
	Service, Node, Replica string
	Mode                   status.Mode
	Interval               time.Duration // how often it promised to report
	LastReport             time.Time
	Load                   *status.Load // push replicas; nil when unknown
	// Health is the health Vigil Local reported (local replicas); for push
	// replicas it is recomputed from the load and the silence anyway.
	Health status.Health
	Reason string
}

// Restore re-creates push and local replicas from their last report, before
// Run. Their health is then computed as if vigil had never stopped: a replica
// silent through the restart goes dead interval + push_delay_dead (or
// local_delay_dead) after its last report, not after the restart, and one
// that reports again stays healthy.
//
// A replica whose node is gone from the config, or is no longer of the
// replica's mode, is skipped and returned with the reason, so the caller can
// log it and forget it. A replica that already exists (it reported before
// Restore was called) is left as it is.
func (m *Monitor) Restore(replicas []RestoredReplica) (restored int, skipped []error) {
	m.mu.Lock()
	for _, r := range replicas {
		id := status.DeadID(r.Service, r.Node, r.Replica)
		ref, ok := m.nodes[[2]string{r.Service, r.Node}]
		if !ok {
			skipped = append(skipped, fmt.Errorf("%s: %w", id, status.ErrUnknownNode))
			continue
		}
		node := &m.services[ref.service].Nodes[ref.node]
		if (r.Mode != status.Push && r.Mode != status.Local) || node.Mode != r.Mode {
			skipped = append(skipped, fmt.Errorf("%s: %w: a %s replica on a %s node", id, status.ErrWrongMode, r.Mode, node.Mode))
			continue
		}
		if r.Replica == "" || r.LastReport.IsZero() || r.Interval < 0 || r.Health > status.Dead {
			skipped = append(skipped, fmt.Errorf("%s: %w: incomplete saved replica", id, status.ErrBadReport))
			continue
		}
		if replicaIndex(node, r.Replica) >= 0 {
			continue
		}
		rep := status.Replica{
			ID:       r.Replica,
			Health:   r.Health,
			Reason:   r.Reason,
			Since:    r.LastReport,
			Checked:  r.LastReport,
			Interval: r.Interval,
		}
		if r.Mode == status.Push && r.Load != nil {
			load := *r.Load
			rep.Load = &load
		}
		d := m.addDynamic(ref, rep)
		if r.Mode == status.Local {
			d.reported = r.Health
		}
		restored++
	}
	m.mu.Unlock()

	if restored > 0 {
		// Show them at once, with their health at this instant.
		m.publish(m.now())
	}
	return restored, skipped
}
