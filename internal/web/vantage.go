package web

import "github.com/vigil-go/vigil/internal/status"

// reportVantage is how one vantage point of a cluster sees a replica, in
// /status/report: the member's label and the status it last observed. The
// member's own reason is left out: it names the target, which a node that
// hides its replica names keeps private (the decided reason, redacted, is
// in reasons).
type reportVantage struct {
	Label  string        `json:"label"`
	Status status.Health `json:"status"`
}

// reportVantages is a node's "vantages" in /status/report: for each replica
// (same positions as replicas), how each vantage point sees it, by label;
// an empty list for a replica no vantage point observed freshly (push and
// local replicas report themselves). nil, so the field is left out, for a
// node no vantage point observed: outside cluster mode the report is
// Vigil's.
func reportVantages(node *status.Node) [][]reportVantage {
	observed := false
	for i := range node.Replicas {
		observed = observed || len(node.Replicas[i].Views) > 0
	}
	if !observed {
		return nil
	}
	out := make([][]reportVantage, len(node.Replicas))
	for i := range node.Replicas {
		vs := make([]reportVantage, 0, len(node.Replicas[i].Views))
		for _, v := range node.Replicas[i].Views {
			vs = append(vs, reportVantage{Label: v.Label, Status: v.Health})
		}
		out[i] = vs
	}
	return out
}
