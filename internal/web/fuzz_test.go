package web

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/vigil-go/vigil/internal/config"
	"github.com/vigil-go/vigil/internal/monitor"
)

// FuzzReport posts arbitrary bodies to the reporter API of a real monitor:
// every answer is 200 or a 4xx with a reason, never a 5xx (a panic is
// answered 500 by the server's recovery).
func FuzzReport(f *testing.F) {
	for _, seed := range []string{
		`{"replica": "a", "interval": 30, "load": {"cpu": 0.1, "ram": 0.2}}`,
		`{"replica": "a", "interval": 5.0, "health": "sick"}`,
		`{"replica": "", "interval": -1, "load": {"cpu": -1, "ram": 1e309}}`,
		`{"replica": "a", "interval": 1e30, "health": "dead", "load": null}`,
		`{"replica": "\u0000", "interval": "30"}`,
		`[]`, `null`, `{"replica": "a", "interval": 30, "load": {"cpu": NaN}}`,
	} {
		f.Add(seed, "app/workers")
		f.Add(seed, "app/edge")
	}
	cfg, _, err := config.Parse("test.cfg", []byte(fmt.Sprintf(reporterConfig, "")), nil)
	if err != nil {
		f.Fatal(err)
	}
	log := slog.New(slog.DiscardHandler)
	mon := monitor.New(monitor.Options{Config: cfg, Logger: log})
	site, err := New(Options{Config: cfg, Source: mon, Reporter: mon, Logger: log})
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
		switch code := rec.Code; {
		case code == http.StatusOK:
		case code >= 400 && code < 500:
			if rec.Body.Len() == 0 && code != http.StatusNotFound {
				t.Fatalf("POST %s %q = %d without a reason", req.URL.Path, body, code)
			}
		default:
			t.Fatalf("POST %s %q = %d %q, want 200 or a 4xx", req.URL.Path, body, code, rec.Body.String())
		}
	})
}
