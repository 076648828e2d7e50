package web

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/vigil-go/vigil/internal/status"
	"github.com/vigil-go/vigil/internal/statuspage"
	"github.com/vigil-go/vigil/internal/testkit"
)

// mixedFleet is one service of n nodes with one HTTP replica each: the shape of
// n independent endpoints. Every tenth node is sick, every hundredth dead.
func mixedFleet(n int) []status.Service {
	svc := status.Service{ID: "fleet", Label: "Fleet", Nodes: make([]status.Node, 0, n)}
	for i := range n {
		r := status.Replica{ID: fmt.Sprintf("http://10.%d.%d.%d/health", i>>16, i>>8&255, i&255),
			Health: status.Healthy, Checked: testNow, Since: testNow.Add(-1e9 * 3600)}
		switch {
		case i%100 == 0:
			r.Health, r.Reason = status.Dead, "HTTP 503"
		case i%10 == 0:
			r.Health, r.Reason = status.Sick, "slow"
		}
		svc.Nodes = append(svc.Nodes, status.Node{ID: fmt.Sprintf("node-%d", i), Label: fmt.Sprintf("Node %d", i),
			Mode: status.Poll, Replicas: []status.Replica{r}})
	}
	return []status.Service{svc}
}

// BenchmarkStatuspageSummary measures summary.json at 1000 and 5000 nodes:
// served from its cache (plain, gzip, 304), and built again after a new
// snapshot (build, encode, gzip: what each state change costs, once).
func BenchmarkStatuspageSummary(b *testing.B) {
	path := "/api/v2/" + string(statuspage.DocSummary)
	for _, n := range []int{1000, 5000} {
		src := &testkit.Source{}
		src.Set(mixedFleet(n), testNow)
		s, err := New(context.Background(), Options{Config: testConfig(b), Source: src, Logger: slog.New(slog.DiscardHandler)})
		if err != nil {
			b.Fatal(err)
		}
		first := httptest.NewRecorder()
		s.ServeHTTP(first, httptest.NewRequest(http.MethodGet, path, nil))
		if first.Code != http.StatusOK {
			b.Fatalf("GET %s = %d", path, first.Code)
		}
		size := first.Body.Len()
		zreq := httptest.NewRequest(http.MethodGet, path, nil)
		zreq.Header.Set("Accept-Encoding", "gzip")
		zipped := httptest.NewRecorder()
		s.ServeHTTP(zipped, zreq)
		zsize := zipped.Body.Len()
		for _, bc := range []struct {
			name    string
			headers map[string]string
		}{
			{"plain", nil},
			{"gzip", map[string]string{"Accept-Encoding": "gzip"}},
			{"not-modified", map[string]string{"If-None-Match": first.Header().Get("ETag")}},
		} {
			b.Run(fmt.Sprintf("nodes=%d/%s", n, bc.name), func(b *testing.B) {
				req := httptest.NewRequest(http.MethodGet, path, nil)
				for k, v := range bc.headers {
					req.Header.Set(k, v)
				}
				b.ReportAllocs()
				for b.Loop() {
					s.ServeHTTP(&discardWriter{header: http.Header{}}, req)
				}
				b.ReportMetric(float64(size), "body-bytes")
				b.ReportMetric(float64(zsize), "gzip-bytes")
			})
		}
		b.Run(fmt.Sprintf("nodes=%d/rebuild", n), func(b *testing.B) {
			req := httptest.NewRequest(http.MethodGet, path, nil)
			svcs := mixedFleet(n)
			b.ReportAllocs()
			for b.Loop() {
				src.Set(svcs, testNow) // a new version: the next request builds again
				s.ServeHTTP(&discardWriter{header: http.Header{}}, req)
			}
		})
	}
}
