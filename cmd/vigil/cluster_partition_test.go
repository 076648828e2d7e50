package main

import (
	"encoding/json"
	"fmt"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/vigil-go/vigil/internal/testkit/faultnet"
)

// clusterHeartbeat is clusterConfig's heartbeat_interval.
const clusterHeartbeat = time.Second

// TestClusterLeaderCutOff black-holes the leader's every connection to
// PostgreSQL (a relay that holds bytes and closes both ways: the server
// still sees them open, and the leader lock held) while an outage starts:
// another member leads within 2 × member_timeout + a heartbeat, the outage
// is alerted once, and when the network heals the former leader comes back
// as a follower, serving the decided status, without alerting again.
func TestClusterLeaderCutOff(t *testing.T) {
	if testing.Short() {
		t.Skip("starts PostgreSQL and three vigil processes")
	}
	pg := startPrivatePostgres(t)
	server := fmt.Sprintf("127.0.0.1:%d", pg.port)
	relay := faultnet.Start(t, server)
	viaRelay := strings.Replace(pg.url(), server, relay.Addr(), 1)
	target := &flakyTarget{}
	ts := httptest.NewServer(target)
	t.Cleanup(ts.Close)
	hook := &webhookSink{}
	hs := httptest.NewServer(hook)
	t.Cleanup(hs.Close)
	dir := t.TempDir()

	// The member behind the relay starts first, so that it leads.
	cutOff := &member{id: "n2", label: "eu-west", source: "127.0.0.2"}
	startMemberWith(t, clusterConfig, dir, viaRelay, ts.URL+"/", hs.URL+"/", cutOff)
	eventually(t, 20*time.Second, "n2 leads", func() bool {
		s, err := cutOff.status()
		return err == nil && s.Leader == "n2"
	})
	rest := []*member{
		{id: "n3", label: "us-east", source: "127.0.0.3"},
		{id: "n4", label: "us-west", source: "127.0.0.4"},
	}
	for _, m := range rest {
		startMemberWith(t, clusterConfig, dir, pg.url(), ts.URL+"/", hs.URL+"/", m)
	}
	all := append([]*member{cutOff}, rest...)
	eventually(t, 20*time.Second, "three live members led by n2", func() bool {
		for _, m := range all {
			s, err := m.status()
			if err != nil || s.Leader != "n2" || liveMembers(s) != 3 {
				return false
			}
		}
		return pageStatus(all) == "healthy,healthy,healthy"
	})

	// Cut n2 off; the outage starts at once, seen from every vantage point.
	relay.Set(faultnet.Partition)
	target.set("127.0.0.2", "127.0.0.3", "127.0.0.4")
	bound := 2*memberTimeout + clusterHeartbeat
	took := eventually(t, bound, "another member leads", func() bool {
		s, err := rest[0].status()
		return err == nil && s.Leader != "" && s.Leader != "n2"
	})
	t.Logf("a new leader %v after the leader was cut off (bound %v)", took, bound)
	eventually(t, 10*time.Second, "dead on the reachable members' pages", func() bool { return pageStatus(rest) == "dead,dead" })
	hook.received(t, 1, 0)
	if !strings.Contains(cutOff.output(), "stepping down: the database has not answered within member_timeout") {
		t.Error("n2 does not say it stopped leading")
	}
	// The report says how each live vantage point sees the replica.
	if got := vantages(t, rest[0]); got != "us-east:dead,us-west:dead" {
		t.Errorf("vantages during the partition: %s, want us-east:dead,us-west:dead", got)
	}

	// Healed: n2 is live again, a follower, and alerts nothing more.
	relay.Set(faultnet.Pass)
	eventually(t, 20*time.Second, "n2 live again, following", func() bool {
		s, err := rest[0].status()
		if err != nil || liveMembers(s) != 3 {
			return false
		}
		s2, err := cutOff.status()
		return err == nil && s2.Leader != "n2" && s2.Leader == s.Leader
	})
	eventually(t, 10*time.Second, "dead on every page", func() bool { return pageStatus(all) == "dead,dead,dead" })
	eventually(t, 10*time.Second, "n2's vantage in the report", func() bool {
		return vantages(t, cutOff) == "eu-west:dead,us-east:dead,us-west:dead"
	})
	hook.received(t, 1, 0)
	if n := strings.Count(cutOff.output(), "cluster: this member leads now"); n != 1 {
		t.Errorf("n2 took the lead %d times, want once (before the partition)", n)
	}
	if got := transitions(t, pg.url()); strings.Join(got, " ") != "healthy>dead" {
		t.Errorf("transitions %v, want one healthy>dead", got)
	}

	// And the cluster still decides and alerts once: the recovery.
	target.set()
	eventually(t, 10*time.Second, "healthy on every page", func() bool { return pageStatus(all) == "healthy,healthy,healthy" })
	hook.received(t, 1, 1)
}

func liveMembers(s clusterStatus) int {
	n := 0
	for _, m := range s.Members {
		if m.Live {
			n++
		}
	}
	return n
}

// vantages is the vantages of the first replica of the first node in m's
// /status/report, as "label:status,…".
func vantages(t *testing.T, m *member) string {
	t.Helper()
	var rep struct {
		Probes []struct {
			Nodes []struct {
				Vantages [][]struct{ Label, Status string } `json:"vantages"`
			} `json:"nodes"`
		} `json:"probes"`
	}
	body := m.get("status/report")
	if err := json.Unmarshal([]byte(body), &rep); err != nil {
		t.Fatalf("GET /status/report: %v: %s", err, body)
	}
	if len(rep.Probes) == 0 || len(rep.Probes[0].Nodes) == 0 || len(rep.Probes[0].Nodes[0].Vantages) == 0 {
		return ""
	}
	var out []string
	for _, v := range rep.Probes[0].Nodes[0].Vantages[0] {
		out = append(out, v.Label+":"+v.Status)
	}
	return strings.Join(out, ",")
}
