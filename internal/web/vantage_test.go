package web

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/vigil-go/vigil/internal/status"
	"github.com/vigil-go/vigil/internal/testkit"
)

// TestReportVantages: in cluster mode /status/report says, per replica, how
// each vantage point sees it (what the page's tooltip says), without the
// members' own reasons, which name the target; a node no vantage point
// observed, and every node outside cluster mode, has no "vantages" at all.
func TestReportVantages(t *testing.T) {
	services := []status.Service{{ID: "web", Label: "Web", Nodes: []status.Node{
		{ID: "api", Label: "API", Mode: status.Poll, Health: status.Dead, Replicas: []status.Replica{
			{ID: "https://api.internal/health", Health: status.Dead, Reason: "status 500", Views: []status.View{
				{Label: "eu-west", Health: status.Dead, Reason: "GET https://api.internal/health: status 500"},
				{Label: "us-east", Health: status.Healthy},
				{Label: "us-west", Health: status.Dead, Reason: "GET https://api.internal/health: status 500"},
			}},
			{ID: "https://api2.internal/health", Health: status.Healthy}, // not observed freshly
		}},
		{ID: "push", Label: "Push", Mode: status.Push, Replicas: []status.Replica{{ID: "host-1", Health: status.Healthy}}},
	}}}
	src := &testkit.Source{}
	src.Set(services, testNow)
	ts := newTestServer(t, Options{Source: src})
	body := ts.get(t, "/status/report").body

	var rep struct {
		Probes []struct {
			Nodes []map[string]json.RawMessage `json:"nodes"`
		} `json:"probes"`
	}
	if err := json.Unmarshal([]byte(body), &rep); err != nil {
		t.Fatalf("report %s: %v", body, err)
	}
	nodes := rep.Probes[0].Nodes
	want := `[[{"label":"eu-west","status":"dead"},{"label":"us-east","status":"healthy"},{"label":"us-west","status":"dead"}],[]]`
	if got := string(nodes[0]["vantages"]); got != want {
		t.Errorf("vantages of the observed node = %s, want %s", got, want)
	}
	if v, ok := nodes[1]["vantages"]; ok {
		t.Errorf("a node no vantage point observed has vantages %s, want none", v)
	}
	if strings.Contains(body, "api.internal") {
		t.Errorf("the report names the hidden target: %s", body)
	}

	// Outside cluster mode: no vantages anywhere, Vigil's report.
	services[0].Nodes[0].Replicas[0].Views = nil
	src.Set(services, testNow)
	if body := ts.get(t, "/status/report").body; strings.Contains(body, "vantages") {
		t.Errorf("report without a cluster has vantages: %s", body)
	}
}
