package monitor

import (
	"github.com/vigil-go/vigil/internal/probe"
	"github.com/vigil-go/vigil/internal/status"
)

// hold is a node's thresholds (failure_threshold, success_threshold): how
// many consecutive results must say a replica is unhealthy, or healthy
// again, before it shows so. Its zero value lets every result through, as
// Vigil does.
type hold struct {
	failures  int
	successes int
}

// apply decides what a replica shows after result res, given what it shows
// now (cur and its reason) and the change pending before res. Results on
// the same side (healthy, or sick and dead alike) add up; a result equal to
// what is shown clears the pending change.
func (h hold) apply(cur status.Health, reason string, p status.Pending, res probe.Result) (probe.Result, status.Pending) {
	if res.Health == cur {
		return res, status.Pending{}
	}
	need := max(h.failures, 1)
	if res.Health == status.Healthy {
		need = max(h.successes, 1)
	}
	count := 1
	if p.Count > 0 && (p.Health == status.Healthy) == (res.Health == status.Healthy) {
		count = p.Count + 1
	}
	if count >= need {
		return res, status.Pending{}
	}
	shown := res
	shown.Health, shown.Reason = cur, reason
	return shown, status.Pending{Health: res.Health, Count: count, Of: need, Reason: res.Reason}
}
