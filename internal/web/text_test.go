package web

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/vigil-go/vigil/internal/status"
	"github.com/vigil-go/vigil/internal/store"
	"github.com/vigil-go/vigil/internal/store/storetest"
)

// TestReporterRefusesBadText: a NUL byte or invalid UTF-8 in any text of a
// report, or in an id of the path, is a 400 with the reason, and no replica
// is created. Before, the NUL id was accepted, and on PostgreSQL every
// history write failed from then on.
func TestReporterRefusesBadText(t *testing.T) {
	rs := newReporterServer(t, "")
	for _, tt := range []struct{ path, body, reason string }{
		{"/reporter/app/workers/", `{"replica":"a\u0000b","interval":30,"load":{"cpu":0.1,"ram":0.1}}`, "replica: holds a NUL byte\n"},
		{"/reporter/app/edge/", `{"replica":"a","interval":30,"health":"\u0000"}`, "health: holds a NUL byte\n"},
		{"/reporter/app/workers/", `{"replica":"a","interval":30,"load":{"cpu":0.1,"ram":0.1,"x\u0000":1}}`, "load: a key holds a NUL byte\n"},
		{"/reporter/app/workers/", "{\"replica\":\"a\xff\",\"interval\":30,\"load\":{\"cpu\":0.1,\"ram\":0.1}}", "body: not valid UTF-8\n"},
		{"/reporter/app/wor%00kers/", `{"replica":"a","interval":30,"load":{"cpu":0.1,"ram":0.1}}`, "path: holds a NUL byte\n"},
		{"/reporter/app/%FF/", `{"replica":"a","interval":30,"load":{"cpu":0.1,"ram":0.1}}`, "path: not valid UTF-8\n"},
	} {
		if got := rs.post(t, tt.path, tt.body); got.code != 400 || got.body != tt.reason {
			t.Errorf("POST %s %q = %d %q, want 400 %q", tt.path, tt.body, got.code, got.body, tt.reason)
		}
	}
	// An escaped backslash before u0000 is text, not a NUL.
	if got := rs.post(t, "/reporter/app/workers/", `{"replica":"a\\u0000","interval":30,"load":{"cpu":0.1,"ram":0.1}}`); got.code != 200 {
		t.Errorf(`replica "a\u0000" (a backslash, not a NUL) = %d %q, want 200`, got.code, got.body)
	}
	if got := rs.send(t, "DELETE", "/reporter/app/workers/a%00/", "", "", "", "reporter-secret"); got.code != 400 || got.body != "path: holds a NUL byte\n" {
		t.Errorf("DELETE of a NUL id = %d %q, want 400 with the reason", got.code, got.body)
	}
	node := rs.waitReplicas(t, "app", "workers", status.Healthy)
	if len(node.Replicas) != 1 || node.Replicas[0].ID != `a\u0000` {
		t.Errorf("replicas = %+v, want only the one sent with valid text", node.Replicas)
	}
}

// TestReporterBounds: a replica id longer than reporter_replica_id_max_bytes
// is a 400, a new replica on a node holding reporter_replicas_per_node_max
// is a 429, each with the reason; the node's replicas keep reporting.
func TestReporterBounds(t *testing.T) {
	rs := newReporterServerOf(t, strings.Replace(fmt.Sprintf(reporterConfig, ""), "[server]\n",
		"[server]\nreporter_replica_id_max_bytes = 8\nreporter_replicas_per_node_max = 2\n", 1))
	report := func(id string) reply {
		return rs.post(t, "/reporter/app/workers/", fmt.Sprintf(`{"replica":%q,"interval":30,"load":{"cpu":0.1,"ram":0.1}}`, id))
	}
	if got := report("123456789"); got.code != 400 || !strings.Contains(got.body, "replica id is 9 bytes, longer than the 8 of server.reporter_replica_id_max_bytes") {
		t.Errorf("a 9-byte id = %d %q, want 400 with the reason", got.code, got.body)
	}
	for _, id := range []string{"12345678", "b"} {
		if got := report(id); got.code != 200 {
			t.Fatalf("replica %s = %d %q, want 200", id, got.code, got.body)
		}
	}
	if got := report("c"); got.code != 429 || !strings.Contains(got.body, "app:workers holds 2 replicas, the most server.reporter_replicas_per_node_max allows") {
		t.Errorf("a third replica = %d %q, want 429 with the reason", got.code, got.body)
	}
	if got := report("b"); got.code != 200 {
		t.Errorf("a known replica at the bound = %d %q, want 200", got.code, got.body)
	}
	if got := rs.send(t, "DELETE", "/reporter/app/workers/b/", "", "", "", "reporter-secret"); got.code != 200 {
		t.Fatalf("flush = %d %q", got.code, got.body)
	}
	if got := report("c"); got.code != 200 {
		t.Errorf("a new replica after a flush = %d %q, want 200", got.code, got.body)
	}
}

// TestManagerRefusesBadText: on both stores, a NUL byte or invalid UTF-8 in
// any id, title, text, message, target or status of the manager API is a
// 400 with the reason, in the route's error format, and nothing is stored.
func TestManagerRefusesBadText(t *testing.T) {
	storetest.Backends(t, func(t *testing.T, fresh func(testing.TB) store.Config) {
		st := storetest.Open(t, fresh(t))
		ts := newManagerServer(t, st, Options{})
		id := postAnnouncement(t, ts, `{"title":"t","text":"x"}`)
		runSteps(t, ts, []step{
			{"POST", "/manager/announcement/", `{"title":"a\u0000","text":"b"}`, 400, "title: holds a NUL byte\n"},
			{"POST", "/manager/announcement/", "{\"title\":\"a\",\"text\":\"\xc3\"}", 400, "body: not valid UTF-8\n"},
			{"DELETE", "/manager/announcement/x%00/", "", 400, "path: holds a NUL byte\n"},
			{"PUT", "/manager/announcement/x%00/", `{"title":"a","text":"b"}`, 400, `{"error":"path: holds a NUL byte"}`},
			{"PUT", "/manager/announcement/" + id + "/", `{"title":"a","text":"\u0000"}`, 400, `{"error":"text: holds a NUL byte"}`},
			{"POST", "/manager/maintenance/", `{"end":"2040-01-01T00:00:00Z","message":"\u0000"}`, 400, `{"error":"message: holds a NUL byte"}`},
			{"POST", "/manager/maintenance/", `{"end":"2040-01-01T00:00:00Z","targets":["web\u0000"]}`, 400, `{"error":"targets: holds a NUL byte"}`},
			{"POST", "/manager/incident/", `{"title":"x","text":"a\u0000"}`, 400, `{"error":"text: holds a NUL byte"}`},
			{"POST", "/manager/incident/", `{"title":"x","status":"\u0000","text":"a"}`, 400, `{"error":"status: holds a NUL byte"}`},
			{"GET", "/manager/maintenances/", "", 200, `[]`},
			{"GET", "/manager/incidents/", "", 200, `[]`},
		})
		list, err := st.Announcements(context.Background())
		if err != nil || len(list) != 1 || list[0].Title != "t" {
			t.Errorf("announcements = %+v, %v; want only the valid one, unchanged", list, err)
		}
	})
}

// TestStoreErrorsKeepTheirMessage: a failing database is a 500 whose body
// never carries the database's message; the log has it.
func TestStoreErrorsKeepTheirMessage(t *testing.T) {
	st := openStore(t)
	ts := newManagerServer(t, st, Options{})
	st.Close()
	for _, r := range []struct{ method, path, body string }{
		{"POST", "/manager/announcement/", `{"title":"a","text":"b"}`},
		{"POST", "/manager/maintenance/", `{"end":"2040-01-01T00:00:00Z"}`},
		{"GET", "/manager/incidents/", ""},
	} {
		got := ts.manager(t, r.method, r.path, r.body)
		if got.code != 500 || strings.Contains(got.body, "sql") || strings.Contains(got.body, "closed") || !strings.Contains(got.body, "internal error") {
			t.Errorf("%s %s on a closed store = %d %q, want 500 without the database's message", r.method, r.path, got.code, got.body)
		}
	}
	if ts.logs.Count("level=ERROR", "database is closed") != 3 {
		t.Errorf("the log lacks the causes:\n%s", ts.logs)
	}
}
