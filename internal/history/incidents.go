package history

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/vigil-go/vigil/internal/status"
	"github.com/vigil-go/vigil/internal/store"
)

// incidentRef is an automatic incident of one node. id is 0 until the
// store has it.
type incidentRef struct {
	id     int64
	opened time.Time
}

// incidentOp is a queued incident write. Ops run in order, so a resolution
// never overtakes the opening it closes.
type incidentOp struct {
	ref     *incidentRef
	resolve bool
	node    string // "service:node"
	title   string // opening only
	at      time.Time
	text    string // the update written with it
}

// incidentFor opens an automatic incident when a node goes dead, and
// resolves it once the node is no longer dead. A node has at most one open
// automatic incident; one found open at start is continued. A node that was
// already dead is not given a new incident, so one that an operator resolved
// during the outage stays resolved.
func (r *Recorder) incidentFor(svc status.Service, node status.Node, changed bool, at time.Time) {
	key := svc.ID + ":" + node.ID
	ref, open := r.incidents[key]
	switch {
	case node.Health == status.Dead && changed && !open:
		ref = &incidentRef{opened: at}
		r.incidents[key] = ref
		r.pending.incident = append(r.pending.incident, incidentOp{
			ref: ref, node: key, at: at,
			title: fmt.Sprintf("%s: %s is down", svc.Label, node.Label),
			text:  store.StorableText(nodeReason(node)),
		})
	case node.Health != status.Dead && open:
		// Also when the recovery was recorded but vigil stopped before
		// resolving the incident.
		r.resolve(key, ref, at, fmt.Sprintf("%s is %s again after %s", node.Label, node.Health, at.Sub(ref.opened).Round(time.Second)))
	}
}

func (r *Recorder) resolve(key string, ref *incidentRef, at time.Time, text string) {
	delete(r.incidents, key)
	if at.Before(ref.opened) {
		at = ref.opened
	}
	r.pending.incident = append(r.pending.incident, incidentOp{ref: ref, resolve: true, node: key, at: at, text: text})
}

// resolveRemoved resolves the open automatic incidents of nodes that are no
// longer configured: nothing would ever resolve them.
func (r *Recorder) resolveRemoved(s *status.Snapshot, at time.Time) {
	for key, ref := range r.incidents {
		svcID, nodeID, _ := strings.Cut(key, ":")
		if _, node := s.Find(svcID, nodeID); node == nil {
			r.resolve(key, ref, at, "the node was removed from the configuration")
		}
	}
}

// flushIncidents writes the queued incident ops in order, stopping at the
// first failure so that the rest is retried in order.
func (r *Recorder) flushIncidents(ctx context.Context) error {
	p := &r.pending
	for len(p.incident) > 0 {
		op := p.incident[0]
		if err := r.writeIncident(ctx, op); err != nil {
			return err
		}
		p.incident = p.incident[1:]
	}
	p.incident = nil
	return nil
}

func (r *Recorder) writeIncident(ctx context.Context, op incidentOp) error {
	if !op.resolve {
		in, err := r.st.OpenIncident(ctx, store.Incident{
			Title: op.title, Auto: true, Nodes: []string{op.node}, Opened: op.at,
			Updates: []store.IncidentUpdate{{Time: op.at, Status: "detected", Text: op.text}},
		})
		if errors.Is(err, store.ErrInvalid) {
			// Retrying would fail forever and hold back every later
			// incident; its resolution finds no incident and is skipped.
			r.log.Error("history: incident refused by the store; not opened", "node", op.node, "error", err)
			return nil
		}
		if err != nil {
			return err
		}
		op.ref.id = in.ID
		r.log.Info("incident opened", "id", in.ID, "node", op.node, "title", op.title)
		return nil
	}
	err := r.st.ResolveIncident(ctx, op.ref.id, op.at)
	switch {
	case errors.Is(err, store.ErrConflict), errors.Is(err, store.ErrNotFound):
		// An operator resolved or deleted it meanwhile: nothing left to do.
		r.log.Info("incident already closed by an operator", "id", op.ref.id, "node", op.node)
		return nil
	case errors.Is(err, store.ErrInvalid):
		r.log.Error("incident not resolved", "id", op.ref.id, "node", op.node, "error", err)
		return nil
	case err != nil:
		return err
	}
	r.log.Info("incident resolved", "id", op.ref.id, "node", op.node, "duration", op.at.Sub(op.ref.opened).Round(time.Second))
	if _, err := r.st.AddIncidentUpdate(ctx, op.ref.id, store.IncidentUpdate{Time: op.at, Status: "resolved", Text: op.text}); err != nil {
		// The incident is resolved; only its closing note is missing.
		r.log.Error("incident resolved without its note", "id", op.ref.id, "error", err)
	}
	return nil
}
