package monitor

import (
	"fmt"
	"math"
	"slices"
	"time"

	"github.com/vigil-go/vigil/internal/status"
)

// dynamicReplica is what the monitor keeps about a push or local replica
// beyond what the page shows (its status.Replica holds the rest, the
// interval it promised included).
type dynamicReplica struct {
	reported status.Health // local replicas: the health Vigil Local saw
}

// addDynamic appends rep to the push or local node at ref and returns what
// the monitor keeps about it. m.mu must be held.
func (m *Monitor) addDynamic(ref nodeRef, rep status.Replica) *dynamicReplica {
	meta := m.dynamic[ref]
	if meta == nil {
		meta = map[string]*dynamicReplica{}
		m.dynamic[ref] = meta
	}
	d := &dynamicReplica{}
	meta[rep.ID] = d
	node := &m.services[ref.service].Nodes[ref.node]
	node.Replicas = append(node.Replicas, rep)
	return d
}

// nodeRef addresses a node in the tree.
type nodeRef struct{ service, node int }

// Report records a report for a push or local node. Vigil's rule: a report
// with Load goes to a push node (even when Health is also set), one with only
// Health to a local node.
func (m *Monitor) Report(serviceID, nodeID string, r status.Report) error {
	switch {
	case r.Replica == "":
		return fmt.Errorf("%w: replica must not be empty", status.ErrBadReport)
	case r.Interval < 0 || r.Interval > status.MaxReportInterval:
		return fmt.Errorf("%w: interval must be between 0 and %d seconds", status.ErrBadReport, int64(status.MaxReportInterval/time.Second))
	case r.Load != nil && (r.Load.CPU < 0 || r.Load.RAM < 0 || math.IsNaN(r.Load.CPU) || math.IsNaN(r.Load.RAM)):
		return fmt.Errorf("%w: load.cpu and load.ram must not be negative", status.ErrBadReport)
	case r.Load == nil && r.Health == nil:
		return fmt.Errorf("%w: a report needs load (push) or health (local)", status.ErrBadReport)
	case len(r.Replica) > m.cfg.Load().Server.ReporterReplicaIDMaxBytes:
		return fmt.Errorf("%w: replica id is %d bytes, longer than the %d of server.reporter_replica_id_max_bytes",
			status.ErrBadReport, len(r.Replica), m.cfg.Load().Server.ReporterReplicaIDMaxBytes)
	}
	want := status.Local
	if r.Load != nil {
		want = status.Push
	}

	now := m.now()
	m.mu.Lock()
	ref, ok := m.nodes[[2]string{serviceID, nodeID}]
	if !ok {
		m.mu.Unlock()
		return status.ErrUnknownNode
	}
	node := &m.services[ref.service].Nodes[ref.node]
	if node.Mode != want {
		m.mu.Unlock()
		return fmt.Errorf("%w: %s report sent to a %s node", status.ErrWrongMode, want, node.Mode)
	}
	d, known := m.dynamic[ref][r.Replica]
	if limit := m.cfg.Load().Server.ReporterReplicasPerNodeMax; !known && len(node.Replicas) >= limit {
		m.mu.Unlock()
		return fmt.Errorf("%w: %s:%s holds %d replicas, the most server.reporter_replicas_per_node_max allows; flush some or let push_replica_expire remove them",
			status.ErrTooManyReplicas, serviceID, nodeID, limit)
	}
	if !known {
		d = m.addDynamic(ref, status.Replica{ID: r.Replica, Since: now})
	}
	rep := &node.Replicas[replicaIndex(node, r.Replica)]
	rep.Checked, rep.Interval = now, r.Interval
	if r.Load != nil {
		load := *r.Load
		rep.Load = &load
	} else {
		d.reported = *r.Health
		rep.Load = nil
	}
	var queue queueRequest
	wantQueue := r.Load != nil && m.queueDue(ref, now, r.Interval, &queue)
	m.mu.Unlock()

	if !known {
		m.log.Info("replica reported for the first time", "replica", status.DeadID(serviceID, nodeID, r.Replica), "mode", want)
	}
	if wantQueue {
		m.requestQueueCheck(queue)
	}
	// A first report or a recovery must show without waiting for the tick.
	m.markDirty()
	return nil
}

// Flush removes a push or local replica, as a reporter does on a graceful
// shutdown.
func (m *Monitor) Flush(serviceID, nodeID, replicaID string) error {
	m.mu.Lock()
	ref, ok := m.nodes[[2]string{serviceID, nodeID}]
	if !ok {
		m.mu.Unlock()
		return status.ErrUnknownNode
	}
	node := &m.services[ref.service].Nodes[ref.node]
	if node.Mode != status.Push && node.Mode != status.Local {
		m.mu.Unlock()
		return fmt.Errorf("%w: only push and local replicas can be flushed, %s:%s is a %s node", status.ErrWrongMode, serviceID, nodeID, node.Mode)
	}
	i := replicaIndex(node, replicaID)
	if i < 0 {
		m.mu.Unlock()
		return status.ErrUnknownReplica
	}
	m.removeReplica(ref, i)
	m.mu.Unlock()

	m.log.Info("replica flushed", "replica", status.DeadID(serviceID, nodeID, replicaID))
	m.markDirty()
	return nil
}

// removeReplica drops the i-th replica of a dynamic node. m.mu must be held.
func (m *Monitor) removeReplica(ref nodeRef, i int) {
	node := &m.services[ref.service].Nodes[ref.node]
	delete(m.dynamic[ref], node.Replicas[i].ID)
	node.Replicas = slices.Delete(node.Replicas, i, i+1)
}

func replicaIndex(node *status.Node, id string) int {
	for i := range node.Replicas {
		if node.Replicas[i].ID == id {
			return i
		}
	}
	return -1
}

// refreshDynamic recomputes the health of every push and local replica at
// now, removes the ones silent for longer than push_replica_expire, and
// returns when the next replica would expire (zero if none). m.mu must be held.
func (m *Monitor) refreshDynamic(now time.Time) (next time.Time, changes []transition) {
	met := m.cfg.Load().Metrics
	expire := met.PushReplicaExpire.Duration()
	for ref, meta := range m.dynamic {
		svc := &m.services[ref.service]
		node := &svc.Nodes[ref.node]
		grace := met.PushDelayDead.Duration()
		if node.Mode == status.Local {
			grace = met.LocalDelayDead.Duration()
		}
		queue := m.queues[ref]
		for i := 0; i < len(node.Replicas); i++ {
			rep := &node.Replicas[i]
			d := meta[rep.ID]
			silent := now.Sub(rep.Checked)
			if expire > 0 && silent >= expire {
				m.log.Info("replica expired: no report", "replica", status.DeadID(svc.ID, node.ID, rep.ID),
					"silent", silent.Round(time.Second), "push_replica_expire", expire)
				m.removeReplica(ref, i)
				i--
				continue
			}
			deadline := rep.Checked.Add(rep.Interval + grace)
			health, reason := dynamicHealth(node.Mode, d, rep, queue, now, deadline, met.PushSystemCPUSickAbove, met.PushSystemRAMSickAbove)
			if health != status.Dead && (next.IsZero() || deadline.Before(next)) {
				next = deadline
			}
			if expire > 0 {
				if at := rep.Checked.Add(expire); next.IsZero() || at.Before(next) {
					next = at
				}
			}
			if queue != nil && queue.OK {
				rep.Queue = &status.Queue{Ready: queue.Ready, Unacked: queue.Unacked}
			} else {
				rep.Queue = nil
			}
			if health != rep.Health {
				changes = append(changes, transition{status.DeadID(svc.ID, node.ID, rep.ID), rep.Health, health, reason})
				rep.Since = now
			}
			rep.Health, rep.Reason = health, reason
		}
	}
	return next, changes
}

// dynamicHealth applies Vigil's rules to a push or local replica: dead when
// silent for interval + grace; a push replica is then sick above the CPU or
// RAM threshold, dead when its queue is stalled and sick when loaded.
func dynamicHealth(mode status.Mode, d *dynamicReplica, rep *status.Replica, queue *queueState, now, deadline time.Time, cpuAbove, ramAbove float64) (status.Health, string) {
	if !now.Before(deadline) {
		return status.Dead, fmt.Sprintf("no report for %s (reports every %s)",
			now.Sub(rep.Checked).Round(time.Second), rep.Interval)
	}
	if mode == status.Local {
		if d.reported == status.Healthy {
			return status.Healthy, ""
		}
		return d.reported, "reported " + d.reported.String() + " by Vigil Local"
	}
	if l := rep.Load; l != nil {
		if l.CPU > cpuAbove {
			return status.Sick, fmt.Sprintf("CPU load %.2f above %.2f", l.CPU, cpuAbove)
		}
		if l.RAM > ramAbove {
			return status.Sick, fmt.Sprintf("memory %.2f above %.2f", l.RAM, ramAbove)
		}
	}
	if queue != nil && queue.Stalled {
		return status.Dead, queue.Reason
	}
	if queue != nil && queue.Loaded {
		return status.Sick, queue.Reason
	}
	return status.Healthy, ""
}

// transition is a status change found while aggregating, logged after the
// lock is released.
type transition struct {
	replica  string
	from, to status.Health
	reason   string
}
