package web

import (
	"context"
	"fmt"
	"log/slog"
	"testing"
	"time"

	"github.com/vigil-go/vigil/internal/status"
	"github.com/vigil-go/vigil/internal/testkit"
)

// BenchmarkRenderNodes1000 renders the page of one service of 1000 nodes
// with one HTTP replica each, the shape of many independent endpoints,
// where what each node adds (its label, state word and glyph) weighs most.
// It reports the page's size and its size per node.
//
//	go test -run '^$' -bench RenderNodes1000 -benchtime 20x -count 3 ./internal/web/
func BenchmarkRenderNodes1000(b *testing.B) {
	const nodes = 1000
	svc := status.Service{ID: "endpoints", Label: "Endpoints"}
	for i := range nodes {
		h := status.Healthy
		if i%50 == 0 {
			h = status.Dead
		}
		svc.Nodes = append(svc.Nodes, status.Node{
			ID: fmt.Sprintf("endpoint-%d", i), Label: fmt.Sprintf("Endpoint %d", i), Mode: status.Poll, Health: h,
			Replicas: []status.Replica{{ID: fmt.Sprintf("https://endpoint-%d.example.com/health", i), Health: h,
				Latency: time.Duration(i%40) * time.Millisecond, HasLatency: true, Checked: testNow}},
		})
	}
	src := &testkit.Source{}
	src.Set([]status.Service{svc}, testNow)
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
	b.ReportMetric(float64(size)/nodes, "bytes/node")
}
