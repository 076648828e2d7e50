package main

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/vigil-go/vigil/internal/statuspage"
	"github.com/vigil-go/vigil/internal/statuspage/statuspagetest"
)

// statuspageDocs fetches every Statuspage document from v, checking each
// against its schema.
func statuspageDocs(t *testing.T, v *running, schemas *statuspagetest.Validator) map[statuspage.Document]string {
	t.Helper()
	out := make(map[statuspage.Document]string)
	for _, d := range statuspage.Documents {
		res, err := http.Get(v.url + "api/v2/" + string(d))
		if err != nil {
			t.Fatal(err)
		}
		body, err := io.ReadAll(res.Body)
		res.Body.Close()
		if err != nil || res.StatusCode != http.StatusOK {
			t.Fatalf("GET /api/v2/%s = %d %s (%v)", d, res.StatusCode, body, err)
		}
		if err := schemas.Validate(d, body); err != nil {
			t.Errorf("GET /api/v2/%s: %v\n%s", d, err, body)
		}
		out[d] = string(body)
	}
	return out
}

// spSummary is what the test reads of summary.json and incidents.json.
type spSummary struct {
	Status     struct{ Indicator string }
	Components []struct{ ID, Name, Status string }
	Incidents  []struct {
		ID, Name, Status string
		Updates          []struct{ ID, Status, Body string } `json:"incident_updates"`
	}
}

func readSummary(t *testing.T, body string) spSummary {
	t.Helper()
	var s spSummary
	if err := json.Unmarshal([]byte(body), &s); err != nil {
		t.Fatalf("decode %s: %v", body, err)
	}
	return s
}

// TestStatuspageEndToEnd runs vigil on a real HTTP target that fails and
// recovers: the Statuspage documents follow the outage, its automatic
// incident never names the private replica URL, and every id is the same
// after a restart on the same SQLite file.
func TestStatuspageEndToEnd(t *testing.T) {
	var failing atomic.Bool
	target := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if failing.Load() {
			http.Error(w, "down for the test", http.StatusServiceUnavailable)
		}
	}))
	defer target.Close()
	replica := target.URL + "/secret-path?token=abc123"
	cfg := baseConfig(t, []string{replica}, "")
	schemas := statuspagetest.New(t)

	v := startVigil(t, cfg)
	var docs map[statuspage.Document]string
	lb := func() string {
		for _, c := range readSummary(t, docs[statuspage.DocSummary]).Components {
			if c.Name == "Load balancer" {
				return c.Status
			}
		}
		return ""
	}
	eventually(t, 30*time.Second, "the node operational", func() bool {
		docs = statuspageDocs(t, v, schemas)
		return lb() == "operational"
	})

	failing.Store(true)
	// The page's history is read every 10 s in the first minutes: the
	// automatic incident shows within that.
	eventually(t, 60*time.Second, "the node out, with its incident", func() bool {
		docs = statuspageDocs(t, v, schemas)
		return lb() == "major_outage" && len(readSummary(t, docs[statuspage.DocUnresolved]).Incidents) == 1
	})
	s := readSummary(t, docs[statuspage.DocSummary])
	if s.Status.Indicator != "critical" {
		t.Errorf("indicator with the only node out = %s, want critical", s.Status.Indicator)
	}
	in := readSummary(t, docs[statuspage.DocUnresolved]).Incidents[0]
	if in.Name != "Web: Load balancer is down" || in.Status != "investigating" || len(in.Updates) != 1 ||
		!strings.Contains(in.Updates[0].Body, "(hidden)") || !strings.Contains(in.Updates[0].Body, "503") {
		t.Errorf("automatic incident = %+v, want investigating, with the probe's reason and the replica hidden", in)
	}
	for d, body := range docs {
		for _, secret := range []string{"secret-path", "abc123", strings.TrimPrefix(target.URL, "http://")} {
			if strings.Contains(body, secret) {
				t.Errorf("%s names the replica (%q): %s", d, secret, body)
			}
		}
	}

	failing.Store(false)
	eventually(t, 60*time.Second, "the node back, its incident resolved", func() bool {
		docs = statuspageDocs(t, v, schemas)
		return lb() == "operational" && len(readSummary(t, docs[statuspage.DocUnresolved]).Incidents) == 0 &&
			len(readSummary(t, docs[statuspage.DocIncidents]).Incidents) == 1
	})
	resolved := readSummary(t, docs[statuspage.DocIncidents]).Incidents[0]
	if resolved.ID != in.ID || resolved.Status != "resolved" || len(resolved.Updates) != 2 || resolved.Updates[0].Status != "resolved" {
		t.Errorf("incident after the recovery = %+v, want %s resolved, its resolution first", resolved, in.ID)
	}

	ids := func(docs map[statuspage.Document]string) []string {
		var out []string
		for _, d := range []statuspage.Document{statuspage.DocComponents, statuspage.DocIncidents} {
			for _, m := range regexp.MustCompile(`"(?:id|page_id|group_id|incident_id)":"([a-z0-9]+)"`).FindAllStringSubmatch(docs[d], -1) {
				out = append(out, m[1])
			}
		}
		return out
	}
	before := ids(docs)
	v.stop(t)
	v = startVigil(t, cfg)
	after := ids(statuspageDocs(t, v, schemas))
	if len(before) < 8 || !slices.Equal(before, after) {
		t.Errorf("ids after a restart:\n%v\nwant the same as before:\n%v", after, before)
	}
}
