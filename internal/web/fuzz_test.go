package web

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/vigil-go/vigil/internal/config"
	"github.com/vigil-go/vigil/internal/monitor"
	"github.com/vigil-go/vigil/internal/status"
	"github.com/vigil-go/vigil/internal/store"
	"github.com/vigil-go/vigil/internal/testkit"
)

// checkAnswer fails unless an answer is a success or a 4xx with a reason
// (Vigil's empty 404 aside): never a 5xx, which a panic would be too.
func checkAnswer(t *testing.T, what string, rec *httptest.ResponseRecorder) {
	t.Helper()
	switch code := rec.Code; {
	case code >= 200 && code < 300:
	case code >= 400 && code < 500:
		if rec.Body.Len() == 0 && code != http.StatusNotFound && code != http.StatusMethodNotAllowed {
			t.Fatalf("%s = %d without a reason", what, code)
		}
	default:
		t.Fatalf("%s = %d %q, want a 2xx or a 4xx", what, code, rec.Body.String())
	}
}

// FuzzReport posts arbitrary bodies to the reporter API of a real monitor:
// every answer is 200 or a 4xx with a reason, never a 5xx (a panic is
// answered 500 by the server's recovery), and every replica accepted has an
// id the store can hold.
func FuzzReport(f *testing.F) {
	for _, seed := range []string{
		`{"replica": "a", "interval": 30, "load": {"cpu": 0.1, "ram": 0.2}}`,
		`{"replica": "a", "interval": 5.0, "health": "sick"}`,
		`{"replica": "", "interval": -1, "load": {"cpu": -1, "ram": 1e309}}`,
		`{"replica": "a", "interval": 1e30, "health": "dead", "load": null}`,
		`{"replica": "\u0000", "interval": "30"}`,
		`{"replica": "a\u0000", "interval": 30, "load": {"cpu": 0.1, "ram": 0.2}}`,
		`{"replica": "a\\u0000", "interval": 30, "load": {"cpu": 0.1, "ram": 0.2}}`,
		"{\"replica\": \"\xff\", \"interval\": 30, \"load\": {\"cpu\": 0.1, \"ram\": 0.2}}",
		`[]`, `null`, `{"replica": "a", "interval": 30, "load": {"cpu": NaN}}`,
	} {
		f.Add(seed, "app/workers")
		f.Add(seed, "app/edge")
	}
	f.Add(`{"replica": "a", "interval": 30, "health": "healthy"}`, "app/ed%00ge")
	cfg, _, err := config.Parse("test.cfg", []byte(fmt.Sprintf(reporterConfig, "")), nil)
	if err != nil {
		f.Fatal(err)
	}
	log := slog.New(slog.DiscardHandler)
	mon := monitor.New(monitor.Options{Config: cfg, Logger: log})
	site, err := New(context.Background(), Options{Config: cfg, Source: mon, Reporter: mon, Logger: log})
	if err != nil {
		f.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { mon.Run(ctx); close(done) }()
	f.Cleanup(func() { cancel(); <-done })

	f.Fuzz(func(t *testing.T, body, node string) {
		req := httptest.NewRequest(http.MethodPost, "/reporter/app/workers/", bytes.NewReader([]byte(body)))
		if u, err := req.URL.Parse("/reporter/" + node + "/"); err == nil {
			req.URL = u
		}
		req.Header.Set("Content-Type", "application/json")
		req.SetBasicAuth("", "reporter-secret")
		rec := httptest.NewRecorder()
		site.ServeHTTP(rec, req)
		checkAnswer(t, fmt.Sprintf("POST %s %q", req.URL.Path, body), rec)
		if rec.Code == http.StatusOK {
			for _, svc := range mon.Snapshot().Services {
				for _, n := range svc.Nodes {
					for _, r := range n.Replicas {
						if err := store.CheckText(r.ID); err != nil {
							t.Fatalf("POST %q accepted a replica id that %v: %q", body, err, r.ID)
						}
					}
				}
			}
		}
	})
}

// FuzzManager sends arbitrary requests to every manager route over a real
// SQLite store: every answer is a 2xx or a 4xx with a reason, never a 5xx
// (a store error, a panic), and what is stored is text the store can hold.
func FuzzManager(f *testing.F) {
	for _, r := range managerRouteList {
		f.Add(r.method, r.path, r.body)
	}
	for _, seed := range []struct{ method, path, body string }{
		{"POST", "/manager/announcement/", `{"title":"a\u0000","text":"b"}`},
		{"POST", "/manager/announcement/", "{\"title\":\"a\",\"text\":\"\xc3\"}"},
		{"DELETE", "/manager/announcement/%00/", ""},
		{"PUT", "/manager/announcement/%ff/", `{"title":"a","text":"b"}`},
		{"POST", "/manager/maintenance/", `{"start":"2031-03-04T09:00:00Z","end":"2031-03-04T10:00:00Z","targets":["web:api"],"message":"m"}`},
		{"POST", "/manager/maintenance/", `{"end":"2040-01-01T00:00:00Z","targets":["web:\u0000"]}`},
		{"POST", "/manager/incident/", `{"title":"t","nodes":["web:api"],"status":"x","text":"y"}`},
		{"POST", "/manager/incident/1/updates/", `{"status":"\u0000","text":"y"}`},
		{"PUT", "/manager/prober/alerts/ignored/", `{"reminders_seconds":65536}`},
	} {
		f.Add(seed.method, seed.path, seed.body)
	}
	st, err := store.Open(context.Background(), store.Config{Driver: store.SQLite, Path: f.TempDir() + "/vigil.db"})
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { st.Close() })
	cfg := testConfig(f)
	cfg.Server.ManagerToken = managerToken
	src := &testkit.Source{}
	src.Set(sampleServices(status.Dead), testNow)
	site, err := New(context.Background(), Options{Config: cfg, Source: src, Store: st, Logger: slog.New(slog.DiscardHandler), Now: func() time.Time { return testNow }})
	if err != nil {
		f.Fatal(err)
	}

	f.Fuzz(func(t *testing.T, method, path, body string) {
		if !strings.HasPrefix(path, "/manager/") {
			path = "/manager/" + path
		}
		req, err := http.NewRequest(method, "http://vigil"+path, strings.NewReader(body))
		if err != nil {
			return // not a request a client can send
		}
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Authorization", basic(managerToken))
		rec := httptest.NewRecorder()
		site.ServeHTTP(rec, req)
		checkAnswer(t, fmt.Sprintf("%s %s %q", method, path, body), rec)
	})
}

// FuzzMCP posts arbitrary JSON-RPC bodies to the MCP endpoint, with a live
// session's id or none (which may open a session): every answer is a 2xx
// or a 4xx, never a 5xx or a panic, and the sessions stay under the cap.
func FuzzMCP(f *testing.F) {
	for _, seed := range []string{
		`{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"c","version":"1"}}}`,
		`{"jsonrpc":"2.0","method":"notifications/initialized"}`,
		`{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"get_report","arguments":{}}}`,
		`{"jsonrpc":"2.0","id":3,"method":"tools/call","params":{"name":"get_report\u0000","arguments":[]}}`,
		`{"jsonrpc":"2.0","id":4,"method":"tools/list"}`,
		`[{"jsonrpc":"2.0","id":5,"method":"ping"}]`,
		`{"jsonrpc":"2.0","id":null}`, `{}`, `null`, "\xff",
	} {
		f.Add(seed, true)
		f.Add(seed, false)
	}
	const maxSessions = 8
	site := newMCPSite(f, maxSessions)
	f.Cleanup(site.CloseSessions)
	post := func(body, session string) *httptest.ResponseRecorder {
		req := httptest.NewRequest(http.MethodPost, "/mcp/probes", strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Accept", "application/json, text/event-stream")
		if session != "" {
			req.Header.Set(mcpSessionHeader, session)
		}
		rec := httptest.NewRecorder()
		site.ServeHTTP(rec, req)
		return rec
	}

	f.Fuzz(func(t *testing.T, body string, withSession bool) {
		session := ""
		if withSession {
			init := post(`{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"c","version":"1"}}}`, "")
			session = init.Header().Get(mcpSessionHeader)
			if session == "" {
				t.Fatalf("initialize = %d %q, no session", init.Code, init.Body.String())
			}
			post(`{"jsonrpc":"2.0","method":"notifications/initialized"}`, session)
		}
		rec := post(body, session)
		checkAnswer(t, fmt.Sprintf("POST /mcp/probes %q (session %v)", body, withSession), rec)
		n := 0
		for range site.mcpServer.Sessions() {
			n++
		}
		if n > maxSessions {
			t.Fatalf("%d MCP sessions open, over the cap of %d", n, maxSessions)
		}
	})
}
