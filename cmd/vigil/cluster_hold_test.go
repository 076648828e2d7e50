package main

import (
	"strings"
	"testing"
	"time"
)

// TestClusterThresholds runs three members with confirmations = 2 and
// failure_threshold = 4 (poll every second): an outage seen by every
// vantage point for 1.5 s is held back (the quorum agrees for less than
// three intervals), and one that lasts is decided dead, no sooner than
// three intervals after the quorum first agreed, with one alert.
func TestClusterThresholds(t *testing.T) {
	if testing.Short() {
		t.Skip("starts PostgreSQL and three vigil processes")
	}
	tmpl := strings.Replace(clusterConfig, "poll_delay_sick = 1\n", "poll_delay_sick = 1\nfailure_threshold = 4\n", 1)
	pg, target, hook, members := startThreeMembers(t, tmpl)
	eventually(t, 20*time.Second, "three live members and a leader", func() bool {
		for _, m := range members {
			s, err := m.status()
			live := 0
			for _, x := range s.Members {
				if x.Live {
					live++
				}
			}
			if err != nil || s.Leader == "" || live != 3 {
				return false
			}
		}
		return pageStatus(members) == "healthy,healthy,healthy"
	})

	// A blip: dead from everywhere for 1.5 s.
	target.set("127.0.0.2", "127.0.0.3", "127.0.0.4")
	eventually(t, 10*time.Second, "dead observations from two members", func() bool {
		return queryString(t, pg.url(), `SELECT count(*) FROM cluster_observations WHERE health = 'dead'`) >= "2"
	})
	time.Sleep(1500 * time.Millisecond)
	target.set()
	time.Sleep(4 * time.Second)
	if got := transitions(t, pg.url()); len(got) != 0 {
		t.Fatalf("a blip shorter than the threshold flipped the status: transitions %v", got)
	}
	if got := pageStatus(members); got != "healthy,healthy,healthy" {
		t.Fatalf("pages after a blip: %s, want healthy everywhere", got)
	}

	// An outage that lasts.
	target.set("127.0.0.2", "127.0.0.3", "127.0.0.4")
	eventually(t, 10*time.Second, "dead observations from two members", func() bool {
		return queryString(t, pg.url(), `SELECT count(*) FROM cluster_observations WHERE health = 'dead'`) >= "2"
	})
	agreed := time.Now()
	eventually(t, 20*time.Second, "dead on every page", func() bool { return pageStatus(members) == "dead,dead,dead" })
	if held := time.Since(agreed); held < 3*time.Second {
		t.Errorf("decided dead %v after the quorum agreed, want at least three intervals (3 s)", held.Round(time.Millisecond))
	}
	if got := transitions(t, pg.url()); strings.Join(got, " ") != "healthy>dead" {
		t.Fatalf("transitions %v, want one healthy>dead", got)
	}
	hook.received(t, 1, 0)
}
