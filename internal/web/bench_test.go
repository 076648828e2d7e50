package web

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/vigil-go/vigil/internal/status"
	"github.com/vigil-go/vigil/internal/testkit"
)

// BenchmarkIndex measures the hot path of an outage: the page served from
// its cache, in full (plain and gzip) and as a 304.
func BenchmarkIndex(b *testing.B) {
	src := &testkit.Source{}
	src.Set(sampleServices(status.Dead), testNow)
	cfg := testConfig(b)
	s, err := New(context.Background(), Options{Config: cfg, Source: src, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		b.Fatal(err)
	}
	first := httptest.NewRecorder()
	s.ServeHTTP(first, httptest.NewRequest(http.MethodGet, "/", nil))
	etag := first.Header().Get("ETag")

	for _, bc := range []struct {
		name    string
		headers map[string]string
	}{
		{"plain", nil},
		{"gzip", map[string]string{"Accept-Encoding": "gzip, deflate, br"}},
		{"not-modified", map[string]string{"If-None-Match": etag}},
	} {
		b.Run(bc.name, func(b *testing.B) {
			req := httptest.NewRequest(http.MethodGet, "/", nil)
			for k, v := range bc.headers {
				req.Header.Set(k, v)
			}
			b.ReportAllocs()
			for b.Loop() {
				w := &discardWriter{header: http.Header{}}
				s.ServeHTTP(w, req)
			}
		})
	}
}

// discardWriter is a ResponseWriter that keeps nothing, so the benchmark
// measures the server rather than a recorder.
type discardWriter struct {
	header http.Header
}

func (w *discardWriter) Header() http.Header         { return w.header }
func (w *discardWriter) Write(b []byte) (int, error) { return io.Discard.Write(b) }
func (w *discardWriter) WriteHeader(int)             {}

// BenchmarkRender5000 measures rendering the page (template and gzip) for
// one node of 5000 HTTP replicas: what a state change costs a big fleet.
func BenchmarkRender5000(b *testing.B) {
	node := status.Node{ID: "api", Label: "API", Mode: status.Poll, Health: status.Healthy}
	for i := range 5000 {
		node.Replicas = append(node.Replicas, status.Replica{
			ID: fmt.Sprintf("http://10.0.%d.%d:8080/health", i/250, i%250), Health: status.Healthy,
			Latency: time.Duration(i%40) * time.Millisecond, HasLatency: true, Checked: testNow,
		})
	}
	svcs := []status.Service{{ID: "web", Label: "Web", Nodes: []status.Node{node}}}
	src := &testkit.Source{}
	src.Set(svcs, testNow)
	s, err := New(context.Background(), Options{Config: testConfig(b), Source: src, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		b.Fatal(err)
	}
	var size int
	b.ReportAllocs()
	for b.Loop() {
		r := s.renderPage(s.pageKey())
		size = len(r.body)
	}
	b.ReportMetric(float64(size), "page-bytes")
}
