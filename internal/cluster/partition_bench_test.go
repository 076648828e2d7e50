package cluster

import (
	"fmt"
	"testing"
	"time"

	"github.com/vigil-go/vigil/internal/testkit/faultnet"
)

// BenchmarkFailoverCutOff measures the time from the leader's connections
// being black-holed (nothing passes, nothing closes: PostgreSQL still sees
// the lock held) to another member leading, with heartbeat 1 s and member
// timeout 3 s, as BenchmarkFailover. Each member reaches the database
// through a relay of its own; after each round the network heals and the
// former leader stays a follower.
func BenchmarkFailoverCutOff(b *testing.B) {
	const heartbeat, timeout = time.Second, 3 * time.Second
	url := freshDatabase(b)
	relays := map[*Cluster]*faultnet.Relay{}
	var ms []*partMember
	for i := range 3 {
		relay, relayed := throughRelay(b, url)
		m := startPartMember(b, relayed, fmt.Sprintf("cut%d", i), heartbeat, timeout)
		relays[m.c] = relay
		ms = append(ms, m)
	}
	leader := func() *partMember {
		for _, m := range ms {
			if m.c.IsLeader() {
				return m
			}
		}
		return nil
	}
	var stepDowns, failovers []time.Duration
	for b.Loop() {
		waitUntil(b, "a leader, every member live", func() bool {
			l := leader()
			if l == nil {
				return false
			}
			live := 0
			for _, m := range l.c.Status().Members {
				if m.Live {
					live++
				}
			}
			return live == len(ms)
		})
		old := leader()
		relays[old.c].Set(faultnet.Partition)
		start := time.Now()
		stepDowns = append(stepDowns, waitUntil(b, "the cut-off leader steps down", func() bool { return !old.c.IsLeader() }))
		waitUntil(b, "a new leader", func() bool {
			l := leader()
			return l != nil && l != old
		})
		failovers = append(failovers, time.Since(start))
		relays[old.c].Set(faultnet.Pass)
	}
	report(b, "stepdown", stepDowns)
	report(b, "failover", failovers)
}
