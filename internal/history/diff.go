package history

import (
	"fmt"
	"strings"
	"time"

	"github.com/vigil-go/vigil/internal/status"
	"github.com/vigil-go/vigil/internal/store"
)

// diff compares a snapshot with what was last recorded and queues the
// status changes, incident openings and resolutions, and push/local replica
// saves and deletions it implies.
//
// A replica never checked yet (every poll and script replica just after a
// start) shows "healthy" on the page but says nothing: it is skipped, and so
// is its node (and that node's service, and the page) until every replica of
// the node has a result. That is what keeps a restart from recording a dead
// node as recovered and then dead again.
func (r *Recorder) diff(s *status.Snapshot) {
	if s.Refreshed.IsZero() {
		return // the monitor's first snapshot, before any aggregation
	}
	at := s.Refreshed
	// At the first snapshot after a start, and after a config reload: the
	// open incidents of nodes no longer configured are resolved.
	r.resolveRemoved(s, at)
	pageKnown := true
	var worstServices []string
	for _, svc := range s.Services {
		serviceKnown := true
		var worstNodes []string
		for _, node := range svc.Nodes {
			nodeKnown := true
			for _, rep := range node.Replicas {
				if rep.Checked.IsZero() {
					nodeKnown = false
					continue
				}
				when := rep.Since
				if when.IsZero() || when.After(at) {
					when = at
				}
				reason := rep.Reason
				if rep.Health == status.Healthy {
					reason = ""
				}
				r.note(entity{store.LevelReplica, svc.ID, node.ID, rep.ID}, rep.Health, when, reason)
			}
			if node.Mode == status.Push || node.Mode == status.Local {
				r.persistReplicas(svc.ID, node)
			}
			if !nodeKnown {
				serviceKnown = false
				continue
			}
			changed := r.note(entity{store.LevelNode, svc.ID, node.ID, ""}, node.Health, at, nodeReason(node))
			r.incidentFor(svc, node, changed, at)
			if node.Health == svc.Health && node.Health != status.Healthy {
				worstNodes = append(worstNodes, node.Label)
			}
		}
		if !serviceKnown {
			pageKnown = false
			continue
		}
		reason := ""
		if len(worstNodes) > 0 {
			reason = strings.Join(worstNodes, ", ") + " " + svc.Health.String()
		}
		r.note(entity{store.LevelService, svc.ID, "", ""}, svc.Health, at, reason)
		if svc.Health == s.Health && svc.Health != status.Healthy {
			worstServices = append(worstServices, svc.Label+": "+reason)
		}
	}
	r.forgetReplicasGone(s)
	if pageKnown {
		r.note(entity{level: store.LevelGeneral}, s.Health, at, strings.Join(worstServices, "; "))
	}
}

// note queues a change when e's health differs from the last one recorded.
// The first status ever seen of e is recorded too (from equal to to): the
// uptime counts from it, and time before it is "no data".
func (r *Recorder) note(e entity, h status.Health, at time.Time, reason string) (changed bool) {
	prev, ok := r.known[e]
	if ok && prev == h {
		return false
	}
	if !ok {
		prev = h
	}
	r.known[e] = h
	r.pending.changes = append(r.pending.changes, store.Change{
		Time: at, Level: e.level, Service: e.service, Node: e.node, Replica: e.replica,
		From: prev, To: h, Reason: store.StorableText(reason),
	})
	return true
}

// nodeReason says why a node is not healthy, without naming its replicas
// (their names may be private: see reveal_replica_name).
func nodeReason(node status.Node) string {
	if node.Health == status.Healthy {
		return ""
	}
	var n int
	var first string
	for _, rep := range node.Replicas {
		if rep.Health == node.Health {
			if n == 0 {
				first = rep.Reason
			}
			n++
		}
	}
	reason := fmt.Sprintf("%d of %d replicas %s", n, len(node.Replicas), node.Health)
	if first != "" {
		reason += ": " + first
	}
	return reason
}

// persistReplicas queues a save of every push or local replica whose last
// report changed since it was saved. Several reports of one replica before
// a flush make one write.
func (r *Recorder) persistReplicas(service string, node status.Node) {
	for _, rep := range node.Replicas {
		k := replicaKey{service, node.ID, rep.ID}
		if rep.Checked.IsZero() {
			continue
		}
		if last, ok := r.saved[k]; ok && last.Equal(rep.Checked) {
			continue
		}
		r.saved[k] = rep.Checked
		delete(r.pending.deletes, k)
		r.pending.saves[k] = store.PushReplica{
			Service: service, Node: node.ID, Replica: rep.ID, Mode: node.Mode,
			Interval: rep.Interval, LastReport: rep.Checked, Load: rep.Load,
			Health: rep.Health, Reason: store.StorableText(rep.Reason),
		}
	}
}

// forgetReplicasGone queues the deletion of saved replicas that the
// snapshot no longer has: flushed, expired, or of a node no longer
// configured for reports.
func (r *Recorder) forgetReplicasGone(s *status.Snapshot) {
	if len(r.saved) == 0 {
		return
	}
	present := make(map[replicaKey]bool, len(r.saved))
	for _, svc := range s.Services {
		for _, node := range svc.Nodes {
			if node.Mode != status.Push && node.Mode != status.Local {
				continue
			}
			for _, rep := range node.Replicas {
				present[replicaKey{svc.ID, node.ID, rep.ID}] = true
			}
		}
	}
	for k := range r.saved {
		if !present[k] {
			delete(r.saved, k)
			delete(r.pending.saves, k)
			r.pending.deletes[k] = true
		}
	}
}
