package cluster

import (
	"sort"

	"github.com/vigil-go/vigil/internal/status"
)

// Key names a replica in the tree.
type Key struct{ Service, Node, Replica string }

// Observation is what one member last saw of one replica.
type Observation struct {
	Member  string
	Label   string
	Health  status.Health
	Reason  string
	AtMS    int64 // observation time on the database's clock
	Latency int64 // milliseconds; -1 when unknown
}

// Decision is the status of a replica the cluster agreed on.
type Decision struct {
	Health  status.Health
	Reason  string
	SinceMS int64
	Version int64
}

// required is how many members must agree for a status to change:
// confirmations when set, otherwise a majority of the live members.
func required(confirmations, live int) int {
	if confirmations > 0 {
		return confirmations
	}
	return live/2 + 1
}

// decide returns the status a replica should have given its current decided
// health and the fresh observations of live members, and whether it changed.
//
// A worse status needs `need` members seeing it or worse; a better one needs
// `need` members seeing it or better. Until then the decided status stays,
// so one vantage point with a broken route neither raises nor clears an
// outage by itself. Worsening is checked first: confirmed trouble wins over
// a recovery that is confirmed at the same time (which needs more than
// 2×need observations to even happen).
func decide(cur status.Health, obs []Observation, need int) (status.Health, string, bool) {
	if need < 1 {
		need = 1
	}
	atLeast := func(h status.Health) (n int) {
		for _, o := range obs {
			if o.Health >= h {
				n++
			}
		}
		return n
	}
	atMost := func(h status.Health) (n int) {
		for _, o := range obs {
			if o.Health <= h {
				n++
			}
		}
		return n
	}
	for h := status.Dead; h > cur; h-- {
		if atLeast(h) >= need {
			return h, reasonFor(obs, h, true), true
		}
	}
	for h := status.Healthy; h < cur; h++ {
		if atMost(h) >= need {
			return h, reasonFor(obs, h, false), true
		}
	}
	return cur, "", false
}

// reasonFor picks the reason of a confirming observation, preferring one
// whose health is exactly h, in member order so every leader picks the same.
func reasonFor(obs []Observation, h status.Health, worse bool) string {
	if h == status.Healthy {
		return ""
	}
	sorted := append([]Observation(nil), obs...)
	sort.Slice(sorted, func(i, j int) bool { return sorted[i].Member < sorted[j].Member })
	for _, o := range sorted {
		if o.Health == h {
			return o.Reason
		}
	}
	for _, o := range sorted {
		if (worse && o.Health >= h) || (!worse && o.Health <= h) {
			return o.Reason
		}
	}
	return ""
}
