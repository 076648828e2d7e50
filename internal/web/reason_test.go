package web

import (
	"encoding/json"
	"html"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/vigil-go/vigil/internal/status"
	"github.com/vigil-go/vigil/internal/testkit"
)

// TestPublicReasons checks what the page and /status/report say about
// unhealthy replicas: on a node that hides replica names, the reason names
// the replica by its position and never its host, path, query or
// credentials; on a node that reveals them, the id is shown without its
// password.
func TestPublicReasons(t *testing.T) {
	hiddenURL := "https://ops:hunter2@api.internal:8443/v1/health?api_key=k3y-s3cret"
	revealed := "https://ops:hunter2@shop.example.com/"
	services := []status.Service{{ID: "web", Label: "Web", Nodes: []status.Node{
		{ID: "hidden", Label: "Hidden", Mode: status.Poll, Replicas: []status.Replica{
			{ID: "tcp://db.internal:5432", Health: status.Healthy},
			{ID: hiddenURL, Health: status.Dead,
				Reason: "GET https://ops:xxxxx@api.internal:8443/v1/health?api_key=k3y-s3cret: status 503, want 200–399 (3 attempts)"},
			{ID: "tcp://db.internal:5432", Health: status.Dead,
				Reason: "connect tcp db.internal:5432 (10.0.0.3:5432): connection refused"},
			{ID: "http://api.internal/", Health: status.Dead,
				Reason: "GET http://api.internal/: lookup api.internal on 127.0.0.53:53: no such host"},
			{ID: "http://10.0.0.9/", Health: status.Sick, Reason: "slow: 5.2s, sick from 5s"},
			{ID: "https://api.internal/", Health: status.Dead,
				Reason: "GET https://api.internal/: tls: failed to verify certificate: x509: certificate is valid for other.example, not api.internal"},
			{ID: "https://api.internal/start", Health: status.Dead,
				Reason: "GET https://api.internal/start: status 503 at https://login.corp.internal/sso?next=1, want 200–399"},
		}},
		{ID: "shown", Label: "Shown", Mode: status.Poll, RevealReplicaName: true, Replicas: []status.Replica{
			{ID: revealed, Health: status.Dead, Reason: "GET https://ops:xxxxx@shop.example.com/: status 500, want 200–399"},
		}},
		{ID: "push", Label: "Push", Mode: status.Push, Replicas: []status.Replica{
			{ID: "host-1", Health: status.Dead, Reason: "no report for 41s (reports every 20s)"},
		}},
	}}}
	src := &testkit.Source{}
	src.Set(services, testNow)
	ts := newTestServer(t, Options{Source: src})

	wantHidden := []string{
		"",
		"replica 2: status 503, want 200–399 (3 attempts)",
		"replica 3: connection refused",
		"replica 4: no such host",
		"replica 5: slow: 5.2s, sick from 5s",
		"replica 6: tls: failed to verify certificate: x509: certificate is valid for other.example, not (hidden)",
		"replica 7: status 503 at (hidden), want 200–399",
	}
	res := ts.get(t, "/status/report")
	var rep struct {
		Probes []struct {
			Nodes []struct {
				Reasons []string `json:"reasons"`
			} `json:"nodes"`
		} `json:"probes"`
	}
	if err := json.Unmarshal([]byte(res.body), &rep); err != nil {
		t.Fatal(err)
	}
	nodes := rep.Probes[0].Nodes
	if got := nodes[0].Reasons; !slices.Equal(got, wantHidden) {
		t.Errorf("reasons of a node hiding replica names =\n%q\nwant\n%q", got, wantHidden)
	}
	if got, want := nodes[1].Reasons, []string{"GET https://ops:xxxxx@shop.example.com/: status 500, want 200–399"}; !slices.Equal(got, want) {
		t.Errorf("reasons of a node revealing replica names = %q, want %q", got, want)
	}
	if got, want := nodes[2].Reasons, []string{"replica 1: no report for 41s (reports every 20s)"}; !slices.Equal(got, want) {
		t.Errorf("reasons of a push node = %q, want %q", got, want)
	}

	page := ts.get(t, "/")
	if page.code != http.StatusOK {
		t.Fatalf("GET / = %d", page.code)
	}
	body := html.UnescapeString(page.body)
	for _, want := range append(wantHidden[1:], "https://ops:xxxxx@shop.example.com/") {
		if !strings.Contains(body, want) {
			t.Errorf("page does not show %q", want)
		}
	}
	for _, secret := range []string{"hunter2", "api_key", "k3y-s3cret", "api.internal", "db.internal", "login.corp", "/v1/health", "10.0.0.3", "10.0.0.9"} {
		for what, text := range map[string]string{"page": body, "report": res.body} {
			if strings.Contains(text, secret) {
				t.Errorf("%s shows %q", what, secret)
			}
		}
	}
}
