package web

import "github.com/vigil-go/vigil/internal/status"

// A page of thousands of nodes stays usable on a phone: each service folds
// its nodes with <details> (which works without JavaScript), and on a big
// page the healthy ones start folded, leaving those with a problem in view.

// collapseAbove is the number of nodes above which the page folds its
// healthy services (pageData.CollapseHealthy).
const collapseAbove = 100

func nodeCount(snap *status.Snapshot) int {
	n := 0
	for _, svc := range snap.Services {
		n += len(svc.Nodes)
	}
	return n
}
