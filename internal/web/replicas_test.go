package web

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/vigil-go/vigil/internal/status"
	"github.com/vigil-go/vigil/internal/testkit"
)

// TestReplicaBoxesGolden pins the markup of the replica boxes and their
// tooltips for every kind of node and every detail a replica can carry,
// with text that must be escaped. The golden file is the page's contract
// with index.js, the stylesheet and custom themes' expectations; rewrite it
// with -update only for a deliberate change of markup.
func TestReplicaBoxesGolden(t *testing.T) {
	odd := `<b>"x" & 'y' + z</b>`
	yesterday := testNow.Add(-30 * time.Hour)
	services := []status.Service{{ID: "web & co", Label: "Web", Nodes: []status.Node{
		{ID: "poll", Label: "Poll", Mode: status.Poll, RevealReplicaName: true, Replicas: []status.Replica{
			{ID: "http://a/?q=1&r=" + odd, Health: status.Healthy, HasLatency: true, Latency: 0, Checked: testNow},
			{ID: "tcp://b:80", Health: status.Dead, Reason: "refused: " + odd, HasLatency: true, Latency: 1500 * time.Millisecond, Checked: testNow,
				Pending: status.Pending{Health: status.Healthy, Count: 1, Of: 2}},
			{ID: "icmp://c", Health: status.Healthy, Checked: testNow, Views: []status.View{
				{Label: "eu", Health: status.Healthy}, {Label: "us <1>", Health: status.Dead, Reason: "timeout"}}},
		}},
		{ID: "hidden", Label: "Hidden", Mode: status.Poll, Replicas: []status.Replica{
			{ID: "http://secret/", Health: status.Sick, Reason: "slow", HasLatency: true, Latency: 42 * time.Millisecond, Checked: testNow},
		}},
		{ID: "push", Label: "Push", Mode: status.Push, RevealReplicaName: true, Replicas: []status.Replica{
			{ID: "host-1", Health: status.Healthy, Checked: testNow.Add(-time.Minute), Load: &status.Load{CPU: 0.423, RAM: 0.5}},
			{ID: "host-2", Health: status.Sick, Reason: "CPU load 1.20 above 0.99", Checked: yesterday,
				Load: &status.Load{CPU: 1.2, RAM: 0.1}, Queue: &status.Queue{Ready: 7, Unacked: 3}},
			{ID: "host-3", Health: status.Dead, Reason: "no report", Queue: &status.Queue{}},
		}},
		{ID: "script", Label: "Script", Mode: status.Script, Replicas: []status.Replica{
			{ID: "check.sh", Health: status.Healthy, Checked: testNow},
		}},
		{ID: "local", Label: "Local", Mode: status.Local, RevealReplicaName: true, Replicas: []status.Replica{
			{ID: "disk", Health: status.Healthy, Checked: testNow},
		}},
		{ID: "empty-push", Label: "Empty", Mode: status.Push},
		{ID: "empty-poll", Label: "Empty poll", Mode: status.Poll},
	}}}
	src := &testkit.Source{}
	src.Set(services, testNow)
	s, err := New(context.Background(), Options{Config: testConfig(t), Source: src, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	k := s.pageKey()
	k.now = testNow
	r := s.renderPage(k)
	if r.err != nil {
		t.Fatal(r.err)
	}
	var got bytes.Buffer
	for _, m := range nodeDiv.FindAll(r.body, -1) {
		got.Write(m)
		got.WriteByte('\n')
	}
	if n := bytes.Count(got.Bytes(), []byte(`class="node"`)); n != 7 {
		t.Fatalf("found %d node boxes in the page, want 7", n)
	}
	path := filepath.Join("testdata", "replicas.golden.html")
	if *update {
		if err := os.WriteFile(path, got.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got.Bytes(), want) {
		t.Errorf("replica boxes differ from %s (run with -update after a deliberate change):\n%s", path, firstDifference(string(want), got.String()))
	}
}

// nodeDiv matches a node's box of replicas: no div nests inside it.
var nodeDiv = regexp.MustCompile(`(?s)<div class="node">.*?</div>`)

// firstDifference shows the first line where got departs from want.
func firstDifference(want, got string) string {
	w, g := strings.Split(want, "\n"), strings.Split(got, "\n")
	for i := range max(len(w), len(g)) {
		var wl, gl string
		if i < len(w) {
			wl = w[i]
		}
		if i < len(g) {
			gl = g[i]
		}
		if wl != gl {
			return fmt.Sprintf("line %d:\nwant %q\ngot  %q", i+1, wl, gl)
		}
	}
	return "same lines"
}
