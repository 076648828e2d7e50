package monitor

import (
	"github.com/vigil-go/vigil/internal/config"
	"github.com/vigil-go/vigil/internal/status"
)

// replicaKey names a poll or script replica across configs: a reload keeps
// the state and the probe task of a replica whose key it still finds.
type replicaKey struct {
	service, node, replica string
	mode                   status.Mode
}

// slot is where a probe task records its results. Apply moves it when the
// replica's place in the tree changes, and marks it gone when the replica
// is removed, so that a check in flight during a reload lands in the right
// replica or nowhere. Guarded by Monitor.mu.
type slot struct {
	ref  replicaRef
	gone bool
}

// scheduled is the probe task of one poll or script replica.
type scheduled struct {
	slot  *slot
	task  *task
	sched *scheduler
}

// Applied counts what Apply did, for the reload's log line.
type Applied struct {
	Started, Stopped, Kept int // poll and script replicas' probe tasks
}

// Apply switches the monitor to cfg, a validated config, while it runs,
// without losing what it knows:
//
//   - a replica in both configs (same service, node, mode and id) keeps its
//     status, its pending threshold count, and its place in the schedule;
//     its probe takes the new settings from its next check, and a new
//     interval counts from when its last check was due;
//   - push and local nodes keep their replicas, last reports and queue
//     checks;
//   - a new poll or script replica starts probing, its first check spread
//     over its first interval;
//   - a removed replica stops: a check in flight finishes and its result is
//     dropped. Its history stays in the store.
//
// The new tree is published at once. [metrics] poll_parallelism and
// script_parallelism keep the values the monitor was built with.
func (m *Monitor) Apply(cfg *config.Config) Applied {
	t := m.build(cfg)
	now := m.now()
	var done Applied

	m.mu.Lock()
	// Carry the state of every replica over to the new tree.
	dynamic := map[nodeRef]map[string]*dynamicReplica{}
	queues := map[nodeRef]*queueState{}
	for si := range t.services {
		svc := &t.services[si]
		for ni := range svc.Nodes {
			node := &svc.Nodes[ni]
			oldRef, ok := m.nodes[[2]string{svc.ID, node.ID}]
			if !ok {
				continue
			}
			old := &m.services[oldRef.service].Nodes[oldRef.node]
			if old.Mode != node.Mode {
				continue // a different kind of node under the same id: starts afresh
			}
			ref := nodeRef{si, ni}
			switch node.Mode {
			case status.Push, status.Local:
				node.Replicas = old.Replicas
				if d := m.dynamic[oldRef]; d != nil {
					dynamic[ref] = d
				}
				if q := m.queues[oldRef]; q != nil && t.queueCheckers[ref] != nil {
					queues[ref] = q
				}
			default:
				for ri := range node.Replicas {
					if i := replicaIndex(old, node.Replicas[ri].ID); i >= 0 {
						node.Replicas[ri] = old.Replicas[i]
					}
				}
			}
		}
	}
	m.services, m.nodes, m.holds, m.queueCheckers = t.services, t.nodes, t.holds, t.queueCheckers
	m.dynamic, m.queues = dynamic, queues
	m.cfg.Store(cfg)

	// Keep, retune, start and stop the probe tasks.
	var fresh []job
	keep := map[replicaKey]bool{}
	for _, j := range t.jobs {
		keep[j.key] = true
		sc, ok := m.tasks[j.key]
		if !ok {
			fresh = append(fresh, j)
			continue
		}
		sc.slot.ref = j.ref
		sc.sched.update(sc.task, m.checker(sc.slot, j.prober), j.interval)
		done.Kept++
	}
	for key, sc := range m.tasks {
		if !keep[key] {
			sc.slot.gone = true
			sc.sched.remove(sc.task)
			delete(m.tasks, key)
			done.Stopped++
		}
	}
	m.schedule(fresh, now)
	done.Started = len(fresh)
	m.mu.Unlock()

	m.publish(m.now())
	return done
}
